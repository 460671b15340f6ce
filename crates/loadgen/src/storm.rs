//! `storm`: N clients joined to R rooms hold a few messages; all of them
//! drop at once; while they are away every room gets `--backlog` more;
//! then all reconnect at once with `join` + `since`. Measured: the time
//! from the reconnect until every client holds its room's last seq (in
//! order, nothing twice), and the history queries Postgres saw meanwhile
//! (pg_stat_statements when installed; `room_events` scans always).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::protocol::ClientFrame;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::args::{Args, layout};
use crate::frame::{Frame, scan};
use crate::hist::Hist;
use crate::procstat::round2;
use crate::{Failure, Out, fields, net, provision};

/// Messages each room gets before the drop (clients hold these).
const BEFORE: usize = 3;

#[derive(Default)]
struct Tally {
    caught_up: AtomicUsize,
    failed: AtomicUsize,
    retries: AtomicU64,
    truncated: AtomicU64,
    duplicated: AtomicU64,
    out_of_order: AtomicU64,
    gaps: AtomicU64,
    replayed: AtomicU64,
}

/// Joins `room` (with `since`) and reads until `target` is held; returns
/// the open socket and the last seq held.
async fn join_until(
    url: &str,
    token: &str,
    room: i64,
    since: Option<i64>,
    target: i64,
    source: Option<std::net::Ipv4Addr>,
    tally: &Tally,
) -> Result<(net::Ws, i64), Failure> {
    let mut ws = net::open(url, token, source).await?;
    ws.send(Message::text(ClientFrame::Join { room, since }.to_json()))
        .await?;
    let mut last = since.unwrap_or(0);
    let mut joined = false;
    while !(joined && last >= target) {
        let Some(m) = ws.next().await else {
            return Err("closed before caught up".into());
        };
        let Message::Text(t) = m? else { continue };
        match scan(t.as_str()) {
            Frame::Message { seq, .. } | Frame::Event { seq, .. } => {
                if seq <= last {
                    if seq == last {
                        tally.duplicated.fetch_add(1, Relaxed);
                    } else {
                        tally.out_of_order.fetch_add(1, Relaxed);
                    }
                    continue;
                }
                if seq > last + 1 {
                    tally.gaps.fetch_add((seq - last - 1) as u64, Relaxed);
                }
                last = seq;
                if since.is_some() {
                    tally.replayed.fetch_add(1, Relaxed);
                }
            }
            Frame::Joined { .. } => {
                joined = true;
                if t.as_str().contains("\"truncated\":true") {
                    tally.truncated.fetch_add(1, Relaxed);
                }
            }
            _ => {}
        }
    }
    Ok((ws, last))
}

/// Sends `n` messages to `room` and waits for their echoes; returns the
/// last seq seen.
async fn write(ws: &mut net::Ws, room: i64, n: usize, tag: &str) -> Result<i64, Failure> {
    for k in 0..n {
        let frame = ClientFrame::Send {
            room,
            body: format!("storm {tag} {k}"),
            nonce: format!("{tag}.{k}"),
            reply_to: None,
            attachments: Vec::new(),
        };
        ws.send(Message::text(frame.to_json())).await?;
    }
    let mut echoes = 0;
    let mut last = 0;
    while echoes < n {
        let m = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await?
            .ok_or("writer closed")??;
        let Message::Text(t) = m else { continue };
        match scan(t.as_str()) {
            Frame::Message { seq, .. } => {
                echoes += 1;
                last = last.max(seq);
            }
            Frame::Error { code, .. } => return Err(format!("writer got error {code}").into()),
            _ => {}
        }
    }
    Ok(last)
}

pub async fn run(args: &Args, out: &Out) -> Result<bool, Failure> {
    let slots = layout(args);
    let n = slots.len();
    let tag = provision::run_tag();
    println!(
        "provisioning {} users and {} rooms ...",
        n + args.rooms,
        args.rooms
    );
    let mut db = provision::connect().await?;
    let users = provision::users(
        &mut db,
        &format!("storm-{tag}"),
        n + args.rooms,
        "!no-login",
    )
    .await?;
    let rooms = provision::rooms(&mut db, &format!("storm-{tag}"), args.rooms, users[n].id).await?;
    let statements = provision::has_pg_stat_statements(&mut db).await;
    let tally = Arc::new(Tally::default());
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));

    // Writers, one per room, stay connected throughout.
    let mut writers = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        let url = &args.urls[r % args.urls.len()];
        let (ws, _) = join_until(url, &users[n + r].token, *room, None, 0, None, &tally).await?;
        writers.push(ws);
    }
    for (r, ws) in writers.iter_mut().enumerate() {
        write(ws, rooms[r], BEFORE, "before").await?;
    }
    // Everyone joins and holds the first messages.
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let (gate, tally) = (gate.clone(), tally.clone());
        let (url, token, room) = (
            args.urls[slot.url].clone(),
            users[i].token.clone(),
            rooms[slot.room],
        );
        let source = net::source_for(i, args.source_ips);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            join_until(&url, &token, room, Some(0), BEFORE as i64, source, &tally).await
        }));
    }
    let mut held = Vec::with_capacity(n);
    let mut failed_first = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(x)) => held.push(Some(x)),
            _ => {
                failed_first += 1;
                held.push(None);
            }
        }
    }
    println!(
        "{} of {n} joined in {:.1} s; dropping them all",
        n - failed_first,
        t0.elapsed().as_secs_f64()
    );
    // The drop: every socket goes at once, without a close handshake.
    let since: Vec<Option<i64>> = held.iter().map(|h| h.as_ref().map(|(_, s)| *s)).collect();
    drop(held);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut targets = Vec::with_capacity(rooms.len());
    for (r, ws) in writers.iter_mut().enumerate() {
        targets.push(write(ws, rooms[r], args.backlog, "away").await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = provision::counters(&mut db, &rooms, statements).await?;
    tally.replayed.store(0, Relaxed);
    // The storm.
    let reconnect = Arc::new(Semaphore::new(args.connect_concurrency));
    let caught = Arc::new(Hist::default());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let Some(since) = since[i] else { continue };
        let (gate, tally, caught) = (reconnect.clone(), tally.clone(), caught.clone());
        let (url, token, room) = (
            args.urls[slot.url].clone(),
            users[i].token.clone(),
            rooms[slot.room],
        );
        let target = targets[slot.room];
        let source = net::source_for(i, args.source_ips);
        let deadline = args.deadline;
        tasks.push(tokio::spawn(async move {
            let stop = start + deadline;
            loop {
                let permit = gate.clone().acquire_owned().await;
                let tried = tokio::time::timeout_at(
                    stop,
                    join_until(&url, &token, room, Some(since), target, source, &tally),
                )
                .await;
                drop(permit);
                match tried {
                    Ok(Ok((ws, _))) => {
                        caught.record(start.elapsed().as_micros() as u64);
                        tally.caught_up.fetch_add(1, Relaxed);
                        return Some(ws);
                    }
                    // Refused (say, the per-user cap still counts the dropped socket): again.
                    Ok(Err(_)) if Instant::now() < stop => {
                        tally.retries.fetch_add(1, Relaxed);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    _ => {
                        tally.failed.fetch_add(1, Relaxed);
                        return None;
                    }
                }
            }
        }));
    }
    let mut sockets = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(Some(ws)) = t.await {
            sockets.push(ws);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1500)).await; // statistics lag
    let delta = provision::counters(&mut db, &rooms, statements)
        .await?
        .since(&before);
    let clients = n - failed_first;
    let caught_up = tally.caught_up.load(Relaxed);
    let per = |v: i64| {
        if v < 0 {
            serde_json::Value::Null
        } else {
            round2(v as f64 / clients.max(1) as f64).into()
        }
    };
    println!(
        "storm: {caught_up} of {clients} caught up in {wall:.2} s (p50 {:.0} ms, p99 {:.0} ms), {} failed, {} retries; \
         history statements {} ({}/client), room_events scans {} ({}/client); dup {} ooo {} gaps {} truncated {}",
        caught.quantile(0.5) as f64 / 1000.0,
        caught.quantile(0.99) as f64 / 1000.0,
        tally.failed.load(Relaxed),
        tally.retries.load(Relaxed),
        delta.history_calls,
        per(delta.history_calls),
        delta.event_scans,
        per(delta.event_scans),
        tally.duplicated.load(Relaxed),
        tally.out_of_order.load(Relaxed),
        tally.gaps.load(Relaxed),
        tally.truncated.load(Relaxed),
    );
    let ok = caught_up == clients
        && tally.duplicated.load(Relaxed) == 0
        && tally.out_of_order.load(Relaxed) == 0;
    let mut f = fields! {
        "clients" => clients,
        "rooms" => args.rooms,
        "backlog" => args.backlog,
        "failed_first_join" => failed_first,
        "caught_up" => caught_up,
        "failed" => tally.failed.load(Relaxed),
        "retries" => tally.retries.load(Relaxed),
        "wall_s" => round2(wall),
        "replayed" => tally.replayed.load(Relaxed),
        "duplicated" => tally.duplicated.load(Relaxed),
        "out_of_order" => tally.out_of_order.load(Relaxed),
        "gaps" => tally.gaps.load(Relaxed),
        "truncated" => tally.truncated.load(Relaxed),
        "history_calls" => (delta.history_calls >= 0).then_some(delta.history_calls),
        "history_per_client" => per(delta.history_calls),
        "event_scans" => delta.event_scans,
        "event_scans_per_client" => per(delta.event_scans),
        "ok" => ok,
    };
    f.extend(caught.summary("catch_up_"));
    out.emit("storm", f);
    drop(sockets);
    Ok(ok)
}
