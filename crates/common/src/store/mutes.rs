//! The `room_mutes` table: who may read a room but not post in it, until
//! when. Apart from the membership, like bans, so leaving and coming back
//! does not lift a mute. Written only by the event writer (a mute is a
//! sequenced event); read through `members::standings` and
//! `rooms::facts_with_standing`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::room_mutes;

/// Mutes `user_id` in a room until `until` (`access::forever()`: until
/// lifted); a mute in place is replaced.
pub async fn put(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    until: DateTime<Utc>,
    by_id: i64,
) -> Result<()> {
    diesel::insert_into(room_mutes::table)
        .values((
            room_mutes::room_id.eq(room_id),
            room_mutes::user_id.eq(user_id),
            room_mutes::until.eq(until),
            room_mutes::by_id.eq(by_id),
        ))
        .on_conflict((room_mutes::room_id, room_mutes::user_id))
        .do_update()
        .set((
            room_mutes::until.eq(excluded(room_mutes::until)),
            room_mutes::by_id.eq(excluded(room_mutes::by_id)),
            room_mutes::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Lifts a mute; true when there was one.
pub async fn lift(conn: &mut AsyncPgConnection, room_id: i64, user_id: i64) -> Result<bool> {
    let gone = diesel::delete(room_mutes::table.find((room_id, user_id)))
        .execute(conn)
        .await?;
    Ok(gone > 0)
}

/// The mutes of `users` in a room (lapsed ones too: the rules compare).
pub async fn of(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    users: &[i64],
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    Ok(room_mutes::table
        .filter(room_mutes::room_id.eq(room_id))
        .filter(room_mutes::user_id.eq_any(users))
        .select((room_mutes::user_id, room_mutes::until))
        .load(conn)
        .await?)
}
