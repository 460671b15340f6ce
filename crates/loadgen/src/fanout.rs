//! `fanout`: every client joins its room; the senders send at an offered
//! rate in steps; every member's receipts are checked for order and
//! completeness and timed. Step results go out as each step ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::protocol::ClientFrame;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::args::{Args, HoldOn, Slot, layout};
use crate::frame::{Frame, Stamp, scan};
use crate::hist::Hist;
use crate::procstat::{self, round2};
use crate::{Failure, Out, fields, net, provision};

/// What one step observed, shared by every client.
#[derive(Default)]
pub struct StepStats {
    sent: AtomicU64,
    /// Deliveries owed: for each accepted send, the joined members of its room.
    expected: AtomicI64,
    delivered: AtomicU64,
    errors: AtomicU64,
    rate_limited: AtomicU64,
    duplicated: AtomicU64,
    out_of_order: AtomicU64,
    gaps: AtomicU64,
    closed: AtomicU64,
    delivery: Hist,
    ack: Hist,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Wait,
    Step {
        index: u32,
        /// Between one sender's sends.
        period: Duration,
        start: Instant,
        end: Instant,
    },
    Stop,
}

struct Shared {
    steps: Vec<StepStats>,
    joined_in_room: Vec<AtomicU64>,
    joined: AtomicUsize,
    failed: AtomicUsize,
    /// Sequenced frames received by all clients together.
    received: AtomicU64,
    epoch: std::time::Instant,
    senders: usize,
    body_bytes: usize,
}

/// What a client hands back at the end.
struct End {
    room: usize,
    received: u64,
    joined: bool,
}

/// Whether a step held: latency, completeness, the schedule kept, nobody
/// disconnected.
pub fn held(p99_ms: f64, delivered_ratio: f64, sent_ratio: f64, closed: u64, args: &Args) -> bool {
    p99_ms <= args.hold_p99_ms
        && delivered_ratio >= args.hold_delivered
        && sent_ratio >= 0.99
        && closed == 0
}

#[allow(clippy::too_many_arguments)]
async fn client(
    i: usize,
    slot: Slot,
    url: String,
    token: String,
    room: i64,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    gate: Arc<Semaphore>,
    source: Option<std::net::Ipv4Addr>,
) -> End {
    let mut end = End {
        room: slot.room,
        received: 0,
        joined: false,
    };
    let permit = gate.acquire_owned().await;
    let opened = net::open_joined(&url, &token, source, room).await;
    drop(permit);
    let ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("client {i}: {e}");
            shared.failed.fetch_add(1, Relaxed);
            return end;
        }
    };
    end.joined = true;
    shared.joined_in_room[slot.room].fetch_add(1, Relaxed);
    shared.joined.fetch_add(1, Relaxed);
    let (mut sink, mut stream) = ws.split();
    let me = i as u32;
    let mut last_seq = 0i64;
    let mut current = *phase.borrow();
    let mut sent_in_step = 0u64;
    let stagger = |period: Duration| period.mul_f64(i as f64 / shared.senders.max(1) as f64);
    let mut next_send: Option<Instant> = None;
    loop {
        let due = next_send.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() { break; }
                current = *phase.borrow_and_update();
                match current {
                    Phase::Stop => break,
                    Phase::Step { period, start, .. } if slot.sender => {
                        sent_in_step = 0;
                        next_send = Some(start + stagger(period));
                    }
                    _ => next_send = None,
                }
            }
            _ = tokio::time::sleep_until(due), if next_send.is_some() => {
                let Phase::Step { index, period, start, end: stop } = current else {
                    next_send = None;
                    continue;
                };
                let now = Instant::now();
                let stats = &shared.steps[index as usize];
                // Everything due by now (the timer is coarse), and no more.
                while let Some(at) = next_send.filter(|at| *at <= now && *at < stop) {
                    let stamp = Stamp {
                        sent_us: shared.epoch.elapsed().as_micros() as u64,
                        step: index,
                        client: me,
                    };
                    let frame = ClientFrame::Send {
                        room,
                        body: stamp.body(shared.body_bytes),
                        nonce: format!("{index}.{i}.{sent_in_step}"),
                        reply_to: None,
                        attachments: Vec::new(),
                    };
                    stats.expected.fetch_add(shared.joined_in_room[slot.room].load(Relaxed) as i64, Relaxed);
                    stats.sent.fetch_add(1, Relaxed);
                    if sink.send(Message::text(frame.to_json())).await.is_err() {
                        stats.closed.fetch_add(1, Relaxed);
                        return end;
                    }
                    sent_in_step += 1;
                    let next = at + period;
                    next_send = (next < stop).then_some(next);
                    let _ = start;
                }
                if next_send.is_some_and(|at| at >= stop) { next_send = None; }
            }
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    _ => {
                        let index = match current { Phase::Step { index, .. } => index as usize, _ => shared.steps.len() - 1 };
                        // A close while waiting counts toward the last step that ran.
                        shared.steps[index.min(shared.steps.len() - 1)].closed.fetch_add(1, Relaxed);
                        return end;
                    }
                };
                match scan(text.as_str()) {
                    Frame::Message { seq, stamp, .. } => {
                        let step = stamp.map(|s| s.step as usize).unwrap_or(0).min(shared.steps.len() - 1);
                        let stats = &shared.steps[step];
                        if seq <= last_seq {
                            if seq == last_seq { stats.duplicated.fetch_add(1, Relaxed); } else { stats.out_of_order.fetch_add(1, Relaxed); }
                            continue;
                        }
                        if last_seq > 0 && seq > last_seq + 1 {
                            stats.gaps.fetch_add((seq - last_seq - 1) as u64, Relaxed);
                        }
                        last_seq = seq;
                        end.received += 1;
                        shared.received.fetch_add(1, Relaxed);
                        if let Some(s) = stamp {
                            let us = (shared.epoch.elapsed().as_micros() as u64).saturating_sub(s.sent_us);
                            stats.delivered.fetch_add(1, Relaxed);
                            stats.delivery.record(us);
                            if s.client == me { stats.ack.record(us); }
                        }
                    }
                    Frame::Event { seq, .. } => {
                        if seq > last_seq { last_seq = seq; end.received += 1; shared.received.fetch_add(1, Relaxed); }
                    }
                    Frame::Error { code, reference } => {
                        let step = reference
                            .and_then(|r| r.split('.').next())
                            .and_then(|s| s.parse::<usize>().ok())
                            .unwrap_or(0)
                            .min(shared.steps.len() - 1);
                        let stats = &shared.steps[step];
                        stats.errors.fetch_add(1, Relaxed);
                        if code == common::error::Code::RateLimited.as_str() {
                            stats.rate_limited.fetch_add(1, Relaxed);
                        }
                        stats.expected.fetch_sub(shared.joined_in_room[slot.room].load(Relaxed) as i64, Relaxed);
                    }
                    Frame::Joined { .. } | Frame::Other => {}
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    end
}

pub async fn run(args: &Args, out: &Out) -> Result<bool, Failure> {
    let slots = layout(args);
    let tag = provision::run_tag();
    println!(
        "provisioning {} users and {} rooms ...",
        slots.len().div_ceil(args.per_user),
        args.rooms
    );
    let mut db = provision::connect().await?;
    // One more user owns the rooms and never connects: a room's creator is
    // not in every room (as the owner, it would follow all of them).
    let clients = slots.len().div_ceil(args.per_user);
    let users = provision::users(&mut db, &format!("load-{tag}"), clients + 1, "!no-login").await?;
    let owner = users.last().ok_or("no users")?.id;
    let rooms = provision::rooms(&mut db, &format!("load-{tag}"), args.rooms, owner).await?;
    let shared = Arc::new(Shared {
        steps: args.steps.iter().map(|_| StepStats::default()).collect(),
        joined_in_room: (0..args.rooms).map(|_| AtomicU64::new(0)).collect(),
        joined: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        received: AtomicU64::new(0),
        epoch: std::time::Instant::now(),
        senders: args.senders(),
        body_bytes: args.body_bytes,
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Wait);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let connect_start = Instant::now();
    let mut tasks = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        tasks.push(tokio::spawn(client(
            i,
            *slot,
            args.urls[slot.url].clone(),
            users[i / args.per_user].token.clone(),
            rooms[slot.room],
            shared.clone(),
            phase_rx.clone(),
            gate.clone(),
            net::source_for(i, args.source_ips),
        )));
    }
    let deadline = connect_start + args.deadline;
    while shared.joined.load(Relaxed) + shared.failed.load(Relaxed) < slots.len()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let joined = shared.joined.load(Relaxed);
    println!(
        "{joined} of {} connections joined in {:.1} s ({} failed)",
        slots.len(),
        connect_start.elapsed().as_secs_f64(),
        shared.failed.load(Relaxed)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let statements = provision::has_pg_stat_statements(&mut db).await;
    let mut best_held: Option<f64> = None;
    let mut ran = 0;
    let mut failed_in_row = 0;
    for (index, rate) in args.steps.iter().enumerate() {
        ran += 1;
        let stats = &shared.steps[index];
        let period = Duration::from_secs_f64(args.senders() as f64 / rate);
        let procs_before = procstat::sample(&args.groups);
        let self_before = procstat::self_cpu_s();
        let machine_before = procstat::machine_ticks();
        let softirq_before = procstat::softirq_ticks();
        let db_before = provision::counters(&mut db, &rooms, statements).await?;
        let start = Instant::now() + Duration::from_millis(20);
        let end = start + args.duration;
        let _ = phase_tx.send(Phase::Step {
            index: index as u32,
            period,
            start,
            end,
        });
        tokio::time::sleep_until(end).await;
        let secs = start.elapsed().as_secs_f64();
        let procs_after = procstat::sample(&args.groups);
        let self_after = procstat::self_cpu_s();
        let machine_after = procstat::machine_ticks();
        let softirq_after = procstat::softirq_ticks();
        let db_after = provision::counters(&mut db, &rooms, statements).await?;
        let _ = phase_tx.send(Phase::Wait);
        let grace_end = Instant::now() + args.grace;
        while (stats.delivered.load(Relaxed) as i64) < stats.expected.load(Relaxed)
            && Instant::now() < grace_end
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent = stats.sent.load(Relaxed);
        let expected = stats.expected.load(Relaxed).max(0) as u64;
        let delivered = stats.delivered.load(Relaxed);
        let delivered_ratio = if expected == 0 {
            1.0
        } else {
            delivered as f64 / expected as f64
        };
        let sent_ratio = sent as f64 / (rate * args.duration.as_secs_f64()).max(1.0);
        let latency = match args.hold_on {
            HoldOn::Delivery => &stats.delivery,
            HoldOn::Ack => &stats.ack,
        };
        let p99_ms = latency.quantile(0.99) as f64 / 1000.0;
        let closed = stats.closed.load(Relaxed);
        let ok = held(p99_ms, delivered_ratio, sent_ratio, closed, args);
        if ok {
            best_held = Some(best_held.map_or(*rate, |b: f64| b.max(*rate)));
        }
        let db_delta = db_after.since(&db_before);
        let machine = (machine_after.0 - machine_before.0) as f64 / 100.0 / secs;
        let softirq = softirq_after.saturating_sub(softirq_before) as f64 / 100.0 / secs;
        let mut f = fields! {
            "step" => index,
            "offered" => rate,
            "duration_s" => round2(secs),
            "rooms" => args.rooms,
            "connections" => slots.len(),
            "joined" => joined,
            "senders" => args.senders(),
            "sent" => sent,
            "sent_ratio" => round2(sent_ratio * 100.0) / 100.0,
            "expected" => expected,
            "delivered" => delivered,
            "delivered_ratio" => (delivered_ratio * 10000.0).round() / 10000.0,
            "deliveries_per_s" => (delivered as f64 / secs).round(),
            "errors" => stats.errors.load(Relaxed),
            "rate_limited" => stats.rate_limited.load(Relaxed),
            "duplicated" => stats.duplicated.load(Relaxed),
            "out_of_order" => stats.out_of_order.load(Relaxed),
            "gaps" => stats.gaps.load(Relaxed),
            "closed" => closed,
            "committed_per_s" => (db_delta.seqs as f64 / secs).round(),
            "commits_per_s" => (db_delta.commits as f64 / secs).round(),
            "loadgen_cores" => round2((self_after - self_before) / secs),
            "machine_busy_cores" => round2(machine),
            "softirq_cores" => round2(softirq),
            "hold_on" => if args.hold_on == HoldOn::Ack { "ack" } else { "delivery" },
            "held" => ok,
        };
        f.extend(stats.delivery.summary(""));
        f.extend(stats.ack.summary("ack_"));
        f.extend(procstat::usage(
            &args.groups,
            &procs_before,
            &procs_after,
            secs,
        ));
        println!(
            "step {index}: offered {rate:.0} msg/s, sent {sent} ({:.3}), delivered {delivered}/{expected} ({:.4}), \
             latency ms p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}, ack p99 {:.1}, committed {:.0}/s, \
             dup {} ooo {} closed {closed}: {}",
            sent_ratio,
            delivered_ratio,
            stats.delivery.quantile(0.5) as f64 / 1000.0,
            stats.delivery.quantile(0.99) as f64 / 1000.0,
            stats.delivery.quantile(0.999) as f64 / 1000.0,
            stats.delivery.max() as f64 / 1000.0,
            stats.ack.quantile(0.99) as f64 / 1000.0,
            db_delta.seqs as f64 / secs,
            stats.duplicated.load(Relaxed),
            stats.out_of_order.load(Relaxed),
            if ok { "held" } else { "NOT held" }
        );
        out.emit("fanout_step", f);
        failed_in_row = if ok { 0 } else { failed_in_row + 1 };
        if args.stop_on_fail && failed_in_row >= args.fail_limit {
            break;
        }
    }
    // A backlog may still be on its way: lost is what has not arrived once
    // everything stored was delivered or `--deadline` passed, not what was
    // late when the last step ended. What is owed is what the rooms held
    // when the last step ended: the server's own later events (the
    // worker's emotion tags of a backlog) may come after the clients stop.
    let finals = provision::last_seqs(&mut db, &rooms).await?;
    let owed = {
        rooms
            .iter()
            .enumerate()
            .map(|(r, id)| {
                finals.get(id).copied().unwrap_or(0).max(0) as u64
                    * shared.joined_in_room[r].load(Relaxed)
            })
            .sum::<u64>()
    };
    let drain_end = Instant::now() + args.deadline;
    while shared.received.load(Relaxed) < owed && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = phase_tx.send(Phase::Stop);
    let mut ends = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(e) = t.await {
            ends.push(e);
        }
    }
    // What the rooms held once sending ended: each joined client should
    // have all of it.
    let lost: u64 = ends
        .iter()
        .filter(|e| e.joined)
        .map(|e| {
            let want = finals.get(&rooms[e.room]).copied().unwrap_or(0) as u64;
            want.saturating_sub(e.received)
        })
        .sum();
    let sum = |f: fn(&StepStats) -> &AtomicU64| {
        shared.steps.iter().map(|s| f(s).load(Relaxed)).sum::<u64>()
    };
    let (dup, ooo) = (sum(|s| &s.duplicated), sum(|s| &s.out_of_order));
    println!(
        "--- parley-load: {joined} joined, {} failed; lost {lost}, duplicated {dup}, out of order {ooo}; highest rate held {}",
        shared.failed.load(Relaxed),
        best_held.map_or("none".into(), |r| format!("{r:.0} msg/s"))
    );
    out.emit(
        "fanout_summary",
        fields! {
            "connections" => slots.len(),
            "joined" => joined,
            "failed" => shared.failed.load(Relaxed),
            "rooms" => args.rooms,
            "steps_run" => ran,
            "held_rate" => best_held,
            "lost" => lost,
            "duplicated" => dup,
            "out_of_order" => ooo,
            "stored" => finals.values().sum::<i64>(),
        },
    );
    Ok(shared.failed.load(Relaxed) == 0 && lost == 0 && dup == 0 && ooo == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_holds_only_when_everything_does() {
        let args = match Args::parse(std::iter::empty()) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        assert!(held(99.0, 0.995, 1.0, 0, &args));
        assert!(!held(101.0, 1.0, 1.0, 0, &args));
        assert!(!held(10.0, 0.98, 1.0, 0, &args));
        assert!(!held(10.0, 1.0, 0.9, 0, &args));
        assert!(!held(10.0, 1.0, 1.0, 1, &args));
    }
}
