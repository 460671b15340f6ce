//! Where the chat service reads a room's stored events, for catch-up and
//! replay on join: the room's event log, whose frames are sent as stored.
//! Chat never needs to know what kind of event a frame is. They are read
//! from the read pool (a replica with `DATABASE_READ_URL`), and from the
//! primary when the replica is behind what the room knows
//! (`common::reads`).

use common::db::DbPools;
use common::reads;

use crate::delivery::QueueLimits;
use crate::room::RoomDeps;
use crate::sequencer::Sequenced;

/// A join's replay: the newest events after the client's `since`, within
/// the replay's frames and bytes. The joining connection reads it, so the
/// room's live deliveries never wait for it.
#[derive(Debug, Default)]
pub struct Replay {
    /// In increasing seq, ending with the newest stored when read.
    pub rows: Vec<Sequenced>,
    /// Older events after `since` were left out: the client reads them
    /// over HTTP.
    pub truncated: bool,
}

impl Replay {
    /// Keeps the newest of `rows` (in increasing seq, after `since`) that
    /// fit `limits`.
    pub fn within(mut rows: Vec<Sequenced>, since: i64, limits: QueueLimits) -> Self {
        let first_seq = rows.first().map(|(seq, _)| *seq);
        let mut bytes = 0;
        let mut keep_from = rows.len();
        for (i, (_, frame)) in rows.iter().enumerate().rev() {
            if rows.len() - i > limits.frames || bytes + frame.len() > limits.bytes {
                break;
            }
            bytes += frame.len();
            keep_from = i;
        }
        let rows = rows.split_off(keep_from);
        // Seqs have no gaps: anything between `since` and the first row
        // was not read, or was dropped here.
        let truncated = keep_from > 0 || first_seq.is_some_and(|seq| seq > since + 1);
        Self { rows, truncated }
    }

    /// The last seq the client holds once it has this replay.
    pub fn through(&self, since: i64) -> i64 {
        self.rows.last().map_or(since, |(seq, _)| *seq)
    }
}

/// A join's replay after `since`, read from the read pool as it is: the
/// connection reading it knows nothing newer. Should a replica be behind,
/// the room tops the replay up to what it has delivered, and that top-up
/// is a known range ([`stored_after`]), read whole.
pub async fn replay(
    db: &DbPools,
    room: i64,
    since: i64,
    limits: QueueLimits,
) -> common::Result<Replay> {
    let rows = reads::newest_events_after(db, room, since, limits.frames as i64, None)
        .await?
        .value;
    let rows = rows
        .into_iter()
        .map(|(seq, frame)| (seq, frame.into()))
        .collect();
    Ok(Replay::within(rows, since, limits))
}

/// Up to `limit` stored events of `room` with a seq above `after_seq`, in
/// increasing seq, each as the frame clients receive: every one up to
/// `known_last` when the room knows it was stored (a replica behind it is
/// read again on the primary, counted in `read_fallbacks_total`).
pub async fn stored_after(
    deps: &RoomDeps,
    room: i64,
    after_seq: i64,
    limit: i64,
    known_last: Option<i64>,
) -> common::Result<Vec<Sequenced>> {
    let read = reads::events_after(&deps.db, room, after_seq, limit, known_last).await?;
    if read.fell_back {
        deps.metrics.read_fallbacks.inc();
    }
    Ok(read
        .value
        .into_iter()
        .map(|(seq, frame)| (seq, frame.into()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seqs: std::ops::RangeInclusive<i64>, size: usize) -> Vec<Sequenced> {
        seqs.map(|seq| (seq, "x".repeat(size).into())).collect()
    }

    fn seqs(replay: &Replay) -> Vec<i64> {
        replay.rows.iter().map(|(seq, _)| *seq).collect()
    }

    #[test]
    fn a_replay_that_fits_is_whole() {
        let limits = QueueLimits {
            frames: 10,
            bytes: 1000,
        };
        let replay = Replay::within(rows(4..=8, 10), 3, limits);
        assert_eq!(seqs(&replay), [4, 5, 6, 7, 8]);
        assert!(!replay.truncated);
        assert_eq!(replay.through(3), 8);
    }

    #[test]
    fn a_replay_keeps_its_newest_within_bytes_and_frames() {
        let bytes = QueueLimits {
            frames: 10,
            bytes: 35,
        };
        let replay = Replay::within(rows(4..=8, 10), 3, bytes);
        assert_eq!(seqs(&replay), [6, 7, 8]);
        assert!(replay.truncated);
        let frames = QueueLimits {
            frames: 2,
            bytes: 1000,
        };
        let replay = Replay::within(rows(4..=8, 10), 3, frames);
        assert_eq!(seqs(&replay), [7, 8]);
        assert!(replay.truncated);
    }

    #[test]
    fn rows_that_do_not_start_after_since_are_a_truncated_replay() {
        let limits = QueueLimits {
            frames: 10,
            bytes: 1000,
        };
        assert!(Replay::within(rows(6..=8, 1), 3, limits).truncated);
        let empty = Replay::within(Vec::new(), 3, limits);
        assert!(!empty.truncated);
        assert_eq!(empty.through(3), 3);
    }
}
