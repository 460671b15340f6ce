//! How far each consumer of the event log (search, vectors, the assistant)
//! has got in each room. A room's log is a gap-free sequence committed in
//! order, so one seq per room says everything up to it is done; a consumer
//! advances it in the transaction that applies the events, and a restart
//! redoes nothing it committed.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use crate::error::Result;
use crate::schema::log_cursors;

/// A room whose log has events a consumer has not applied yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Behind {
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    /// The consumer's cursor (0: nothing applied yet).
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    /// The room's last event.
    #[diesel(sql_type = BigInt)]
    pub last_seq: i64,
}

/// Up to `limit` rooms with events after `consumer`'s cursor, the rooms
/// furthest behind first.
pub async fn behind(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    limit: i64,
) -> Result<Vec<Behind>> {
    Ok(Fixed::new(
        "SELECT s.room_id, coalesce(c.seq, 0) AS seq, s.last_seq \
         FROM room_seqs s LEFT JOIN log_cursors c ON c.consumer = $1 AND c.room_id = s.room_id \
         WHERE s.last_seq > coalesce(c.seq, 0) \
         ORDER BY s.last_seq - coalesce(c.seq, 0) DESC, s.room_id LIMIT $2",
    )
    .bind::<Text, _>(consumer)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// [`behind`] for a consumer that reads what `leader` made (emotion tags
/// read the stored vectors): a room's events count only up to the leader's
/// cursor there, so the consumer never passes a message before the leader
/// has.
pub async fn behind_leader(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    leader: &str,
    limit: i64,
) -> Result<Vec<Behind>> {
    Ok(Fixed::new(
        "SELECT l.room_id, coalesce(c.seq, 0) AS seq, l.seq AS last_seq \
         FROM log_cursors l LEFT JOIN log_cursors c ON c.consumer = $1 AND c.room_id = l.room_id \
         WHERE l.consumer = $2 AND l.seq > coalesce(c.seq, 0) \
         ORDER BY l.seq - coalesce(c.seq, 0) DESC, l.room_id LIMIT $3",
    )
    .bind::<Text, _>(consumer)
    .bind::<Text, _>(leader)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// Lets the current transaction commit without waiting for its WAL to
/// reach the disk. For a consumer's transactions only: what they write is
/// derived from the log and moves with the cursor, so a crash that loses
/// their last fraction of a second (Postgres flushes within 3 ×
/// `wal_writer_delay`) loses the cursor too and the events are applied
/// again. Waiting for the disk would instead queue every consumer commit
/// with the send path's own fsyncs.
pub async fn commit_without_waiting(conn: &mut AsyncPgConnection) -> Result<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves `consumer`'s cursor in a room to `seq` (never backwards).
pub async fn advance(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    room_id: i64,
    seq: i64,
) -> Result<()> {
    advance_many(conn, consumer, &[(room_id, seq)]).await
}

/// Moves `consumer`'s cursors in many rooms (room, seq) at once, each
/// never backwards: a follower's pass commits its rooms together.
pub async fn advance_many(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    to: &[(i64, i64)],
) -> Result<()> {
    if to.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = to
        .iter()
        .map(|(room_id, seq)| {
            (
                log_cursors::consumer.eq(consumer),
                log_cursors::room_id.eq(*room_id),
                log_cursors::seq.eq(*seq),
            )
        })
        .collect();
    diesel::insert_into(log_cursors::table)
        .values(rows)
        .on_conflict((log_cursors::consumer, log_cursors::room_id))
        .do_update()
        .set(log_cursors::seq.eq(diesel::dsl::sql::<BigInt>(
            "greatest(log_cursors.seq, excluded.seq)",
        )))
        .execute(conn)
        .await?;
    Ok(())
}

/// `consumer`'s cursor in a room (0: nothing applied yet).
pub async fn position(conn: &mut AsyncPgConnection, consumer: &str, room_id: i64) -> Result<i64> {
    Ok(log_cursors::table
        .find((consumer, room_id))
        .select(log_cursors::seq)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(0))
}

/// Erases every consumer's cursor of rooms that no longer exist; how many.
pub async fn sweep(conn: &mut AsyncPgConnection) -> Result<usize> {
    use crate::schema::rooms;
    Ok(diesel::delete(
        log_cursors::table.filter(diesel::dsl::not(diesel::dsl::exists(
            rooms::table.filter(rooms::id.eq(log_cursors::room_id)),
        ))),
    )
    .execute(conn)
    .await?)
}
