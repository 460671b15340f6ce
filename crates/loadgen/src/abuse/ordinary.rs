//! The ordinary people of `abuse`: each on a socket of their own through
//! nginx, from an address of their own, chatting in the room at a modest
//! rate while the hostile user does their worst. Every message is stamped
//! with its sender, its number and when it was sent, so each arrival is
//! timed (at the other person: delivery; at the sender: its echo) and
//! checked: nothing lost, nothing twice, nothing out of order.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use common::protocol::ClientFrame;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::frame::{Frame, Stamp, scan};
use crate::hist::Hist;
use crate::net::Ws;

/// What the ordinary people observed, together.
#[derive(Default)]
pub struct Stats {
    /// Send to arrival at the other person(s).
    pub delivery: Hist,
    /// Send to the sender's own echo (its acknowledgement).
    pub echo: Hist,
    pub sent: AtomicU64,
    /// Sends answered with an `error` frame (a rate limit, unavailable...).
    pub refused: AtomicU64,
    /// Distinct ordinary messages received, all receivers together.
    pub arrived: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    /// Seqs skipped over (each one a lost event).
    pub gaps: AtomicU64,
    /// Ordinary sockets that ended before they were told to stop.
    pub closed: AtomicU64,
    /// Error codes received, by code.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Every arrival at the other person: (seconds from the start of the
    /// run when it was sent, its latency in ms), for the slowest's times.
    pub arrivals: Mutex<Vec<(f64, f64)>>,
}

impl Stats {
    /// The `n` slowest arrivals at the other person, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<(f64, f64)> {
        let mut all = self.arrivals.lock().map(|a| a.clone()).unwrap_or_default();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(n);
        all
    }
}

/// When and how fast one person sends.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The first send.
    pub start: Instant,
    /// No send at or after this.
    pub end: Instant,
    /// Between two sends.
    pub period: Duration,
    pub body_bytes: usize,
    /// What stamps count from.
    pub epoch: std::time::Instant,
    /// Where the run's report counts seconds from (on the epoch's clock, µs).
    pub zero_us: u64,
}

/// What one person hands back.
#[derive(Debug, Default)]
pub struct Held {
    /// Their index (the stamps' client).
    pub who: u32,
    /// Messages they sent (numbers 0..sent).
    pub sent: u32,
    /// Numbers of their sends the server refused.
    pub refused: HashSet<u32>,
    /// Every ordinary message received: (sender, number).
    pub seen: HashSet<(u32, u32)>,
}

/// Messages of `senders` that `receiver` should hold and does not: every
/// sent message that was not refused.
pub fn lost(receiver: &Held, senders: &[Held]) -> u64 {
    senders
        .iter()
        .flat_map(|s| {
            (0..s.sent)
                .filter(|n| !s.refused.contains(n))
                .map(move |n| (s.who, n))
        })
        .filter(|m| !receiver.seen.contains(m))
        .count() as u64
}

/// The nonce of message `n` of person `who`.
fn nonce(who: u32, n: u32) -> String {
    format!("o{who}.{n}")
}

/// The message number of one of `who`'s nonces.
fn number_of(who: u32, nonce: &str) -> Option<u32> {
    nonce
        .strip_prefix(&format!("o{who}."))
        .and_then(|n| n.parse().ok())
}

/// Chats on `ws` (joined to `room` already) as `who`: sends as `plan`
/// says, reads and checks everything until `stop` says true.
pub async fn chat(
    ws: Ws,
    who: u32,
    room: i64,
    plan: Plan,
    stats: &Stats,
    mut stop: watch::Receiver<bool>,
) -> Held {
    let mut held = Held {
        who,
        ..Held::default()
    };
    let (mut sink, mut stream) = ws.split();
    let mut last_seq: Option<i64> = None;
    let mut next_send = Some(plan.start);
    loop {
        let due = next_send.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() { break; }
            }
            _ = tokio::time::sleep_until(due), if next_send.is_some() => {
                let now = Instant::now();
                // Everything due by now (the timer is coarse), and no more.
                while let Some(at) = next_send.filter(|at| *at <= now && *at < plan.end) {
                    let stamp = Stamp {
                        sent_us: plan.epoch.elapsed().as_micros() as u64,
                        step: held.sent,
                        client: who,
                    };
                    let frame = ClientFrame::Send {
                        room,
                        body: stamp.body(plan.body_bytes),
                        nonce: nonce(who, held.sent),
                        reply_to: None,
                        attachments: Vec::new(),
                    };
                    held.sent += 1;
                    stats.sent.fetch_add(1, Relaxed);
                    if sink.send(Message::text(frame.to_json())).await.is_err() {
                        stats.closed.fetch_add(1, Relaxed);
                        return held;
                    }
                    next_send = Some(at + plan.period);
                }
                if next_send.is_some_and(|at| at >= plan.end) {
                    next_send = None;
                }
            }
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    _ => {
                        stats.closed.fetch_add(1, Relaxed);
                        return held;
                    }
                };
                match scan(text.as_str()) {
                    Frame::Message { seq, stamp, .. } => {
                        if let Some(last) = last_seq {
                            if seq <= last {
                                let count = if seq == last { &stats.duplicated } else { &stats.out_of_order };
                                count.fetch_add(1, Relaxed);
                                continue;
                            }
                            if seq > last + 1 {
                                stats.gaps.fetch_add((seq - last - 1) as u64, Relaxed);
                            }
                        }
                        last_seq = Some(seq);
                        let Some(s) = stamp else { continue };
                        if !held.seen.insert((s.client, s.step)) {
                            stats.duplicated.fetch_add(1, Relaxed);
                            continue;
                        }
                        stats.arrived.fetch_add(1, Relaxed);
                        let us = (plan.epoch.elapsed().as_micros() as u64).saturating_sub(s.sent_us);
                        if s.client == who {
                            stats.echo.record(us);
                        } else {
                            stats.delivery.record(us);
                            let at = s.sent_us.saturating_sub(plan.zero_us) as f64 / 1e6;
                            if let Ok(mut a) = stats.arrivals.lock() { a.push((at, us as f64 / 1000.0)); }
                        }
                    }
                    Frame::Event { seq, .. } => {
                        if last_seq.is_none_or(|l| seq > l) { last_seq = Some(seq); }
                    }
                    Frame::Joined { last_seq: at, .. } => {
                        if last_seq.is_none() { last_seq = Some(at); }
                    }
                    Frame::Error { code, reference } => {
                        if let Ok(mut e) = stats.errors.lock() {
                            *e.entry(code.to_owned()).or_insert(0) += 1;
                        }
                        if let Some(n) = reference.and_then(|r| number_of(who, r)) {
                            stats.refused.fetch_add(1, Relaxed);
                            held.refused.insert(n);
                        }
                    }
                    Frame::Other => {}
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_name_their_message() {
        assert_eq!(number_of(1, &nonce(1, 42)), Some(42));
        assert_eq!(number_of(2, &nonce(1, 42)), None);
        assert_eq!(number_of(1, "o1.x"), None);
    }

    #[test]
    fn lost_counts_what_was_sent_and_not_refused_nor_seen() {
        let alice = Held {
            who: 0,
            sent: 3,
            refused: HashSet::from([2]),
            seen: HashSet::from([(0, 0), (0, 1), (1, 0)]),
        };
        let bob = Held {
            who: 1,
            sent: 2,
            refused: HashSet::new(),
            seen: HashSet::from([(0, 0), (1, 0), (1, 1)]),
        };
        let both = [alice, bob];
        // alice misses bob's 1; bob misses alice's 1 (alice's 2 was refused).
        assert_eq!(lost(&both[0], &both), 1);
        assert_eq!(lost(&both[1], &both), 1);
    }
}
