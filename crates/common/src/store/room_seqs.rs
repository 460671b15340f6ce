//! The `room_seqs` table: each room's sequence counter (`last_seq`) and
//! message count, one narrow row per room. The row is the room's lock:
//! every writer of a room's log holds it until its transaction ends (by
//! [`lock`], [`lock_many`] or the seq update of [`take`]), and a writer of
//! several rooms takes their rows in ascending room id, so writers on every
//! instance never deadlock. Kept apart from `rooms` so that a message writes
//! three numbers rather than the room's wide row, and so that it can be
//! distributed with the log by room id (docs/SCALING.md).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use crate::error::Result;
use crate::schema::room_seqs;

/// Gives a new room its counter (no event yet). Called in the transaction
/// that inserts the room: a room without a row could take no seq.
pub async fn create(conn: &mut AsyncPgConnection, room_id: i64) -> Result<()> {
    diesel::insert_into(room_seqs::table)
        .values(room_seqs::room_id.eq(room_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the room's lock until the transaction ends and returns its last
/// seq; `None` when the room is gone.
pub async fn lock(conn: &mut AsyncPgConnection, room_id: i64) -> Result<Option<i64>> {
    Ok(room_seqs::table
        .find(room_id)
        .select(room_seqs::last_seq)
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// Locks the rows of every room of `ids` that exists, in ascending id
/// (one statement), and returns `(room_id, last_seq)` of each. With
/// `skip_locked`, a room whose row another transaction holds is left out
/// instead of waited for.
pub async fn lock_many(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    skip_locked: bool,
) -> Result<Vec<(i64, i64)>> {
    let query = room_seqs::table
        .filter(room_seqs::room_id.eq_any(ids))
        .order(room_seqs::room_id.asc())
        .select((room_seqs::room_id, room_seqs::last_seq))
        .for_update();
    Ok(if skip_locked {
        query.skip_locked().load(conn).await?
    } else {
        query.load(conn).await?
    })
}

/// Takes the room's next `n` seqs and returns the last of them, adding
/// `messages_delta` to its message count; the row lock this takes (or
/// already held) lasts until the transaction ends. `None` when the room is
/// gone.
pub async fn take(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    n: i64,
    messages_delta: i64,
) -> Result<Option<i64>> {
    Ok(diesel::update(room_seqs::table.find(room_id))
        .set((
            room_seqs::last_seq.eq(room_seqs::last_seq + n),
            room_seqs::message_count.eq(room_seqs::message_count + messages_delta),
        ))
        .returning(room_seqs::last_seq)
        .get_result(conn)
        .await
        .optional()?)
}

/// Moves rooms locked by [`lock_many`] forward: each `(room_id, last_seq,
/// added)` sets the room's last seq and adds `added` to its message count.
/// One statement for all of them.
pub async fn advance_many(conn: &mut AsyncPgConnection, rows: &[(i64, i64, i64)]) -> Result<()> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let lasts: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let added: Vec<i64> = rows.iter().map(|r| r.2).collect();
    Fixed::new(
        "UPDATE room_seqs SET last_seq = t.last_seq, \
           message_count = room_seqs.message_count + t.added \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(id, last_seq, added) \
         WHERE room_seqs.room_id = t.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<BigInt>, _>(lasts)
    .bind::<Array<BigInt>, _>(added)
    .execute(conn)
    .await?;
    Ok(())
}

/// `(room_id, last_seq)` of those of `ids` that still exist: how far each
/// room has got, for catch-up. Reads no lock, so a replica may answer it
/// (`crate::reads::last_seqs` says when the primary must).
pub async fn last_seqs(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    Ok(room_seqs::table
        .filter(room_seqs::room_id.eq_any(ids))
        .select((room_seqs::room_id, room_seqs::last_seq))
        .load(conn)
        .await?)
}
