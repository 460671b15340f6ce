//! `parley-load`: drives Parley's chat service the way real clients do and
//! reports what a benchmark needs: deliveries per second, latency from send
//! to receipt (p50, p99, p99.9, max), messages lost, duplicated and out of
//! order, and the server processes' memory per connection.
//!
//! Users, their sessions and the rooms are created directly in the stack's
//! database (DATABASE_URL) with tokens signed by its key (TOKEN_SIGNING_KEY):
//! the website's per-address limits would otherwise throttle the set-up.

mod args;
mod stats;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::auth::keys::SigningKeyMaterial;
use common::auth::token::TokenIssuer;
use common::domain::{Email, RoomName, Topic, Username};
use common::error::Code;
use common::protocol::{ClientFrame, ServerFrame};
use common::store::{rooms, sessions, users};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::args::Args;
use crate::stats::{Observed, percentile};

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    common::config::load_dotenv();
    match run(args).await {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("parley-load: {e}");
            ExitCode::from(2)
        }
    }
}

struct Plan {
    tokens: Vec<String>,
    rooms: Vec<i64>,
}

/// Creates the users (with sessions and tokens) and rooms of this run.
async fn provision(args: &Args) -> Result<Plan, Failure> {
    let url = common::config::required("DATABASE_URL")?;
    let key = SigningKeyMaterial::parse(
        "TOKEN_SIGNING_KEY",
        &common::config::required("TOKEN_SIGNING_KEY")?,
    )?;
    let issuer = TokenIssuer::new(&key);
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::hours(6);
    let mut tokens = Vec::new();
    for u in 0..args.connections.div_ceil(args.per_user) {
        let name = format!("load-{run}-{u}");
        let user = users::insert(
            &mut conn,
            &Username::parse(&name)?,
            &Email::parse(&format!("{name}@load.invalid"))?,
            "!no-login",
        )
        .await?;
        let session = sessions::create(&mut conn, user.id, until).await?;
        tokens.push(issuer.issue(user.id, &name, session.id, now, until)?.0);
    }
    let owner: i64 = {
        let claims =
            common::auth::token::TokenVerifier::new(&[key.public().clone()]).verify(&tokens[0])?;
        claims.user_id()?
    };
    let mut room_ids = Vec::new();
    for r in 0..args.rooms {
        let name = RoomName::parse(&format!("load-{run}-{r}"))?;
        room_ids.push(
            rooms::insert(&mut conn, &name, &Topic::parse("load test")?, owner)
                .await?
                .id,
        );
    }
    Ok(Plan {
        tokens,
        rooms: room_ids,
    })
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn total_rss(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// What one client does.
struct ClientPlan {
    url: String,
    token: String,
    room: i64,
    /// `Some` for senders: the interval between their sends.
    send_every: Option<Duration>,
    body_bytes: usize,
    epoch: Instant,
    drain: Duration,
}

/// The run's shared signals: joined (client to run), start and stop (run to clients).
struct Signals {
    joined: tokio::sync::mpsc::Sender<()>,
    start: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
}

/// One client: connects, joins, then sends (if a sender) and records what arrives.
async fn client(plan: ClientPlan, signals: Signals) -> Result<Observed, Failure> {
    let ClientPlan {
        url,
        token,
        room,
        send_every,
        body_bytes,
        epoch,
        drain,
    } = plan;
    let Signals {
        joined: joined_tx,
        start,
        mut stop,
    } = signals;
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(
        ClientFrame::Join { room, since: None }.to_json(),
    ))
    .await?;
    let mut seen = Observed {
        room,
        ..Observed::default()
    };
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"type\":\"joined\"") => break,
            Some(Ok(_)) => {}
            _ => return Err("closed before joined".into()),
        }
    }
    let _ = joined_tx.send(()).await;
    let mut start = start;
    let _ = start.wait_for(|s| *s).await;
    let mut ticker = send_every.map(|every| {
        let mut t = tokio::time::interval(every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        t
    });
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        let deadline =
            stopping.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep_until(deadline), if stopping.is_some() => break,
            _ = stop.changed(), if stopping.is_none() => {
                stopping = Some(tokio::time::Instant::now() + drain);
            }
            _ = async { ticker.as_mut().map(|t| t.tick()).unwrap_or_else(|| unreachable!()).await }, if ticker.is_some() && stopping.is_none() => {
                let stamp = format!("t={} ", epoch.elapsed().as_micros());
                let body = format!("{stamp}{}", "x".repeat(body_bytes.saturating_sub(stamp.len())));
                let nonce = format!("L{}", uuid::Uuid::new_v4().simple());
                sink.send(Message::text(ClientFrame::Send { room, body, nonce, reply_to: None }.to_json())).await?;
                seen.sent += 1;
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerFrame>(t.as_str()) {
                    Ok(ServerFrame::Message(m)) => {
                        let sent_us = m.body.strip_prefix("t=").and_then(|b| b.split(' ').next()).and_then(|n| n.parse::<u128>().ok());
                        let latency = sent_us.map(|s| (epoch.elapsed().as_micros().saturating_sub(s)).min(u32::MAX as u128) as u32);
                        seen.message(m.room, m.seq, latency);
                    }
                    // Every room event counts toward completeness, not only messages.
                    Ok(frame) if frame.sequenced().is_some() => {
                        if let Some((room, seq)) = frame.sequenced() {
                            seen.message(room, seq, None);
                        }
                    }
                    Ok(ServerFrame::Error { code, .. }) => {
                        if code == Code::RateLimited.as_str() { seen.rate_limited += 1 } else { seen.errors += 1 }
                    }
                    _ => {}
                },
                Some(Ok(_)) => {}
                _ => {
                    seen.closed_early = true;
                    break;
                }
            },
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    Ok(seen)
}

async fn run(args: Args) -> Result<bool, Failure> {
    println!(
        "provisioning {} connections over {} rooms ...",
        args.connections, args.rooms
    );
    let plan = provision(&args).await?;
    let rss_before = total_rss(&args.pids);
    let epoch = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (start_tx, start_rx) = watch::channel(false);
    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::channel(args.connections);
    // One sender per user first, so the per-user send limit is shared as little as possible.
    let mut order: Vec<usize> = (0..args.connections)
        .filter(|i| i % args.per_user == 0)
        .collect();
    order.extend((0..args.connections).filter(|i| i % args.per_user != 0));
    let senders: std::collections::HashSet<usize> = order.into_iter().take(args.senders).collect();
    let per_sender = args.rate / args.senders.max(1) as f64;
    let mut tasks = Vec::new();
    let room_of = |i: usize| plan.rooms[i % plan.rooms.len()];
    for i in 0..args.connections {
        let send_every = senders
            .contains(&i)
            .then(|| Duration::from_secs_f64(1.0 / per_sender));
        let plan = ClientPlan {
            url: args.urls[i % args.urls.len()].clone(),
            token: plan.tokens[i / args.per_user].clone(),
            room: room_of(i),
            send_every,
            body_bytes: args.body_bytes,
            epoch,
            drain: args.drain,
        };
        let signals = Signals {
            joined: joined_tx.clone(),
            start: start_rx.clone(),
            stop: stop_rx.clone(),
        };
        tasks.push(tokio::spawn(client(plan, signals)));
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    drop(joined_tx);
    let mut joined = 0;
    while joined < args.connections {
        match tokio::time::timeout(Duration::from_secs(30), joined_rx.recv()).await {
            Ok(Some(())) => joined += 1,
            _ => break,
        }
    }
    println!("{joined} of {} connections joined", args.connections);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = total_rss(&args.pids);
    let started = Instant::now();
    let _ = start_tx.send(true);
    tokio::time::sleep(args.duration).await;
    let _ = stop_tx.send(true);
    let elapsed = started.elapsed();
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(o)) => all.push(o),
            _ => failed += 1,
        }
    }
    // What the rooms really hold: each joined client should have all of it.
    let url = common::config::required("DATABASE_URL")?;
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let finals: std::collections::HashMap<i64, i64> = rooms::last_seqs(&mut conn, &plan.rooms)
        .await?
        .into_iter()
        .collect();
    let mut lost = 0u64;
    for o in &all {
        let expected = finals.get(&o.room).copied().unwrap_or(0) as u64;
        lost += expected.saturating_sub(o.received.get(&o.room).copied().unwrap_or(0));
    }
    let mut latencies: Vec<u32> = all
        .iter()
        .flat_map(|o| o.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let sum = |f: fn(&Observed) -> u64| all.iter().map(f).sum::<u64>();
    let (delivered, duplicated, reordered) = (
        sum(|o| o.delivered),
        sum(|o| o.duplicated),
        sum(|o| o.out_of_order),
    );
    let stored: i64 = finals.values().sum();
    let ms = |us: u32| us as f64 / 1000.0;
    println!("--- parley-load report ---");
    println!(
        "connections {} (failed {failed}, closed early {}), rooms {}, senders {}, offered {:.0} msg/s for {:.1} s",
        args.connections,
        all.iter().filter(|o| o.closed_early).count(),
        args.rooms,
        args.senders,
        args.rate,
        elapsed.as_secs_f64()
    );
    println!(
        "sent {}, stored {stored}, rate-limited {}, other errors {}",
        sum(|o| o.sent),
        sum(|o| o.rate_limited),
        sum(|o| o.errors)
    );
    println!(
        "delivered {delivered} ({:.0} deliveries/s)",
        delivered as f64 / (elapsed + args.drain).as_secs_f64().max(0.001)
    );
    println!(
        "latency ms: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 0.999)),
        ms(latencies.last().copied().unwrap_or(0))
    );
    println!("lost {lost}, duplicated {duplicated}, out of order {reordered}");
    if let (Some(before), Some(idle)) = (rss_before, rss_idle) {
        let per = (idle.saturating_sub(before) as f64 * 1024.0) / joined.max(1) as f64;
        println!(
            "server memory: {} KiB before, {} KiB with {joined} idle connections: {:.1} KiB per connection",
            before,
            idle,
            per / 1024.0
        );
    }
    Ok(failed == 0 && lost == 0 && duplicated == 0 && reordered == 0)
}
