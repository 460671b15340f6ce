//! The `room_invites` table: invitations to a room, to one person by name
//! or as a link anyone holding it may use. A link's token is never stored,
//! only its SHA-256, so the table does not hold working links.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::error::{Code, Error, Result};
use crate::schema::{room_invites, rooms, users};

/// An invitation as stored (without the token).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = room_invites)]
pub struct Invite {
    pub id: i64,
    pub room_id: i64,
    pub inviter_id: Option<i64>,
    pub invitee_id: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A link's secret, as handed out (base64url of 32 random bytes).
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Invites `invitee_id`; a pending invitation of theirs to the room is
/// answered instead of a second one.
pub async fn invite_person(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    inviter_id: i64,
    invitee_id: i64,
) -> Result<Invite> {
    let inserted = diesel::insert_into(room_invites::table)
        .values((
            room_invites::room_id.eq(room_id),
            room_invites::inviter_id.eq(inviter_id),
            room_invites::invitee_id.eq(invitee_id),
        ))
        .on_conflict_do_nothing()
        .returning(Invite::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(invite) => Ok(invite),
        None => Ok(room_invites::table
            .filter(room_invites::room_id.eq(room_id))
            .filter(room_invites::invitee_id.eq(invitee_id))
            .filter(room_invites::revoked_at.is_null())
            .select(Invite::as_select())
            .first(conn)
            .await?),
    }
}

/// Creates a link invitation; returns it with the token to hand out.
pub async fn create_link(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    inviter_id: i64,
    expires_at: DateTime<Utc>,
    max_uses: Option<i32>,
) -> Result<(Invite, String)> {
    let token = new_token();
    let invite = diesel::insert_into(room_invites::table)
        .values((
            room_invites::room_id.eq(room_id),
            room_invites::inviter_id.eq(inviter_id),
            room_invites::token_hash.eq(hash(&token)),
            room_invites::expires_at.eq(expires_at),
            room_invites::max_uses.eq(max_uses),
        ))
        .returning(Invite::as_returning())
        .get_result(conn)
        .await?;
    Ok((invite, token))
}

/// The link invitation a token opens, revoked ones included (`None`: no
/// such link).
pub async fn by_token(conn: &mut AsyncPgConnection, token: &str) -> Result<Option<Invite>> {
    Ok(room_invites::table
        .filter(room_invites::token_hash.eq(hash(token)))
        .select(Invite::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Whether a link may still be used at `now`: 404 `not_found` when revoked
/// (as for an unknown link), 410 `invite_expired` or `invite_used_up`.
pub fn usable(invite: &Invite, now: DateTime<Utc>) -> Result<()> {
    if invite.revoked_at.is_some() {
        return Err(Error::NotFound(crate::error::Entity::Resource));
    }
    if invite.expires_at.is_some_and(|t| t <= now) {
        return Err(Error::Gone {
            code: Code::InviteExpired,
            message: "this invite link has expired; ask for a new one",
        });
    }
    if invite.max_uses.is_some_and(|max| invite.uses >= max) {
        return Err(Error::Gone {
            code: Code::InviteUsedUp,
            message: "this invite link has been used as many times as it allows",
        });
    }
    Ok(())
}

/// Counts one use of a link, if it is still usable: concurrent uses never
/// pass `max_uses`. False when it was used up (or expired, or revoked)
/// meanwhile.
pub async fn use_link(conn: &mut AsyncPgConnection, id: i64) -> Result<bool> {
    let updated = diesel::update(
        room_invites::table
            .filter(room_invites::id.eq(id))
            .filter(room_invites::revoked_at.is_null())
            .filter(
                room_invites::expires_at
                    .is_null()
                    .or(room_invites::expires_at.gt(diesel::dsl::now)),
            )
            .filter(
                room_invites::max_uses
                    .is_null()
                    .or(room_invites::uses.lt(room_invites::max_uses.assume_not_null())),
            ),
    )
    .set(room_invites::uses.eq(room_invites::uses + 1))
    .execute(conn)
    .await?;
    Ok(updated > 0)
}

/// Ends an invitation (a link, or one to a person: declined, accepted or
/// withdrawn). False when there was no such pending one in the room.
pub async fn revoke(conn: &mut AsyncPgConnection, room_id: i64, id: i64) -> Result<bool> {
    let updated = diesel::update(
        room_invites::table
            .filter(room_invites::id.eq(id))
            .filter(room_invites::room_id.eq(room_id))
            .filter(room_invites::revoked_at.is_null()),
    )
    .set(room_invites::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(updated > 0)
}

/// The pending invitation of `user_id` to a room, if any.
pub async fn pending_of(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
) -> Result<Option<Invite>> {
    Ok(room_invites::table
        .filter(room_invites::room_id.eq(room_id))
        .filter(room_invites::invitee_id.eq(user_id))
        .filter(room_invites::revoked_at.is_null())
        .select(Invite::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// An invitation waiting for its person's answer, as their sidebar shows it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub room_id: i64,
    pub room_name: String,
    pub inviter: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The invitations waiting for `user_id`'s answer, newest first.
pub async fn pending_for(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<Pending>> {
    type Row = (i64, i64, String, Option<String>, DateTime<Utc>);
    let rows: Vec<Row> = room_invites::table
        .inner_join(rooms::table)
        .left_join(users::table.on(users::id.nullable().eq(room_invites::inviter_id)))
        .filter(room_invites::invitee_id.eq(user_id))
        .filter(room_invites::revoked_at.is_null())
        .order(room_invites::id.desc())
        .limit(50)
        .select((
            room_invites::id,
            room_invites::room_id,
            rooms::name,
            users::username.nullable(),
            room_invites::created_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, room_id, room_name, inviter, created_at)| Pending {
            id,
            room_id,
            room_name,
            inviter,
            created_at,
        })
        .collect())
}

/// A room's invitations still pending or usable (links and people),
/// newest first, for its members page.
pub async fn open_in(conn: &mut AsyncPgConnection, room_id: i64) -> Result<Vec<Invite>> {
    Ok(room_invites::table
        .filter(room_invites::room_id.eq(room_id))
        .filter(room_invites::revoked_at.is_null())
        .order(room_invites::id.desc())
        .limit(100)
        .select(Invite::as_select())
        .load(conn)
        .await?)
}
