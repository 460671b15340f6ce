//! The `room_members` table: who belongs to which room, with which role,
//! and how far they have read. Unread counts are never stored: they are
//! computed from the messages after the read mark ([`unread`]).

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use chrono::{DateTime, Utc};

use super::Fixed;
use super::sql::lower;
use crate::access::{Kind, Role, RoomFacts, Standing};
use crate::error::Result;
use crate::schema::{messages, room_bans, room_members, room_seqs, rooms};

/// Makes `user_id` a member of `room_id` with `role` (a member already
/// keeps their role and read mark).
pub async fn add(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    role: Role,
) -> Result<()> {
    diesel::insert_into(room_members::table)
        .values((
            room_members::room_id.eq(room_id),
            room_members::user_id.eq(user_id),
            room_members::role.eq(role.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// The rooms both `viewer` and `other` are members of, as `(id, name)` by
/// name ignoring case, at most `limit`: a profile's "rooms you share".
/// Being a member is what lets the viewer read a room, so no room shows
/// that the viewer could not open. Direct conversations are not rooms
/// here (they have no name; the sidebar lists them).
pub async fn shared_rooms(
    conn: &mut AsyncPgConnection,
    viewer: i64,
    other: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let of = |user: i64| {
        room_members::table
            .filter(room_members::user_id.eq(user))
            .select(room_members::room_id)
    };
    Ok(rooms::table
        .filter(rooms::id.eq_any(of(viewer)))
        .filter(rooms::id.eq_any(of(other)))
        .filter(rooms::kind.eq(Kind::Room.as_str()))
        .order((lower(rooms::name), rooms::id))
        .limit(limit)
        .select((rooms::id, rooms::name))
        .load(conn)
        .await?)
}

/// Ends a membership; true when there was one.
pub async fn remove(conn: &mut AsyncPgConnection, room_id: i64, user_id: i64) -> Result<bool> {
    let gone = diesel::delete(room_members::table.find((room_id, user_id)))
        .execute(conn)
        .await?;
    Ok(gone > 0)
}

/// A user's role in a room, or `None` if they are not a member.
pub async fn role(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
) -> Result<Option<Role>> {
    Ok(room_members::table
        .find((room_id, user_id))
        .select(room_members::role)
        .first::<String>(conn)
        .await
        .optional()?
        .map(|r| Role::parse(&r)))
}

/// The standing in a room of each of `users` (members or not): role,
/// mute, ban and last post, for the rules of who may post. Two look-ups
/// by primary key, whatever the number of users.
pub async fn standings(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    users: &[i64],
) -> Result<HashMap<i64, Standing>> {
    let mut out: HashMap<i64, Standing> = users
        .iter()
        .map(|&id| (id, Standing::outsider(id)))
        .collect();
    let rows: Vec<(i64, String, Option<DateTime<Utc>>)> = room_members::table
        .filter(room_members::room_id.eq(room_id))
        .filter(room_members::user_id.eq_any(users))
        .select((
            room_members::user_id,
            room_members::role,
            room_members::last_posted_at,
        ))
        .load(conn)
        .await?;
    for (user, role, last_posted_at) in rows {
        let s = out.entry(user).or_insert_with(|| Standing::outsider(user));
        s.role = Some(Role::parse(&role));
        s.last_posted_at = last_posted_at;
    }
    for (user, until) in super::mutes::of(conn, room_id, users).await? {
        out.entry(user)
            .or_insert_with(|| Standing::outsider(user))
            .muted_until = Some(until);
    }
    let bans: Vec<(i64, Option<DateTime<Utc>>)> = room_bans::table
        .filter(room_bans::room_id.eq(room_id))
        .filter(room_bans::user_id.eq_any(users))
        .select((room_bans::user_id, room_bans::until))
        .load(conn)
        .await?;
    for (user, until) in bans {
        out.entry(user)
            .or_insert_with(|| Standing::outsider(user))
            .banned = Some(until);
    }
    Ok(out)
}

/// The standing of each of `users` in `room`, as [`standings`], with
/// [`Standing::blocked_by_peer`] filled in for a DM of two: what the
/// writer checks a post against. Other rooms cost nothing more.
pub async fn standings_in(
    conn: &mut AsyncPgConnection,
    room: &RoomFacts,
    users: &[i64],
) -> Result<HashMap<i64, Standing>> {
    let mut out = standings(conn, room.id, users).await?;
    if room.kind == Kind::Dm {
        for user in blocked_by_peer(conn, room.id, users).await? {
            out.entry(user)
                .or_insert_with(|| Standing::outsider(user))
                .blocked_by_peer = true;
        }
    }
    Ok(out)
}

/// Those of `users` whom the other person of the DM `room_id` blocked,
/// when it is a DM of two (by its `dm_key`, so also after one left; a
/// group goes on whatever one of its people blocked). Empty for a room
/// that is not a DM.
pub async fn blocked_by_peer(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    users: &[i64],
) -> Result<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Blocked {
        #[diesel(sql_type = BigInt)]
        user_id: i64,
    }
    let rows: Vec<Blocked> = Fixed::new(
        "WITH p AS (SELECT $1::bigint AS room, $2::bigint[] AS users) \
         SELECT b.blocked_id AS user_id FROM p \
         JOIN rooms r ON r.id = p.room AND r.kind = 'dm' \
         CROSS JOIN LATERAL (SELECT string_to_array(r.dm_key, ',')::bigint[] AS people) k \
         JOIN user_blocks b ON b.blocked_id = ANY(p.users) \
           AND b.blocked_id = ANY(k.people) AND b.blocker_id = ANY(k.people) \
         WHERE cardinality(k.people) = 2",
    )
    .bind::<BigInt, _>(room_id)
    .bind::<Array<BigInt>, _>(users.to_vec())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|b| b.user_id).collect())
}

/// One person's standing in a room (see [`standings`]).
pub async fn standing(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
) -> Result<Standing> {
    Ok(standings(conn, room_id, &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_else(|| Standing::outsider(user_id)))
}

/// Notes that `users` posted in a room at `at` (what slow mode measures).
pub async fn note_posted(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    users: &[i64],
    at: DateTime<Utc>,
) -> Result<()> {
    diesel::update(
        room_members::table
            .filter(room_members::room_id.eq(room_id))
            .filter(room_members::user_id.eq_any(users)),
    )
    .set(room_members::last_posted_at.eq(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a member's role; false when they are not a member.
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    role: Role,
) -> Result<bool> {
    let changed = diesel::update(room_members::table.find((room_id, user_id)))
        .set(room_members::role.eq(role.as_str()))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// A room's members with their role, mute and when they joined, owner
/// first, then moderators, then by when they joined.
pub async fn list(conn: &mut AsyncPgConnection, room_id: i64) -> Result<Vec<MemberRow>> {
    use crate::schema::room_mutes;
    let mut rows: Vec<MemberRow> = room_members::table
        .inner_join(crate::schema::users::table)
        .left_join(
            room_mutes::table.on(room_mutes::room_id
                .eq(room_members::room_id)
                .and(room_mutes::user_id.eq(room_members::user_id))),
        )
        .filter(room_members::room_id.eq(room_id))
        .select((
            room_members::user_id,
            crate::schema::users::username,
            room_members::role,
            room_mutes::until.nullable(),
            room_members::joined_at,
        ))
        .load::<(i64, String, String, Option<DateTime<Utc>>, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(
            |(user_id, username, role, muted_until, joined_at)| MemberRow {
                user_id,
                username,
                role: Role::parse(&role),
                muted_until,
                joined_at,
            },
        )
        .collect();
    rows.sort_by_key(|m| (std::cmp::Reverse(m.role), m.joined_at, m.user_id));
    Ok(rows)
}

/// A member as a room's member list shows them.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub muted_until: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

/// The authors of room events, each with the seq of their newest event in
/// a room, as `(room_id, user_id, seq)`: they become members if they were
/// not, and their read marks move forward to that seq (what one writes,
/// one has read). One statement for a whole batch of rooms, in (room,
/// user) order; each pair at most once. Returns the `(room_id, user_id)`
/// pairs this made members.
pub async fn join_and_mark(
    conn: &mut AsyncPgConnection,
    marks: &[(i64, i64, i64)],
) -> Result<Vec<(i64, i64)>> {
    #[derive(QueryableByName)]
    struct Marked {
        #[diesel(sql_type = BigInt)]
        room_id: i64,
        #[diesel(sql_type = BigInt)]
        user_id: i64,
        #[diesel(sql_type = Bool)]
        joined: bool,
    }
    let mut marks = marks.to_vec();
    marks.sort_unstable();
    let column = |f: fn(&(i64, i64, i64)) -> i64| marks.iter().map(f).collect::<Vec<i64>>();
    // `xmax = 0` holds for a row this statement inserted, not one it updated.
    let outcome: Vec<Marked> = Fixed::new(
        "INSERT INTO room_members (room_id, user_id, last_read_seq) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) \
         ON CONFLICT (room_id, user_id) DO UPDATE \
           SET last_read_seq = GREATEST(room_members.last_read_seq, excluded.last_read_seq) \
         RETURNING room_id, user_id, xmax = 0 AS joined",
    )
    .bind::<Array<BigInt>, _>(column(|m| m.0))
    .bind::<Array<BigInt>, _>(column(|m| m.1))
    .bind::<Array<BigInt>, _>(column(|m| m.2))
    .load(conn)
    .await?;
    Ok(outcome
        .into_iter()
        .filter(|m| m.joined)
        .map(|m| (m.room_id, m.user_id))
        .collect())
}

/// Moves a member's read mark forward to `seq` (never back). Returns the
/// mark after the call, or `None` when the user is not a member.
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    seq: i64,
) -> Result<Option<i64>> {
    Ok(diesel::update(room_members::table.find((room_id, user_id)))
        .set(
            room_members::last_read_seq.eq(sql::<BigInt>("GREATEST(last_read_seq, ")
                .bind::<BigInt, _>(seq)
                .sql(")")),
        )
        .returning(room_members::last_read_seq)
        .get_result(conn)
        .await
        .optional()?)
}

/// The read mark of a member, or `None` if they are not one.
pub async fn last_read(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
) -> Result<Option<i64>> {
    Ok(room_members::table
        .find((room_id, user_id))
        .select(room_members::last_read_seq)
        .first(conn)
        .await
        .optional()?)
}

/// A member's view of one room: how far it got and how far they read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub room_id: i64,
    pub last_seq: i64,
    pub read_seq: i64,
    /// Messages by others after the read mark that are not deleted.
    pub unread: i64,
    /// Those of them that mention the member.
    pub mentions: i64,
}

/// Unread messages counted at most this far: a badge says "999+" beyond.
pub const UNREAD_CAP: i64 = 1000;

/// The unread state of `user_id` in each of `room_ids` they are a member of
/// (all their rooms when `room_ids` is `None`), computed from the messages
/// after the read mark, so it can never drift.
pub async fn unread(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_ids: Option<&[i64]>,
) -> Result<Vec<Unread>> {
    // One statement for all the rooms (a sidebar on every page): each count
    // walks the room's messages after the mark by (room_id, seq), capped.
    // Each placeholder once and in order, so the statement is prepared once
    // per connection: planning it was most of a page's time in Postgres.
    let rows: Vec<UnreadRow> = Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint[] AS rooms, $3::bigint AS cap) \
         SELECT m.room_id, s.last_seq, m.last_read_seq, \
           (SELECT count(*) FROM (SELECT 1 FROM messages x \
              WHERE x.room_id = m.room_id AND x.seq > m.last_read_seq \
                AND x.user_id <> p.uid AND x.deleted_at IS NULL \
              ORDER BY x.seq LIMIT p.cap) u) AS unread, \
           (SELECT count(*) FROM (SELECT 1 FROM messages x \
              WHERE x.room_id = m.room_id AND x.seq > m.last_read_seq \
                AND x.user_id <> p.uid AND x.deleted_at IS NULL AND p.uid = ANY(x.mentions) \
              ORDER BY x.seq LIMIT p.cap) n) AS mentions \
         FROM p, room_members m JOIN room_seqs s ON s.room_id = m.room_id \
         WHERE m.user_id = p.uid AND (p.rooms IS NULL OR m.room_id = ANY(p.rooms))",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Nullable<Array<BigInt>>, _>(room_ids.map(<[i64]>::to_vec))
    .bind::<BigInt, _>(UNREAD_CAP)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Unread {
            room_id: r.room_id,
            last_seq: r.last_seq,
            read_seq: r.last_read_seq,
            unread: r.unread,
            mentions: r.mentions,
        })
        .collect())
}

/// A row of [`unread`]'s statement.
#[derive(QueryableByName)]
struct UnreadRow {
    #[diesel(sql_type = BigInt)]
    room_id: i64,
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
    #[diesel(sql_type = BigInt)]
    last_read_seq: i64,
    #[diesel(sql_type = BigInt)]
    unread: i64,
    #[diesel(sql_type = BigInt)]
    mentions: i64,
}

/// The newest messages of a room that [`unread_of_members`] reads in one
/// query for all its members.
const SHARED_SCAN: i64 = 10_000;

/// The unread state of one room for those of `users` who are its members:
/// what a chat instance tells the connections that follow the room. One
/// query reads the room's newest messages after the oldest read mark, and
/// each member's counts come from it in memory, so the cost grows with the
/// members plus the messages, not their product. Only a member whose read
/// mark lies beyond that scan and who wrote nearly all of it is counted
/// with a query of their own.
pub async fn unread_of_members(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    users: &[i64],
) -> Result<Vec<(i64, Unread)>> {
    let marks: Vec<(i64, i64, i64, i64)> = marks()
        .filter(room_members::room_id.eq(room_id))
        .filter(room_members::user_id.eq_any(users))
        .load(conn)
        .await?;
    let Some(oldest_mark) = marks.iter().map(|m| m.3).min() else {
        return Ok(Vec::new());
    };
    // Newest first: (seq, author, mentions).
    let recent: Vec<(i64, i64, Vec<Option<i64>>)> = messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::seq.gt(oldest_mark))
        .filter(messages::deleted_at.is_null())
        .order(messages::seq.desc())
        .limit(SHARED_SCAN)
        .select((messages::seq, messages::user_id, messages::mentions))
        .load(conn)
        .await?;
    let truncated = recent.len() as i64 == SHARED_SCAN;
    let scanned_from = recent.last().map_or(i64::MAX, |r| r.0);
    let mut out = Vec::with_capacity(marks.len());
    for (_, user_id, last_seq, read_seq) in marks {
        let (mut unread, mut mentions) = (0, 0);
        for (_, author, named) in recent.iter().take_while(|r| r.0 > read_seq) {
            if unread == UNREAD_CAP {
                break;
            }
            if *author != user_id {
                unread += 1;
                mentions += i64::from(named.contains(&Some(user_id)));
            }
        }
        if truncated
            && read_seq < scanned_from
            && unread < UNREAD_CAP
            && let Some(own) = self::unread(conn, user_id, Some(&[room_id])).await?.pop()
        {
            (unread, mentions) = (own.unread, own.mentions);
        }
        let state = Unread {
            room_id,
            last_seq,
            read_seq,
            unread,
            mentions,
        };
        out.push((user_id, state));
    }
    Ok(out)
}

/// `(room, user, last_seq, read_seq)` of memberships.
#[allow(clippy::type_complexity)]
fn marks() -> diesel::dsl::Select<
    diesel::dsl::InnerJoinOn<
        room_members::table,
        room_seqs::table,
        diesel::dsl::Eq<room_seqs::room_id, room_members::room_id>,
    >,
    (
        room_members::room_id,
        room_members::user_id,
        room_seqs::last_seq,
        room_members::last_read_seq,
    ),
> {
    room_members::table
        .inner_join(room_seqs::table.on(room_seqs::room_id.eq(room_members::room_id)))
        .select((
            room_members::room_id,
            room_members::user_id,
            room_seqs::last_seq,
            room_members::last_read_seq,
        ))
}

/// The rooms `user_id` belongs to, for watching their unread state.
pub async fn rooms_of(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<i64>> {
    Ok(room_members::table
        .filter(room_members::user_id.eq(user_id))
        .select(room_members::room_id)
        .load(conn)
        .await?)
}
