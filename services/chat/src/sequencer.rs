//! The order of one room's sequenced events, without any I/O: which `seq`
//! went out last, which ones arrived early and wait for the gap before them,
//! and when to stop waiting for pub/sub and read the gap from Postgres.
//!
//! Events arrive in any order and some more than once (a local send and its
//! own pub/sub echo, a catch-up overlapping a live delivery); what the room
//! is told to send is each `seq` once, in increasing order, with no gaps.
//! The room does the reading and the sending; this module only decides.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long an early event waits for the ones before it via pub/sub
/// before they are read from Postgres.
pub const GAP_WAIT: Duration = Duration::from_millis(250);
/// Early events held at most; beyond, the gap is read at once.
pub const PENDING_LIMIT: usize = 4096;
/// How soon a failed read from Postgres is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A sequenced event: its `seq` and its serialized frame.
pub type Sequenced = (i64, Utf8Bytes);

/// What became of an event handed to [`Sequencer::accept`].
#[derive(Debug, Default, PartialEq)]
pub struct Accepted {
    /// Events to send now, in order (empty for a duplicate or an early one).
    pub ready: Vec<Sequenced>,
    /// Too many early events are held: read the gap from Postgres now
    /// rather than at the deadline.
    pub catch_up_now: bool,
}

/// One room's ordering state.
#[derive(Debug)]
pub struct Sequencer {
    /// The newest seq sent: everything up to it went out, in order.
    delivered: i64,
    /// Events that arrived before the gap in front of them was filled.
    pending: BTreeMap<i64, Utf8Bytes>,
    /// When to read the gap from Postgres (also: retry a failed read).
    gap_deadline: Option<Instant>,
}

impl Sequencer {
    /// Starts after `delivered`, the room's last seq when it opened: members
    /// joining get older events by replay, not from here.
    pub fn new(delivered: i64) -> Self {
        Self {
            delivered,
            pending: BTreeMap::new(),
            gap_deadline: None,
        }
    }

    /// The newest seq sent; a joining member's replay ends there.
    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// When the room should read the gap from Postgres, if it waits for one.
    pub fn gap_deadline(&self) -> Option<Instant> {
        self.gap_deadline
    }

    /// The highest seq held early: a catch-up reads at least that far.
    pub fn highest_pending(&self) -> Option<i64> {
        self.pending.keys().next_back().copied()
    }

    /// Takes an event in any order: a duplicate is dropped, the next one in
    /// line goes out with whatever it releases, an early one is held and
    /// the gap's deadline is set (by the first early one, not moved by more).
    pub fn accept(&mut self, seq: i64, frame: Utf8Bytes, now: Instant) -> Accepted {
        if seq <= self.delivered {
            return Accepted::default();
        }
        if seq > self.delivered + 1 {
            self.pending.insert(seq, frame);
            let catch_up_now = self.pending.len() > PENDING_LIMIT;
            if !catch_up_now && self.gap_deadline.is_none() {
                self.gap_deadline = Some(now + GAP_WAIT);
            }
            return Accepted {
                ready: Vec::new(),
                catch_up_now,
            };
        }
        self.delivered = seq;
        let mut ready = vec![(seq, frame)];
        self.drain(&mut ready);
        Accepted {
            ready,
            catch_up_now: false,
        }
    }

    /// Takes a page of events read from Postgres after [`Self::delivered`]
    /// (ascending seq) and returns those not sent yet, in order. A stored
    /// row moves `delivered` even over a hole in the rows: Postgres is the
    /// authority. A frame already held for the same seq is sent in its place.
    pub fn caught_up(&mut self, rows: Vec<Sequenced>) -> Vec<Sequenced> {
        let mut fresh = Vec::new();
        for (seq, frame) in rows {
            if seq > self.delivered {
                let frame = self.pending.remove(&seq).unwrap_or(frame);
                self.delivered = seq;
                fresh.push((seq, frame));
            }
        }
        fresh
    }

    /// Ends a catch-up: returns the held events now in line, and sets a new
    /// deadline if a gap remains (Postgres had nothing for it yet) or clears
    /// it if none does.
    pub fn settle(&mut self, now: Instant) -> Vec<Sequenced> {
        let mut ready = Vec::new();
        self.drain(&mut ready);
        if !self.pending.is_empty() {
            self.gap_deadline = Some(now + GAP_WAIT);
        }
        ready
    }

    /// Forgets held events above `last`, the room's last seq in Postgres as
    /// a complete catch-up read it: such an event was never stored (a
    /// forged or corrupt publish), and waiting for it would keep the room's
    /// gap open for good.
    pub fn drop_beyond(&mut self, last: i64) -> usize {
        let forged = self.pending.split_off(&(last + 1));
        if self.pending.is_empty() {
            self.gap_deadline = None;
        }
        forged.len()
    }

    /// A read from Postgres failed: try again shortly, gap or not.
    pub fn retry_later(&mut self, now: Instant) {
        self.gap_deadline = Some(now + RETRY_AFTER);
    }

    /// Moves held events that are now in line to `ready`, drops those
    /// already sent, and clears the deadline once nothing is held.
    fn drain(&mut self, ready: &mut Vec<Sequenced>) {
        while let Some(entry) = self.pending.first_entry() {
            let seq = *entry.key();
            if seq > self.delivered + 1 {
                break;
            }
            let frame = entry.remove();
            if seq == self.delivered + 1 {
                self.delivered = seq;
                ready.push((seq, frame));
            }
        }
        if self.pending.is_empty() {
            self.gap_deadline = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_postgres_never_stored_does_not_hold_the_room_for_good() {
        let t0 = Instant::now();
        let mut s = Sequencer::new(0);
        // A forged publish far ahead: held, waiting for what comes before.
        let held = s.accept(1_000_000_000, frame(1_000_000_000), t0);
        assert!(held.ready.is_empty());
        assert!(s.gap_deadline().is_some());
        // A complete catch-up finds the room's log ends at 5.
        let fresh = s.caught_up((1..=5).map(|seq| (seq, frame(seq))).collect());
        assert_eq!(fresh.len(), 5);
        assert_eq!(s.drop_beyond(s.delivered()), 1);
        assert!(s.settle(t0).is_empty());
        assert_eq!(s.gap_deadline(), None);
        assert_eq!(s.highest_pending(), None);
    }

    /// No seq: nothing goes out.
    const NOTHING: [i64; 0] = [];

    fn frame(seq: i64) -> Utf8Bytes {
        format!("f{seq}").into()
    }

    fn seqs(events: &[Sequenced]) -> Vec<i64> {
        events.iter().map(|(seq, _)| *seq).collect()
    }

    fn accept(s: &mut Sequencer, seq: i64, now: Instant) -> Vec<i64> {
        seqs(&s.accept(seq, frame(seq), now).ready)
    }

    fn rows(range: std::ops::RangeInclusive<i64>) -> Vec<Sequenced> {
        range.map(|seq| (seq, frame(seq))).collect()
    }

    #[test]
    fn events_in_order_go_out_at_once() {
        let now = Instant::now();
        let mut s = Sequencer::new(4);
        assert_eq!(accept(&mut s, 5, now), [5]);
        assert_eq!(accept(&mut s, 6, now), [6]);
        assert_eq!(s.delivered(), 6);
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn duplicates_and_old_events_are_dropped() {
        let now = Instant::now();
        let mut s = Sequencer::new(4);
        assert_eq!(accept(&mut s, 5, now), [5]);
        // The pub/sub echo of a local send, then an event from before the room opened.
        assert_eq!(s.accept(5, frame(5), now), Accepted::default());
        assert_eq!(accept(&mut s, 3, now), NOTHING);
        assert_eq!(s.delivered(), 5);
    }

    #[test]
    fn early_events_wait_for_the_gap_then_go_out_in_order() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        assert_eq!(accept(&mut s, 3, now), NOTHING);
        assert_eq!(accept(&mut s, 2, now), NOTHING);
        assert_eq!(s.highest_pending(), Some(3));
        let released = s.accept(1, frame(1), now).ready;
        assert_eq!(released, rows(1..=3));
        assert_eq!(s.delivered(), 3);
        assert_eq!(s.highest_pending(), None);
    }

    #[test]
    fn a_held_duplicate_is_released_once() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        accept(&mut s, 2, now);
        accept(&mut s, 2, now);
        assert_eq!(accept(&mut s, 1, now), [1, 2]);
        assert_eq!(accept(&mut s, 2, now), NOTHING);
    }

    #[test]
    fn the_first_early_event_sets_the_deadline_and_the_last_release_clears_it() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(100);
        let mut s = Sequencer::new(0);
        accept(&mut s, 3, t0);
        assert_eq!(s.gap_deadline(), Some(t0 + GAP_WAIT));
        accept(&mut s, 5, later);
        assert_eq!(s.gap_deadline(), Some(t0 + GAP_WAIT), "not pushed back");
        // 1 and 2 release 3; 5 still waits for 4, under the same deadline.
        accept(&mut s, 1, later);
        assert_eq!(accept(&mut s, 2, later), [2, 3]);
        assert_eq!(s.gap_deadline(), Some(t0 + GAP_WAIT));
        assert_eq!(accept(&mut s, 4, later), [4, 5]);
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn a_catch_up_fills_the_gap_and_releases_what_waited() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        accept(&mut s, 4, now);
        accept(&mut s, 6, now);
        // Postgres has 1..=4 so far; 5 is committed but not yet readable.
        assert_eq!(seqs(&s.caught_up(rows(1..=4))), [1, 2, 3, 4]);
        assert_eq!(s.delivered(), 4);
        let later = now + Duration::from_millis(300);
        assert_eq!(s.settle(later), Vec::<Sequenced>::new());
        assert_eq!(s.gap_deadline(), Some(later + GAP_WAIT), "6 still waits");
        assert_eq!(seqs(&s.caught_up(rows(5..=5))), [5]);
        assert_eq!(s.settle(later), rows(6..=6));
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn a_catch_up_prefers_the_frame_already_held() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        s.accept(2, "live".into(), now);
        let fresh = s.caught_up(vec![(1, frame(1)), (2, "stored".into())]);
        assert_eq!(fresh, vec![(1, frame(1)), (2, "live".into())]);
        assert_eq!(s.settle(now), Vec::<Sequenced>::new());
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn a_catch_up_skips_what_went_out_and_jumps_holes_in_the_rows() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        accept(&mut s, 1, now);
        assert_eq!(
            seqs(&s.caught_up(vec![(1, frame(1)), (2, frame(2)), (4, frame(4))])),
            [2, 4]
        );
        assert_eq!(s.delivered(), 4);
        assert_eq!(accept(&mut s, 3, now), NOTHING);
    }

    #[test]
    fn too_many_early_events_ask_for_a_catch_up_now() {
        let now = Instant::now();
        let mut s = Sequencer::new(0);
        for seq in 2..=(PENDING_LIMIT as i64 + 1) {
            assert!(!s.accept(seq, frame(seq), now).catch_up_now, "at {seq}");
        }
        let last = PENDING_LIMIT as i64 + 2;
        let over = s.accept(last, frame(last), now);
        assert!(over.catch_up_now);
        assert!(over.ready.is_empty());
        // The catch-up brings 1, which releases everything held.
        assert_eq!(seqs(&s.caught_up(rows(1..=1))), [1]);
        assert_eq!(s.settle(now).len(), PENDING_LIMIT + 1);
        assert_eq!(s.delivered(), last);
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn a_failed_read_is_retried_even_without_a_gap() {
        let now = Instant::now();
        let mut s = Sequencer::new(7);
        s.retry_later(now);
        assert_eq!(s.gap_deadline(), Some(now + RETRY_AFTER));
        // As before the split: the next event in line clears it, since
        // nothing is held; the hub's periodic catch-up finds the rest.
        assert_eq!(accept(&mut s, 8, now), [8]);
        assert_eq!(s.gap_deadline(), None);
    }
}
