//! Invitations: to one person by name (they accept or decline from their
//! sidebar) or by link (a random token, expiring, revocable, with an
//! optional number of uses). Accepting makes one a member; a ban in force
//! keeps one out whichever way one comes.

use chrono::{DateTime, Utc};
use common::access::{self, Role, RoomFacts};
use common::error::{Code, Entity};
use common::guard;
use common::store::invites::{self, Invite, Pending};
use common::store::rooms::{self, RoomView};
use common::store::{members, users};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The longest a link may live (30 days) and the most uses it may allow.
pub const MAX_LINK_SECS: i64 = 30 * 24 * 3600;
/// The most uses a link may allow.
pub const MAX_LINK_USES: i64 = 1000;

/// Invites the account named `username` to a room `actor` is a member of.
pub async fn invite_person(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    username: &str,
) -> Result<Invite> {
    let mut conn = state.pool.get().await?;
    let (room, _) = guard::allowed(&mut conn, actor.user_id, room_id, access::may_invite).await?;
    let name = username.trim().trim_start_matches('@');
    let Some((_, (invitee, _))) = users::by_names(&mut conn, &[name.to_owned()])
        .await?
        .into_iter()
        .next()
    else {
        return Err(Error::invalid(
            "username",
            Code::UserNotFound,
            "there is no account with that name",
        ));
    };
    if invitee == actor.user_id {
        return Err(Error::invalid(
            "username",
            Code::SelfInvite,
            "you cannot invite yourself",
        ));
    }
    let standing = members::standing(&mut conn, room.id, invitee).await?;
    if standing.role.is_some() {
        return Err(Error::conflict(
            "username",
            Code::AlreadyMember,
            "that person is a member already",
        ));
    }
    if standing.ban_at(Utc::now()).is_some() {
        return Err(Error::Denied {
            code: Code::Banned,
            message: "that person is banned from this room",
        });
    }
    invites::invite_person(&mut conn, room.id, actor.user_id, invitee).await
}

/// Creates a link to the room (owner and moderators), valid for
/// `expires_in_secs` (60 s to 30 days) and `max_uses` times (1 to 1000;
/// absent: any). Returns it with its token.
pub async fn create_link(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    expires_in_secs: i64,
    max_uses: Option<i64>,
) -> Result<(Invite, String)> {
    if !(60..=MAX_LINK_SECS).contains(&expires_in_secs) {
        return Err(Error::invalid(
            "expires_in_secs",
            Code::BadDuration,
            "a link lives 60 seconds to 30 days",
        ));
    }
    if max_uses.is_some_and(|n| !(1..=MAX_LINK_USES).contains(&n)) {
        return Err(Error::invalid(
            "max_uses",
            Code::BadMaxUses,
            "a link allows 1 to 1000 uses, or any number when left out",
        ));
    }
    let mut conn = state.pool.get().await?;
    guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
    let expires_at = Utc::now() + chrono::Duration::seconds(expires_in_secs);
    invites::create_link(
        &mut conn,
        room_id,
        actor.user_id,
        expires_at,
        max_uses.map(|n| n as i32),
    )
    .await
}

/// Withdraws an invitation or link of a room (its moderators and owner).
pub async fn revoke(state: &AppState, actor: &Actor, room_id: i64, invite_id: i64) -> Result<()> {
    let mut conn = state.pool.get().await?;
    guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
    if invites::revoke(&mut conn, room_id, invite_id).await? {
        Ok(())
    } else {
        Err(Error::NotFound(Entity::Resource))
    }
}

/// The open invitations of a room, for its moderators.
pub async fn open_in(state: &AppState, actor: &Actor, room_id: i64) -> Result<Vec<Invite>> {
    let mut conn = state.pool.get().await?;
    guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
    invites::open_in(&mut conn, room_id).await
}

/// The invitations waiting for `actor`'s answer.
pub async fn pending(state: &AppState, actor: &Actor) -> Result<Vec<Pending>> {
    let mut conn = state.pool.get().await?;
    invites::pending_for(&mut conn, actor.user_id).await
}

/// Makes `actor` a member of the room `room` through an invitation, unless
/// banned. A member already is answered the room and uses nothing.
async fn admit(state: &AppState, actor: &Actor, room: &RoomFacts) -> Result<bool> {
    let mut conn = state.pool.get().await?;
    let standing = members::standing(&mut conn, room.id, actor.user_id).await?;
    if standing.role.is_some() || room.owner_id == Some(actor.user_id) {
        return Ok(false);
    }
    access::may_join(room, &standing, true, Utc::now())?;
    members::add(&mut conn, room.id, actor.user_id, Role::Member).await?;
    Ok(true)
}

/// Accepts `actor`'s invitation to a room.
pub async fn accept(state: &AppState, actor: &Actor, room_id: i64) -> Result<RoomView> {
    let (room, invite) = {
        let mut conn = state.pool.get().await?;
        let invite = invites::pending_of(&mut conn, room_id, actor.user_id)
            .await?
            .ok_or(Error::NotFound(Entity::Room))?;
        let room = rooms::facts(&mut conn, room_id)
            .await?
            .ok_or(Error::NotFound(Entity::Room))?;
        (room, invite)
    };
    if admit(state, actor, &room).await? {
        state
            .messenger
            .announce_membership(actor.user_id, room_id, true)
            .await;
    }
    let mut conn = state.pool.get().await?;
    invites::revoke(&mut conn, room_id, invite.id).await?;
    rooms::find(&mut conn, room_id).await
}

/// Declines `actor`'s invitation to a room.
pub async fn decline(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    let mut conn = state.pool.get().await?;
    let invite = invites::pending_of(&mut conn, room_id, actor.user_id)
        .await?
        .ok_or(Error::NotFound(Entity::Room))?;
    invites::revoke(&mut conn, room_id, invite.id).await?;
    Ok(())
}

/// What a link leads to, as its page shows it before one accepts: the
/// room's name and topic (who holds the link may know that much), or why
/// it no longer works.
pub struct LinkPreview {
    /// The room it leads to.
    pub room: RoomView,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the person is a member already.
    pub member: bool,
}

/// The link `token` opens: 404 unknown or revoked, 410 expired or used up.
pub async fn preview_link(state: &AppState, actor: &Actor, token: &str) -> Result<LinkPreview> {
    let mut conn = state.pool.get().await?;
    let invite = invites::by_token(&mut conn, token)
        .await?
        .ok_or(Error::NotFound(Entity::Resource))?;
    invites::usable(&invite, Utc::now())?;
    let room = rooms::find(&mut conn, invite.room_id).await?;
    let standing = members::standing(&mut conn, invite.room_id, actor.user_id).await?;
    Ok(LinkPreview {
        member: standing.role.is_some(),
        room,
        expires_at: invite.expires_at,
    })
}

/// Accepts a link: one use is counted (never past `max_uses`, however many
/// accept at once) and `actor` becomes a member.
pub async fn accept_link(state: &AppState, actor: &Actor, token: &str) -> Result<RoomView> {
    let (invite, room, standing) = {
        let mut conn = state.pool.get().await?;
        let invite = invites::by_token(&mut conn, token)
            .await?
            .ok_or(Error::NotFound(Entity::Resource))?;
        let room = rooms::facts(&mut conn, invite.room_id)
            .await?
            .ok_or(Error::NotFound(Entity::Resource))?;
        let standing = members::standing(&mut conn, room.id, actor.user_id).await?;
        (invite, room, standing)
    };
    // A member already is answered the room, whatever became of the link.
    if standing.role.is_none() && room.owner_id != Some(actor.user_id) {
        invites::usable(&invite, Utc::now())?;
        access::may_join(&room, &standing, true, Utc::now())?;
        let mut conn = state.pool.get().await?;
        if !invites::use_link(&mut conn, invite.id).await? {
            // Used up (or expired, or revoked) by someone else meanwhile.
            let again = invites::by_token(&mut conn, token)
                .await?
                .ok_or(Error::NotFound(Entity::Resource))?;
            invites::usable(&again, Utc::now())?;
            return Err(Error::Gone {
                code: Code::InviteUsedUp,
                message: "this invite link has been used as many times as it allows",
            });
        }
        drop(conn);
        if admit(state, actor, &room).await? {
            state
                .messenger
                .announce_membership(actor.user_id, room.id, true)
                .await;
        }
    }
    let mut conn = state.pool.get().await?;
    rooms::find(&mut conn, room.id).await
}
