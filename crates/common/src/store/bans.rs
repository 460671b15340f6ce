//! The `room_bans` table: who may not come back to a room, until when.
//! Written only by the event writer (a ban is a sequenced event); read by
//! the access checks through `members::standings` and
//! `rooms::facts_with_standing`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::room_bans;

/// Bans `user_id` from a room until `until` (`None`: for good); a ban in
/// place is replaced.
pub async fn put(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    until: Option<DateTime<Utc>>,
    by_id: i64,
) -> Result<()> {
    diesel::insert_into(room_bans::table)
        .values((
            room_bans::room_id.eq(room_id),
            room_bans::user_id.eq(user_id),
            room_bans::until.eq(until),
            room_bans::by_id.eq(by_id),
        ))
        .on_conflict((room_bans::room_id, room_bans::user_id))
        .do_update()
        .set((
            room_bans::until.eq(excluded(room_bans::until)),
            room_bans::by_id.eq(excluded(room_bans::by_id)),
            room_bans::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Lifts a ban; true when there was one.
pub async fn lift(conn: &mut AsyncPgConnection, room_id: i64, user_id: i64) -> Result<bool> {
    let gone = diesel::delete(room_bans::table.find((room_id, user_id)))
        .execute(conn)
        .await?;
    Ok(gone > 0)
}

/// A ban in force, as the room's moderators see it.
#[derive(Debug, Clone)]
pub struct BanRow {
    pub user_id: i64,
    pub username: String,
    /// `None`: for good.
    pub until: Option<DateTime<Utc>>,
}

/// The bans of a room still in force at `now`, newest first.
pub async fn in_force(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<BanRow>> {
    use crate::schema::users;
    let rows: Vec<(i64, String, Option<DateTime<Utc>>)> = room_bans::table
        .inner_join(users::table.on(users::id.eq(room_bans::user_id)))
        .filter(room_bans::room_id.eq(room_id))
        .filter(room_bans::until.is_null().or(room_bans::until.gt(now)))
        .order(room_bans::created_at.desc())
        .limit(500)
        .select((room_bans::user_id, users::username, room_bans::until))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, username, until)| BanRow {
            user_id,
            username,
            until,
        })
        .collect())
}
