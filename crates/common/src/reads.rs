//! Reads a replica may answer (history, replay, catch-up), and the rule
//! for when the primary answers them instead.
//!
//! A replica is behind the primary by design. Its answer is good enough
//! when staleness only delays something the reader repeats anyway; it is
//! not when the reader knows the room got further than the answer shows
//! and would conclude something false from the difference (an event
//! "never stored", a room "deleted", a page without the newest messages
//! the client then joins after). So each read here says what its caller
//! knows, and a replica answer that falls short of it is read again on the
//! primary:
//!
//! - **a known range** ([`events_after`], [`newest_events_after`]): the
//!   caller knows the room reached `known_last` (from the primary, from a
//!   frame it was sent, from a delivery waiting in its order). Seqs have no
//!   holes, so the events after `after` must number
//!   `min(known_last, after + limit) - after`; fewer is a replica behind;
//! - **a known position** ([`conn_caught_up`]): a read that cannot tell
//!   from its own answer that it stops short (a page of history) first
//!   asks the replica for the room's `last_seq`; older than `known_last`,
//!   the primary's connection is used instead;
//! - **known rooms** ([`last_seqs`]): a room the replica does not have
//!   (made since its last replay), or whose `last_seq` there is older than
//!   one the caller saw before, is looked up on the primary.
//!
//! Without a replica ([`DbPools::has_replica`] false) every read goes to
//! the one pool and nothing is ever read twice. Each [`Read`] says whether
//! it fell back, for the services' `read_fallbacks_total` counters.

use std::collections::HashMap;

use crate::db::{DbConn, DbPools};
use crate::error::Result;
use crate::store::{events, room_seqs};

/// An answer, and whether the primary gave it because the replica was
/// behind what the caller knew.
#[derive(Debug)]
pub struct Read<T> {
    pub value: T,
    pub fell_back: bool,
}

impl<T> Read<T> {
    fn replica(value: T) -> Self {
        Self {
            value,
            fell_back: false,
        }
    }

    fn primary(value: T) -> Self {
        Self {
            value,
            fell_back: true,
        }
    }
}

fn note_fallback(room_id: Option<i64>, what: &'static str) {
    tracing::debug!(
        room.id = room_id,
        what,
        "the replica is behind: read on the primary"
    );
}

/// Up to `limit` stored events of a room after `after`, oldest first, as
/// `(seq, frame)` ([`events::after`]); complete up to `known_last` when
/// the caller knows the room got that far.
pub async fn events_after(
    pools: &DbPools,
    room_id: i64,
    after: i64,
    limit: i64,
    known_last: Option<i64>,
) -> Result<Read<Vec<(i64, String)>>> {
    let mut conn = pools.read.get().await?;
    let rows = events::after(&mut conn, room_id, after, limit).await?;
    drop(conn);
    if !pools.has_replica() || holds_range(&rows, after, limit, known_last) {
        return Ok(Read::replica(rows));
    }
    note_fallback(Some(room_id), "events after a seq");
    let mut conn = pools.write.get().await?;
    Ok(Read::primary(
        events::after(&mut conn, room_id, after, limit).await?,
    ))
}

/// Whether `rows`, the events after `after` read with `limit`, are every
/// event up to `known_last` (or up to the limit, if that comes first).
fn holds_range(rows: &[(i64, String)], after: i64, limit: i64, known_last: Option<i64>) -> bool {
    known_last.is_none_or(|known| {
        let expected = known.min(after.saturating_add(limit)) - after;
        rows.len() as i64 >= expected
    })
}

/// The newest `limit` stored events of a room after `since`, oldest first
/// ([`events::newest_after`]: a join's replay); ending at `known_last` or
/// later when the caller knows the room got that far.
pub async fn newest_events_after(
    pools: &DbPools,
    room_id: i64,
    since: i64,
    limit: i64,
    known_last: Option<i64>,
) -> Result<Read<Vec<(i64, String)>>> {
    let mut conn = pools.read.get().await?;
    let rows = events::newest_after(&mut conn, room_id, since, limit).await?;
    drop(conn);
    if !pools.has_replica() || reaches(&rows, since, known_last) {
        return Ok(Read::replica(rows));
    }
    note_fallback(Some(room_id), "the newest events");
    let mut conn = pools.write.get().await?;
    Ok(Read::primary(
        events::newest_after(&mut conn, room_id, since, limit).await?,
    ))
}

/// Whether the newest of `rows` (events after `since`) is `known_last` or
/// later.
fn reaches(rows: &[(i64, String)], since: i64, known_last: Option<i64>) -> bool {
    known_last.is_none_or(|known| known <= since || rows.last().is_some_and(|r| r.0 >= known))
}

/// `(room_id, last_seq)` of those of `ids` that exist
/// ([`room_seqs::last_seqs`]). A room the replica lacks, or whose
/// `last_seq` there is below what `seen` says the caller saw before, is
/// looked up on the primary: only the primary's "no such room" means the
/// room is gone.
pub async fn last_seqs(
    pools: &DbPools,
    ids: &[i64],
    seen: &HashMap<i64, i64>,
) -> Result<Read<Vec<(i64, i64)>>> {
    let mut conn = pools.read.get().await?;
    let found = room_seqs::last_seqs(&mut conn, ids).await?;
    drop(conn);
    if !pools.has_replica() {
        return Ok(Read::replica(found));
    }
    let mut by_room: HashMap<i64, i64> = found.into_iter().collect();
    let stale: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| match (by_room.get(id), seen.get(id)) {
            (None, _) => true,
            (Some(last), Some(before)) => last < before,
            (Some(_), None) => false,
        })
        .collect();
    if stale.is_empty() {
        return Ok(Read::replica(by_room.into_iter().collect()));
    }
    note_fallback(None, "rooms' last seqs");
    let mut conn = pools.write.get().await?;
    for id in &stale {
        by_room.remove(id);
    }
    by_room.extend(room_seqs::last_seqs(&mut conn, &stale).await?);
    Ok(Read::primary(by_room.into_iter().collect()))
}

/// A connection whose answers about a room reach at least `known_last`:
/// the replica's when its `last_seq` for the room is that far, else the
/// primary's. For reads of several statements whose answers cannot tell
/// they stop short (a page of history: the replica only moves forward, so
/// what it had when asked, its later statements have too).
pub async fn conn_caught_up(
    pools: &DbPools,
    room_id: i64,
    known_last: i64,
) -> Result<Read<DbConn>> {
    let mut conn = pools.read.get().await?;
    if !pools.has_replica() {
        return Ok(Read::replica(conn));
    }
    let there = room_seqs::last_seqs(&mut conn, &[room_id]).await?;
    if there.first().is_some_and(|(_, last)| *last >= known_last) {
        return Ok(Read::replica(conn));
    }
    drop(conn);
    note_fallback(Some(room_id), "a room's history");
    Ok(Read::primary(pools.write.get().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seqs: std::ops::RangeInclusive<i64>) -> Vec<(i64, String)> {
        seqs.map(|s| (s, String::new())).collect()
    }

    #[test]
    fn a_range_is_whole_when_it_has_every_seq_up_to_what_is_known_or_the_limit() {
        // Nothing known: whatever came is all there is to expect.
        assert!(holds_range(&[], 0, 10, None));
        assert!(holds_range(&rows(4..=8), 3, 10, Some(8)));
        assert!(!holds_range(&rows(4..=6), 3, 10, Some(8)));
        assert!(!holds_range(&[], 3, 10, Some(4)));
        // A page of the limit ends the range early.
        assert!(holds_range(&rows(4..=5), 3, 2, Some(100)));
        assert!(!holds_range(&rows(4..=4), 3, 2, Some(100)));
        // Knowing less than the reader has read asks for nothing.
        assert!(holds_range(&[], 5, 10, Some(5)));
        assert!(holds_range(&[], 5, 10, Some(2)));
        assert!(holds_range(&[], 0, i64::MAX, Some(0)));
    }

    #[test]
    fn a_replay_is_whole_when_its_newest_is_what_is_known() {
        assert!(reaches(&rows(7..=9), 3, Some(9)));
        assert!(reaches(&rows(7..=9), 3, None));
        assert!(!reaches(&rows(7..=8), 3, Some(9)));
        assert!(!reaches(&[], 3, Some(4)));
        assert!(reaches(&[], 3, Some(3)));
    }
}
