//! `abuse`: one hostile signed-in user against the stack, through nginx,
//! while two ordinary users chat in the same room, and the verdict on
//! whether the ordinary users were protected.
//!
//! The room holds a few hundred stored messages of 2-4 KB, so every join
//! with `since` 0 asks for a full (1 MiB) replay. The hostile user
//! ([`hostile`]) holds sockets that never read and keep asking for that
//! replay, churns joins and leaves, floods `typing` and sends long
//! messages far beyond the send limit; the ordinary users
//! ([`ordinary`]) each send a few messages a second. It passes when the
//! ordinary users lost nothing, got nothing twice or out of order, their
//! delivery and echo p99 stayed under `--hold-p99-ms`, the chat processes'
//! memory (`--group`) grew less than `--max-rss-growth-mib`, a connection
//! beyond the per-user cap was refused, and (with `--metrics`) the chat
//! service itself cut off every socket that never read.

mod hostile;
mod observe;
mod ordinary;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::args::Args;
use crate::procstat::round2;
use crate::{Failure, Out, fields, net, provision};

use hostile::{Cap, Flood, Tally, Target};
use ordinary::{Held, Plan, Stats};

/// The ordinary users' addresses (`X-Forwarded-For`): each their own.
const ORDINARY_FROM: [&str; 2] = ["198.51.100.10", "198.51.100.11"];
/// Their names in the report (the accounts are provisioned names).
const ORDINARY_NAMES: [&str; 2] = ["alice", "bob"];
/// Sizes of the stored messages (bytes of body; the frames are about
/// twice that, with the HTML).
const BACKLOG_SIZES: (usize, usize) = (2000, 4000);
/// How often memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// The most opening the hostile sockets may take (nginx lets an address
/// upgrade 2 a second after a burst of 10: about 5 s).
const SETUP_LIMIT: Duration = Duration::from_secs(60);
/// The counter of connections the chat service cut off as too slow.
const SLOW_CONSUMERS: &str = "parley_chat_slow_consumers_total";
/// The counter of joins refused because their user spent the replay budget.
const REPLAYS_REFUSED: &str = "parley_chat_replays_refused_total";

/// Everything the verdict looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Messages the schedule asked of the ordinary users, and sent.
    pub scheduled: u64,
    pub sent: u64,
    pub refused: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub gaps: u64,
    /// Ordinary sockets the server ended.
    pub closed: u64,
    /// Arrivals at the other user, and their p99 (ms).
    pub delivered: u64,
    pub delivery_p99_ms: f64,
    pub echo_p99_ms: f64,
    /// `None` without `--group`.
    pub rss_growth_mib: Option<f64>,
    pub chat_alive: bool,
    pub cap: Cap,
    /// Slow consumers the chat service cut off while the hostile user ran
    /// (`None` without `--metrics`).
    pub cut_off: Option<u64>,
    /// Joins the chat service refused for the replay budget meanwhile
    /// (`None` without `--metrics`).
    pub replays_refused: Option<u64>,
    pub non_readers: usize,
}

/// The bounds an [`Outcome`] is held to.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub p99_ms: f64,
    pub rss_growth_mib: f64,
}

/// Every way the run failed, in words; empty when it passed.
pub fn failures(o: &Outcome, b: Bounds) -> Vec<String> {
    let mut f = Vec::new();
    if (o.sent as f64) < 0.95 * o.scheduled as f64 {
        f.push(format!(
            "the ordinary users sent only {} of {} messages",
            o.sent, o.scheduled
        ));
    }
    let counts = [
        (o.refused, "ordinary sends were refused"),
        (o.lost, "ordinary messages were lost"),
        (o.duplicated, "ordinary messages arrived twice"),
        (o.out_of_order, "ordinary messages arrived out of order"),
        (o.gaps, "seqs were skipped at an ordinary user"),
        (o.closed, "ordinary sockets were closed"),
    ];
    for (n, what) in counts {
        if n > 0 {
            f.push(format!("{n} {what}"));
        }
    }
    if o.delivered == 0 {
        f.push("no ordinary message reached the other user".into());
    }
    if o.delivery_p99_ms > b.p99_ms {
        f.push(format!(
            "delivery p99 {:.0} ms is over the bound of {:.0} ms",
            o.delivery_p99_ms, b.p99_ms
        ));
    }
    if o.echo_p99_ms > b.p99_ms {
        f.push(format!(
            "echo p99 {:.0} ms is over the bound of {:.0} ms",
            o.echo_p99_ms, b.p99_ms
        ));
    }
    if let Some(g) = o.rss_growth_mib
        && g > b.rss_growth_mib
    {
        f.push(format!(
            "chat memory grew {g:.0} MiB, over the bound of {:.0} MiB",
            b.rss_growth_mib
        ));
    }
    if !o.chat_alive {
        f.push("a chat process is gone".into());
    }
    match &o.cap {
        Cap::Refused => {}
        Cap::Admitted => f.push("a connection beyond the per-user cap was let in".into()),
        Cap::Unknown(how) => f.push(format!(
            "a connection beyond the per-user cap was neither let in nor refused by the cap: {how}"
        )),
    }
    // The sockets that never read must be held in check: cut off as too
    // slow, or refused the replays they keep asking for (the replay
    // budget), so that they never get what they ask for.
    if let Some(n) = o.cut_off
        && (n as usize) < o.non_readers
        && o.replays_refused.unwrap_or(0) == 0
    {
        f.push(format!(
            "the chat service cut off {n} slow consumers, fewer than the {} sockets that never read, \
             and refused no replay",
            o.non_readers
        ));
    }
    f
}

/// The accounts and the room of a run.
struct Cast {
    ordinary: Vec<provision::User>,
    /// The non-readers' account.
    stalling: provision::User,
    /// The flooders' account.
    flooding: provision::User,
    room: i64,
    stored: i64,
}

async fn provision_cast(args: &Args) -> Result<Cast, Failure> {
    let tag = provision::run_tag();
    let mut db = provision::connect().await?;
    // alice, bob, the hostile user's two accounts, and the room's owner,
    // who wrote its history and never connects.
    let mut users = provision::users(&mut db, &format!("abuse-{tag}"), 5, "!no-login").await?;
    let owner = users.pop().ok_or("no users")?;
    let rooms = provision::rooms(&mut db, &format!("abuse-{tag}"), 1, owner.id).await?;
    let room = *rooms.first().ok_or("no room")?;
    let stored = provision::backlog(&mut db, room, &owner, args.messages, BACKLOG_SIZES).await?;
    let flooding = users.pop().ok_or("no users")?;
    let stalling = users.pop().ok_or("no users")?;
    Ok(Cast {
        ordinary: users,
        stalling,
        flooding,
        room,
        stored,
    })
}

pub async fn run(args: &Args, out: &Out) -> Result<bool, Failure> {
    let url = args.urls.first().ok_or("no --url")?.clone();
    let bounds = Bounds {
        p99_ms: args.hold_p99_ms,
        rss_growth_mib: args.max_rss_growth_mib,
    };
    let cast = provision_cast(args).await?;
    println!(
        "abuse: room {} holds {} messages of {}-{} bytes; 2 ordinary users send {} msg/s each for {:.0} s \
         through {url}; bounds: p99 {:.0} ms, chat memory growth {:.0} MiB",
        cast.room,
        cast.stored,
        BACKLOG_SIZES.0,
        BACKLOG_SIZES.1,
        args.rate,
        args.duration.as_secs_f64(),
        bounds.p99_ms,
        bounds.rss_growth_mib
    );
    let metrics_before = match args.metrics.is_empty() {
        true => None,
        false => Some(observe::scrape(&args.metrics).await?),
    };

    // The ordinary users come first, each from their own address.
    let mut ordinary_ws = Vec::new();
    for (i, user) in cast.ordinary.iter().enumerate() {
        let from = ORDINARY_FROM[i % ORDINARY_FROM.len()];
        ordinary_ws
            .push(net::open_joined_from(&url, &user.token, None, Some(from), cast.room).await?);
    }
    let (mem_stop, mem_rx) = watch::channel(false);
    let memory = tokio::spawn(observe::watch_memory(
        args.groups.clone(),
        SAMPLE_EVERY,
        mem_rx,
    ));

    // The hostile user's sockets: the first account's to its cap, one more
    // (which must be refused), then the second account's two.
    let setup = Instant::now();
    let target = Arc::new(Target {
        url: url.clone(),
        room: cast.room,
        from: args.hostile_from.clone(),
    });
    let tally = Arc::new(Tally::default());
    let (hostile_stop, hostile_rx) = watch::channel(false);
    let opening = async {
        let mut stalled = Vec::new();
        for _ in 0..args.non_readers {
            stalled.push(hostile::open(&target, &cast.stalling.token, &tally, &hostile_rx).await?);
        }
        let cap = hostile::probe_cap(&target, &cast.stalling.token).await;
        let mut floods = Vec::new();
        for _ in [Flood::Churn, Flood::Typing] {
            floods.push(hostile::open(&target, &cast.flooding.token, &tally, &hostile_rx).await?);
        }
        Some((stalled, cap, floods))
    };
    let (stalled, cap, floods) = tokio::time::timeout(SETUP_LIMIT, opening)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            format!(
                "the hostile sockets could not be opened within {} s (refused: {:?})",
                SETUP_LIMIT.as_secs(),
                Tally::snapshot(&tally.refused)
            )
        })?;
    println!(
        "hostile user from {}: {} sockets that never read, a churner and a typer opened in {:.1} s; \
         one more socket beyond the cap: {cap:?}",
        args.hostile_from,
        args.non_readers,
        setup.elapsed().as_secs_f64()
    );

    // Go: the attack and the conversation at once.
    let stats = Arc::new(Stats::default());
    let epoch = std::time::Instant::now();
    let zero_us = 50_000;
    let start = Instant::now() + Duration::from_micros(zero_us);
    let end = start + args.duration;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let (chat_stop, chat_rx) = watch::channel(false);
    let mut people = Vec::new();
    let count = ordinary_ws.len() as u32;
    for (i, ws) in ordinary_ws.into_iter().enumerate() {
        let plan = Plan {
            // Staggered, so the two do not send at the same instant.
            start: start + period.mul_f64(i as f64 / f64::from(count)),
            end,
            period,
            body_bytes: args.body_bytes,
            epoch,
            zero_us,
        };
        let (stats, rx, room) = (stats.clone(), chat_rx.clone(), cast.room);
        people.push(tokio::spawn(async move {
            ordinary::chat(ws, i as u32, room, plan, &stats, rx).await
        }));
    }
    let mut attackers = Vec::new();
    for ws in stalled {
        attackers.push(tokio::spawn(hostile::non_reader(
            ws,
            target.clone(),
            cast.stalling.token.clone(),
            tally.clone(),
            hostile_rx.clone(),
        )));
    }
    for (kind, ws) in [Flood::Churn, Flood::Typing].into_iter().zip(floods) {
        attackers.push(tokio::spawn(hostile::flooder(
            kind,
            ws,
            target.clone(),
            cast.flooding.token.clone(),
            args.hostile_rate,
            tally.clone(),
            hostile_rx.clone(),
        )));
    }
    tokio::time::sleep_until(end).await;
    // Read while the hostile sockets are still open: what their closing
    // does to the server afterwards is not a cut-off.
    let metrics_after = match args.metrics.is_empty() {
        true => None,
        false => Some(observe::scrape(&args.metrics).await?),
    };
    let _ = hostile_stop.send(true);
    for a in attackers {
        let _ = a.await;
    }
    // Stragglers: until every accepted message reached both, or the grace.
    let grace_end = Instant::now() + args.grace;
    let owed = || {
        let accepted = stats.sent.load(Relaxed) - stats.refused.load(Relaxed);
        u64::from(count) * accepted
    };
    while stats.arrived.load(Relaxed) < owed() && Instant::now() < grace_end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = chat_stop.send(true);
    let mut held: Vec<Held> = Vec::new();
    for p in people {
        held.push(p.await?);
    }
    let _ = mem_stop.send(true);
    let memory = memory.await?;
    let delta = |name: &str| {
        let (before, after) = (metrics_before.as_ref()?, metrics_after.as_ref()?);
        let d = after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0);
        Some(d.max(0.0) as u64)
    };

    let lost: u64 = held.iter().map(|h| ordinary::lost(h, &held)).sum();
    let scheduled = u64::from(count) * (args.duration.as_secs_f64() * args.rate).floor() as u64;
    let outcome = Outcome {
        scheduled,
        sent: stats.sent.load(Relaxed),
        refused: stats.refused.load(Relaxed),
        lost,
        duplicated: stats.duplicated.load(Relaxed),
        out_of_order: stats.out_of_order.load(Relaxed),
        gaps: stats.gaps.load(Relaxed),
        closed: stats.closed.load(Relaxed),
        delivered: stats.delivery.count(),
        delivery_p99_ms: ms(stats.delivery.quantile(0.99)),
        echo_p99_ms: ms(stats.echo.quantile(0.99)),
        rss_growth_mib: (!args.groups.is_empty()).then(|| memory.growth_mib()),
        chat_alive: memory.alive,
        cap,
        cut_off: delta(SLOW_CONSUMERS),
        replays_refused: delta(REPLAYS_REFUSED),
        non_readers: args.non_readers,
    };
    let failed = failures(&outcome, bounds);
    report(
        args,
        &outcome,
        &stats,
        &held,
        &tally,
        &memory,
        delta(SLOW_CONSUMERS),
        &failed,
    );
    let mut f = fields! {
        "room_messages" => cast.stored,
        "duration_s" => args.duration.as_secs_f64(),
        "rate_per_user" => args.rate,
        "bound_p99_ms" => bounds.p99_ms,
        "bound_rss_growth_mib" => bounds.rss_growth_mib,
        "sent" => outcome.sent,
        "scheduled" => outcome.scheduled,
        "refused" => outcome.refused,
        "lost" => outcome.lost,
        "duplicated" => outcome.duplicated,
        "out_of_order" => outcome.out_of_order,
        "gaps" => outcome.gaps,
        "closed" => outcome.closed,
        "hostile_frames" => tally.frames.load(Relaxed),
        "hostile_replay_joins" => tally.replay_joins.load(Relaxed),
        "hostile_leaves" => tally.leaves.load(Relaxed),
        "hostile_typing" => tally.typing.load(Relaxed),
        "hostile_spam" => tally.spam.load(Relaxed),
        "hostile_opened" => tally.opened.load(Relaxed),
        "hostile_joined" => tally.joined.load(Relaxed),
        "hostile_rate_limited" => tally.rate_limited.load(Relaxed),
        "hostile_replayed_bytes" => tally.replayed_bytes.load(Relaxed),
        "hostile_stalled_writes" => tally.stalled_writes.load(Relaxed),
        "hostile_refused" => Tally::snapshot(&tally.refused),
        "hostile_closes" => Tally::snapshot(&tally.closes),
        "non_reader_lives_s" => tally.lives.lock().map(|l| l.clone()).unwrap_or_default(),
        "cap" => format!("{:?}", outcome.cap),
        "slow_consumers_cut_off" => outcome.cut_off,
        "rss_before_kib" => memory.before_kib,
        "rss_max_kib" => memory.max_kib,
        "rss_end_kib" => memory.last_kib,
        "rss_growth_mib" => outcome.rss_growth_mib.map(round2),
        "chat_alive" => memory.alive,
        "failures" => failed.clone(),
        "passed" => failed.is_empty(),
    };
    f.extend(stats.delivery.summary(""));
    f.extend(stats.echo.summary("echo_"));
    out.emit("abuse", f);
    Ok(failed.is_empty())
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The human report: one line of verdict, then the numbers.
#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    o: &Outcome,
    stats: &Stats,
    held: &[Held],
    tally: &Tally,
    memory: &observe::Memory,
    cut_off: Option<u64>,
    failed: &[String],
) {
    let per_user: Vec<String> = held
        .iter()
        .map(|h| format!("{} {}", ORDINARY_NAMES[h.who as usize % 2], h.sent))
        .collect();
    let errors = stats.errors.lock().map(|e| e.clone()).unwrap_or_default();
    println!(
        "ordinary: sent {} of {} scheduled ({}), refused {}, errors {errors:?}; \
         delivery to the other user: {} arrivals, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         own echo: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; lost {}, duplicated {}, out of order {}, \
         gaps {}, sockets closed {}; slowest deliveries {}",
        o.sent,
        o.scheduled,
        per_user.join(", "),
        o.refused,
        o.delivered,
        ms(stats.delivery.quantile(0.5)),
        o.delivery_p99_ms,
        ms(stats.delivery.max()),
        ms(stats.echo.quantile(0.5)),
        o.echo_p99_ms,
        ms(stats.echo.max()),
        o.lost,
        o.duplicated,
        o.out_of_order,
        o.gaps,
        o.closed,
        stats
            .slowest(3)
            .iter()
            .map(|(at, ms)| format!("{ms:.0} ms (sent at {at:.1} s)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "hostile: {} frames sent ({} joins with since 0, {} leaves, {} typing, {} messages of 4,000 characters) \
         at {:.0} frames/s per flooding socket; \
         {} sockets opened, upgrades refused {:?}; the reading sockets got {:.1} MiB of replays, \
         {} joins accepted, {} rate_limited answers; {} non-reader writes stalled; \
         sockets the server ended {:?}{}; {} open at the end",
        tally.frames.load(Relaxed),
        tally.replay_joins.load(Relaxed),
        tally.leaves.load(Relaxed),
        tally.typing.load(Relaxed),
        tally.spam.load(Relaxed),
        args.hostile_rate,
        tally.opened.load(Relaxed),
        Tally::snapshot(&tally.refused),
        tally.replayed_bytes.load(Relaxed) as f64 / 1048576.0,
        tally.joined.load(Relaxed),
        tally.rate_limited.load(Relaxed),
        tally.stalled_writes.load(Relaxed),
        Tally::snapshot(&tally.closes),
        tally.lives().map_or(String::new(), |(lo, hi)| format!(
            " (non-readers after {lo:.1}-{hi:.1} s)"
        )),
        tally.open_at_stop.load(Relaxed),
    );
    println!(
        "server: {}; one socket beyond the per-user cap: {:?}; chat memory ({}): {:.1} MiB before, \
         {:.1} MiB at most (+{:.1} MiB), {:.1} MiB at the end, {} samples{}",
        match (cut_off, o.replays_refused) {
            (Some(n), Some(r)) => format!(
                "the chat service cut off {n} slow consumers and refused {r} replays (the per-user replay budget)"
            ),
            _ => "slow consumers not counted (no --metrics)".into(),
        },
        o.cap,
        args.groups
            .iter()
            .map(|g| format!("{}={:?}", g.name, g.pids))
            .collect::<Vec<_>>()
            .join(" "),
        mib(memory.before_kib),
        mib(memory.max_kib),
        memory.growth_mib(),
        mib(memory.last_kib),
        memory.samples,
        if memory.alive {
            ""
        } else {
            "; a process is gone"
        }
    );
    let growth = o
        .rss_growth_mib
        .map_or("not measured (no --group)".into(), |g| {
            format!("+{g:.0} MiB")
        });
    if failed.is_empty() {
        println!(
            "--- abuse: PASS: ordinary delivery p99 {:.0} ms, echo p99 {:.0} ms (bound {:.0} ms), \
             chat memory {growth} (bound {:.0} MiB), nothing lost, duplicated or reordered",
            o.delivery_p99_ms, o.echo_p99_ms, args.hold_p99_ms, args.max_rss_growth_mib
        );
    } else {
        println!("--- abuse: FAIL: {}", failed.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Outcome {
        Outcome {
            scheduled: 120,
            sent: 120,
            refused: 0,
            lost: 0,
            duplicated: 0,
            out_of_order: 0,
            gaps: 0,
            closed: 0,
            delivered: 120,
            delivery_p99_ms: 40.0,
            echo_p99_ms: 30.0,
            rss_growth_mib: Some(20.0),
            chat_alive: true,
            cap: Cap::Refused,
            cut_off: Some(16),
            replays_refused: Some(0),
            non_readers: 16,
        }
    }

    const BOUNDS: Bounds = Bounds {
        p99_ms: 1000.0,
        rss_growth_mib: 150.0,
    };

    #[test]
    fn a_clean_run_passes() {
        assert!(failures(&good(), BOUNDS).is_empty());
        let unmeasured = Outcome {
            rss_growth_mib: None,
            cut_off: None,
            ..good()
        };
        assert!(failures(&unmeasured, BOUNDS).is_empty());
        // The non-readers held in check by the replay budget instead.
        let rationed = Outcome {
            cut_off: Some(0),
            replays_refused: Some(500),
            ..good()
        };
        assert!(failures(&rationed, BOUNDS).is_empty());
    }

    #[test]
    fn every_breach_is_named() {
        let cases = [
            (
                Outcome { lost: 2, ..good() },
                "2 ordinary messages were lost",
            ),
            (
                Outcome {
                    duplicated: 1,
                    ..good()
                },
                "arrived twice",
            ),
            (
                Outcome {
                    out_of_order: 1,
                    ..good()
                },
                "out of order",
            ),
            (
                Outcome {
                    refused: 1,
                    ..good()
                },
                "refused",
            ),
            (
                Outcome {
                    closed: 1,
                    ..good()
                },
                "sockets were closed",
            ),
            (
                Outcome {
                    sent: 100,
                    ..good()
                },
                "sent only 100 of 120",
            ),
            (
                Outcome {
                    delivery_p99_ms: 1500.0,
                    ..good()
                },
                "delivery p99 1500 ms",
            ),
            (
                Outcome {
                    echo_p99_ms: 1001.0,
                    ..good()
                },
                "echo p99",
            ),
            (
                Outcome {
                    rss_growth_mib: Some(300.0),
                    ..good()
                },
                "grew 300 MiB",
            ),
            (
                Outcome {
                    chat_alive: false,
                    ..good()
                },
                "gone",
            ),
            (
                Outcome {
                    cap: Cap::Admitted,
                    ..good()
                },
                "was let in",
            ),
            (
                Outcome {
                    cut_off: Some(3),
                    ..good()
                },
                "cut off 3 slow consumers",
            ),
            (
                Outcome {
                    cut_off: Some(3),
                    replays_refused: Some(0),
                    ..good()
                },
                "refused no replay",
            ),
            (
                Outcome {
                    delivered: 0,
                    ..good()
                },
                "no ordinary message",
            ),
        ];
        for (outcome, words) in cases {
            let f = failures(&outcome, BOUNDS);
            assert_eq!(f.len(), 1, "{f:?}");
            assert!(f[0].contains(words), "{f:?} should say {words:?}");
        }
    }
}
