//! The `room_members` table: who has been in which room, and how far they read.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::room_members;

/// Records that `user_id` has seen `room_id` up to `seq`, joining the room if
/// needed. The read mark never moves backwards.
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    seq: i64,
) -> Result<()> {
    diesel::insert_into(room_members::table)
        .values((
            room_members::room_id.eq(room_id),
            room_members::user_id.eq(user_id),
            room_members::last_read_seq.eq(seq),
        ))
        .on_conflict((room_members::room_id, room_members::user_id))
        .do_update()
        .set(
            room_members::last_read_seq.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "GREATEST(room_members.last_read_seq, excluded.last_read_seq)",
            )),
        )
        .execute(conn)
        .await?;
    Ok(())
}

/// The read mark of a member, or `None` if they never opened the room.
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
