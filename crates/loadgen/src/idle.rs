//! `idle`: connections joined to their rooms and left idle, added in steps
//! (`--steps 10000,20000,...` are cumulative totals): per step the connect
//! wall time and latency (open + join), failures by kind, and the memory
//! growth per connection of the process groups (`--group`) since before
//! the first connection.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::args::{Args, layout};
use crate::hist::Hist;
use crate::procstat::{self, round2};
use crate::{Failure, Out, fields, net, provision};

#[derive(Default)]
struct Tally {
    joined: AtomicUsize,
    failed: AtomicUsize,
    kinds: Mutex<BTreeMap<String, usize>>,
}

#[allow(clippy::too_many_arguments)]
async fn hold(
    url: String,
    token: String,
    room: i64,
    source: Option<std::net::Ipv4Addr>,
    gate: Arc<Semaphore>,
    connect: Arc<Hist>,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let permit = gate.acquire_owned().await;
    let t0 = Instant::now();
    let opened = net::open_joined(&url, &token, source, room).await;
    drop(permit);
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            tally.failed.fetch_add(1, Relaxed);
            if let Ok(mut k) = tally.kinds.lock() {
                *k.entry(net::kind_of(&e)).or_insert(0) += 1;
            }
            return;
        }
    };
    connect.record(t0.elapsed().as_micros() as u64);
    tally.joined.fetch_add(1, Relaxed);
    // Idle, answering pings (reading does), until told to stop.
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => if !matches!(m, Some(Ok(_))) { break },
        }
    }
    let _ = ws.close(None).await;
}

pub async fn run(args: &Args, out: &Out) -> Result<bool, Failure> {
    let total = args.steps.iter().fold(0.0f64, |a, b| a.max(*b)) as usize;
    let mut sized = args.clone();
    sized.members = crate::args::Members::Spread(total.max(args.rooms));
    let slots = layout(&sized);
    let tag = provision::run_tag();
    println!(
        "provisioning {} users and {} rooms ...",
        slots.len(),
        args.rooms
    );
    let mut db = provision::connect().await?;
    // One more user owns the rooms and never connects (see `fanout`).
    let users = provision::users(
        &mut db,
        &format!("idle-{tag}"),
        slots.len() + 1,
        "!no-login",
    )
    .await?;
    let owner = users.last().ok_or("no users")?.id;
    let rooms = provision::rooms(&mut db, &format!("idle-{tag}"), args.rooms, owner).await?;
    drop(db);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let tally = Arc::new(Tally::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let baseline = procstat::sample(&args.groups);
    let mut tasks = Vec::new();
    let mut next = 0usize;
    let mut clean = true;
    let mut most = 0usize;
    for (index, target) in args.steps.iter().enumerate() {
        let target = (*target as usize).min(slots.len());
        let connect = Arc::new(Hist::default());
        let (joined0, failed0) = (tally.joined.load(Relaxed), tally.failed.load(Relaxed));
        let started = Instant::now();
        let deadline = started + args.deadline;
        let new = target.saturating_sub(next);
        for i in next..target {
            let slot = slots[i];
            tasks.push(tokio::spawn(hold(
                args.urls[slot.url].clone(),
                users[i].token.clone(),
                rooms[slot.room],
                net::source_for(i, args.source_ips),
                gate.clone(),
                connect.clone(),
                tally.clone(),
                stop_rx.clone(),
            )));
        }
        next = target.max(next);
        let done = || tally.joined.load(Relaxed) + tally.failed.load(Relaxed) - joined0 - failed0;
        while done() < new && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wall = started.elapsed().as_secs_f64();
        tokio::time::sleep(args.settle).await;
        let now = procstat::sample(&args.groups);
        let joined = tally.joined.load(Relaxed);
        let failed_step = tally.failed.load(Relaxed) - failed0;
        let pending = new - done().min(new);
        most = most.max(joined);
        let mut f = fields! {
            "step" => index,
            "target" => target,
            "joined" => joined,
            "new" => new,
            "failed" => failed_step,
            "pending" => pending,
            "wall_s" => round2(wall),
            "connect_p50_ms" => round2(connect.quantile(0.5) as f64 / 1000.0),
            "connect_p99_ms" => round2(connect.quantile(0.99) as f64 / 1000.0),
            "connect_max_ms" => round2(connect.max() as f64 / 1000.0),
            "failures" => tally.kinds.lock().map(|k| k.clone()).unwrap_or_default(),
        };
        let mut line = String::new();
        for ((g, b), a) in args.groups.iter().zip(&baseline).zip(&now) {
            let per = a.rss_kib.saturating_sub(b.rss_kib) as f64 / joined.max(1) as f64;
            f.insert(format!("{}_rss_kib", g.name), a.rss_kib.into());
            f.insert(format!("{}_rss_base_kib", g.name), b.rss_kib.into());
            f.insert(format!("{}_kib_per_conn", g.name), round2(per).into());
            line += &format!(", {} {:.2} KiB/conn", g.name, per);
        }
        println!(
            "step {index}: {joined} joined ({failed_step} failed, {pending} pending) in {wall:.1} s, \
             connect p99 {:.0} ms{line}",
            connect.quantile(0.99) as f64 / 1000.0
        );
        out.emit("idle_step", f);
        if failed_step + pending > new / 100 {
            clean = false;
            break;
        }
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    out.emit(
        "idle_summary",
        fields! { "most_joined" => most, "failures" => tally.kinds.lock().map(|k| k.clone()).unwrap_or_default() },
    );
    Ok(clean)
}
