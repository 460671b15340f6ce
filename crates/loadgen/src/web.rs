//! What the page and sign-in benchmarks need: `seed` (a user, its session
//! token and a room with messages sent over the WebSocket, printed as JSON
//! for wrk's cookie) and `logins` (sign-ins through the website's API at a
//! fixed rate, each from one of 250 loopback addresses so the per-address
//! sign-in limit is not what is measured).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::protocol::ClientFrame;
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::args::Args;
use crate::frame::{Frame, scan};
use crate::hist::Hist;
use crate::{Failure, Out, fields, net, provision};

/// Addresses 127.0.2.1..=250 that sign-ins come from.
const LOGIN_SOURCES: u8 = 250;

pub async fn seed(args: &Args, out: &Out) -> Result<bool, Failure> {
    let tag = provision::run_tag();
    let mut db = provision::connect().await?;
    let users = provision::users(&mut db, &format!("seed-{tag}"), 1, "!no-login").await?;
    let user = users.first().ok_or("no user")?;
    let rooms = provision::rooms(&mut db, &format!("seed-{tag}"), 1, user.id).await?;
    let room = *rooms.first().ok_or("no room")?;
    let mut ws = net::open(&args.urls[0], &user.token, None).await?;
    ws.send(Message::text(
        ClientFrame::Join { room, since: None }.to_json(),
    ))
    .await?;
    for k in 0..args.messages {
        let body = format!(
            "Message {k} of the page benchmark, with **some** Markdown and a link https://example.com/{k}"
        );
        let frame = ClientFrame::Send {
            room,
            body,
            nonce: format!("seed.{k}"),
            reply_to: None,
            attachments: Vec::new(),
        };
        ws.send(Message::text(frame.to_json())).await?;
    }
    let mut stored = 0;
    while stored < args.messages {
        let m = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await?
            .ok_or("closed")??;
        if let Message::Text(t) = m {
            match scan(t.as_str()) {
                Frame::Message { .. } => stored += 1,
                Frame::Error { code, .. } => return Err(format!("send refused: {code}").into()),
                _ => {}
            }
        }
    }
    let _ = ws.close(None).await;
    let cookie = format!("{}={}", common::auth::token::SESSION_COOKIE, user.token);
    println!(
        "{}",
        serde_json::json!({"room": room, "user": user.name, "cookie": cookie})
    );
    out.emit("seed", fields! { "room" => room, "messages" => stored });
    Ok(true)
}

pub async fn logins(args: &Args, out: &Out) -> Result<bool, Failure> {
    let tag = provision::run_tag();
    let password = format!("bench-{tag}-password");
    let hasher = common::auth::password::PasswordHasher::new(1, 1, 0).await?;
    let hash = hasher.hash(&password).await?;
    let mut db = provision::connect().await?;
    let users = provision::users(&mut db, &format!("login-{tag}"), 1, &hash).await?;
    let login = users.first().ok_or("no user")?.name.clone();
    let base = args.urls[0].trim_end_matches('/').to_owned();
    let clients = (1..=LOGIN_SOURCES)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 2, i)))
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let latency = Arc::new(Hist::default());
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now();
    let end = start + args.duration;
    let mut tasks = Vec::new();
    let mut k = 0usize;
    while start + period.mul_f64(k as f64) < end {
        tokio::time::sleep_until(start + period.mul_f64(k as f64)).await;
        let client = clients[k % clients.len()].clone();
        let (url, latency, statuses) = (
            format!("{base}/api/v1/auth/login"),
            latency.clone(),
            statuses.clone(),
        );
        let body = serde_json::json!({"login": login, "password": password});
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let status = match client.post(&url).json(&body).send().await {
                Ok(r) => r.status().as_u16().to_string(),
                Err(e) => {
                    if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "error".into()
                    }
                }
            };
            latency.record(t0.elapsed().as_micros() as u64);
            if let Ok(mut s) = statuses.lock() {
                *s.entry(status).or_insert(0) += 1;
            }
        }));
        k += 1;
    }
    for t in tasks {
        let _ = t.await;
    }
    let statuses = statuses.lock().map(|s| s.clone()).unwrap_or_default();
    let ok = statuses.get("200").copied().unwrap_or(0);
    println!(
        "logins: {k} at {:.0}/s, {ok} answered 200 ({statuses:?}), p50 {:.0} ms, p99 {:.0} ms",
        args.rate,
        latency.quantile(0.5) as f64 / 1000.0,
        latency.quantile(0.99) as f64 / 1000.0
    );
    let mut f = fields! { "rate" => args.rate, "sent" => k, "ok" => ok, "statuses" => statuses };
    f.extend(latency.summary(""));
    out.emit("logins", f);
    Ok(ok as usize == k)
}
