//! The hostile user of `abuse`: one person, all through nginx from one
//! address, with two accounts (the chat service caps a user at
//! `MAX_CONNECTIONS_PER_USER`, 16, connections, and someone who means harm
//! registers twice). The first account's sockets never read a byte: each
//! joins the room with `since` 0 (a full replay) and asks for it again every
//! [`REJOIN`], writing only. The second account's two sockets read
//! everything and flood: one churns joins with `since` 0 and leaves, the
//! other sends `typing` and, every [`SPAM_EVERY`]th frame, a message of
//! 4,000 characters, each at a fixed pace far beyond what the server
//! allows, ignoring every `rate_limited`. Whatever the server closes is
//! opened again at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use common::error::Code;
use common::protocol::ClientFrame;
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::Failure;
use crate::frame::{Frame, scan};
use crate::net::{self, Ws};

/// How often a non-reading socket asks for the whole history again: twice
/// the join limit's rate (`JOIN_PER_SEC`), so once its burst is spent half
/// are refused, which it ignores. Its replays fill the way to it (the
/// kernel's and nginx's buffers, some 10-20 MiB on loopback) within
/// seconds; from then on the chat service's write to it waits.
pub const REJOIN: Duration = Duration::from_millis(250);
/// How long a non-reader's write may wait before it counts as stalled.
const WRITE_WAIT: Duration = Duration::from_secs(2);
/// Between two tries at an upgrade nginx or the chat service refused.
const RETRY: Duration = Duration::from_millis(250);
/// How often a flooding socket writes what is due.
const PACE: Duration = Duration::from_millis(5);
/// The most frames a flooding socket writes at once (after a stall).
const MAX_BURST: u64 = 200;
/// Of the typer's frames, every this many is a long message instead
/// (every other one: a hundred messages a second at the default pace).
pub const SPAM_EVERY: u64 = 2;
/// The spam's length: the longest body a message may have.
const SPAM_BYTES: usize = 4000;

/// Where the hostile user goes, and as whom nginx sees them.
#[derive(Debug, Clone)]
pub struct Target {
    /// nginx's WebSocket URL.
    pub url: String,
    pub room: i64,
    /// Their address (`X-Forwarded-For`).
    pub from: String,
}

/// What the hostile user did and what the server did to them.
#[derive(Default)]
pub struct Tally {
    /// Every frame they sent.
    pub frames: AtomicU64,
    /// Joins with `since` 0 sent (non-readers and churner).
    pub replay_joins: AtomicU64,
    pub leaves: AtomicU64,
    pub typing: AtomicU64,
    /// Messages the typer tried to send.
    pub spam: AtomicU64,
    /// Sockets opened, the first ones and every reopening.
    pub opened: AtomicU64,
    /// Bytes of `message` frames the reading sockets got (replays).
    pub replayed_bytes: AtomicU64,
    /// `joined` answers the reading sockets got.
    pub joined: AtomicU64,
    /// `rate_limited` answers the reading sockets got.
    pub rate_limited: AtomicU64,
    /// Non-reader writes that did not go through within [`WRITE_WAIT`].
    pub stalled_writes: AtomicU64,
    /// Sockets still open when told to stop.
    pub open_at_stop: AtomicU64,
    /// Upgrades refused, by how ("HTTP 429 rate_limited" is nginx's pace).
    pub refused: Mutex<BTreeMap<String, u64>>,
    /// Sockets the server ended, by role and how.
    pub closes: Mutex<BTreeMap<String, u64>>,
    /// How long each non-reader the server ended had been open (s).
    pub lives: Mutex<Vec<f64>>,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: String) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key).or_insert(0) += 1;
    }
}

impl Tally {
    /// The shortest and longest life of a non-reader the server ended (s).
    pub fn lives(&self) -> Option<(f64, f64)> {
        let lives = self.lives.lock().ok()?;
        let min = lives.iter().copied().reduce(f64::min)?;
        let max = lives.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    /// A copy of a map of counts.
    pub fn snapshot(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
        map.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// How an upgrade was refused, for counting.
fn refusal_name(e: &Failure) -> String {
    match net::refusal(e) {
        Some((status, code)) if code.is_empty() => format!("HTTP {status}"),
        Some((status, code)) => format!("HTTP {status} {code}"),
        None => net::kind_of(e),
    }
}

/// Opens a socket for `token`, trying again while nginx or the chat
/// service refuses (each refusal counted), until `stop`.
pub async fn open(
    target: &Target,
    token: &str,
    tally: &Tally,
    stop: &watch::Receiver<bool>,
) -> Option<Ws> {
    loop {
        if *stop.borrow() {
            return None;
        }
        match net::open_from(&target.url, token, None, Some(&target.from)).await {
            Ok(ws) => {
                tally.opened.fetch_add(1, Relaxed);
                return Some(ws);
            }
            Err(e) => {
                bump(&tally.refused, refusal_name(&e));
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// What a connection beyond the per-user cap got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    /// 429 `too_many_connections` from the chat service.
    Refused,
    /// It was let in.
    Admitted,
    /// Something else, or nginx kept refusing.
    Unknown(String),
}

/// Tries one connection more for a user that holds its cap already,
/// through nginx's per-address pace, for up to 15 s.
pub async fn probe_cap(target: &Target, token: &str) -> Cap {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match net::open_from(&target.url, token, None, Some(&target.from)).await {
            Ok(mut ws) => {
                let _ = ws.close(None).await;
                return Cap::Admitted;
            }
            Err(e) => match net::refusal(&e) {
                Some((429, code)) if code == Code::TooManyConnections.as_str() => {
                    return Cap::Refused;
                }
                Some((429, _)) if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
                _ => return Cap::Unknown(refusal_name(&e)),
            },
        }
    }
}

/// One socket of the first account, never read: joins with a full replay
/// and asks for it again every [`REJOIN`] until `stop`; when a write fails
/// (the server ended it) it is counted and opened again.
pub async fn non_reader(
    first: Ws,
    target: Arc<Target>,
    token: String,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let join = Message::text(
        ClientFrame::Join {
            room: target.room,
            since: Some(0),
        }
        .to_json(),
    );
    let mut ws = first;
    loop {
        let born = Instant::now();
        loop {
            if *stop.borrow() {
                tally.open_at_stop.fetch_add(1, Relaxed);
                return;
            }
            match tokio::time::timeout(WRITE_WAIT, ws.send(join.clone())).await {
                Ok(Ok(())) => {
                    tally.frames.fetch_add(1, Relaxed);
                    tally.replay_joins.fetch_add(1, Relaxed);
                }
                Ok(Err(_)) => break,
                Err(_) => {
                    tally.stalled_writes.fetch_add(1, Relaxed);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(REJOIN) => {}
                _ = stop.changed() => {}
            }
        }
        // Its close frame, if the server could send one, is behind what
        // was never read.
        bump(&tally.closes, "non-reader: ended (seen on a write)".into());
        if let Ok(mut lives) = tally.lives.lock() {
            lives.push(born.elapsed().as_secs_f64());
        }
        ws = match open(&target, &token, &tally, &stop).await {
            Some(ws) => ws,
            None => return,
        };
    }
}

/// What a reading socket of the second account floods the room with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// Joins with `since` 0 and leaves, alternately.
    Churn,
    /// `typing` and now and then a long message (after one join, which
    /// both need).
    Typing,
}

impl Flood {
    fn role(self) -> &'static str {
        match self {
            Self::Churn => "churner",
            Self::Typing => "typer",
        }
    }
}

/// One flooding socket of the second account: floods at `rate` frames a
/// second until `stop`, reading everything; opened again when the server
/// ends it.
pub async fn flooder(
    kind: Flood,
    first: Ws,
    target: Arc<Target>,
    token: String,
    rate: f64,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ws = first;
    loop {
        match flood(kind, ws, &target, rate, &tally, &mut stop).await {
            None => return,
            Some(how) => bump(&tally.closes, format!("{}: {how}", kind.role())),
        }
        ws = match open(&target, &token, &tally, &stop).await {
            Some(ws) => ws,
            None => return,
        };
    }
}

/// The frame a flood sends as its `k`-th.
fn flood_frame(kind: Flood, room: i64, k: u64) -> ClientFrame {
    match kind {
        Flood::Churn if k.is_multiple_of(2) => ClientFrame::Join {
            room,
            since: Some(0),
        },
        Flood::Churn => ClientFrame::Leave { room },
        Flood::Typing if k % SPAM_EVERY == SPAM_EVERY - 1 => ClientFrame::Send {
            room,
            body: spam_body(k),
            nonce: format!("spam.{k}"),
            reply_to: None,
            attachments: Vec::new(),
        },
        Flood::Typing => ClientFrame::Typing { room },
    }
}

/// A message of [`SPAM_BYTES`] that no ordinary user's stamp can be
/// mistaken for.
fn spam_body(k: u64) -> String {
    let mut body = format!("spam {k} ");
    body.extend(std::iter::repeat_n('z', SPAM_BYTES - body.len()));
    body
}

/// Floods on one socket until `stop` (`None`) or until the server ends it
/// (how, `Some`). Reading goes on in a task of its own, so a write that
/// waits never keeps the socket from being read.
async fn flood(
    kind: Flood,
    ws: Ws,
    target: &Target,
    rate: f64,
    tally: &Arc<Tally>,
    stop: &mut watch::Receiver<bool>,
) -> Option<String> {
    let (mut sink, stream) = ws.split();
    let mut reader = tokio::spawn(read_all(stream, tally.clone()));
    let room = target.room;
    let mut sent = 0u64;
    if kind == Flood::Typing {
        let join = ClientFrame::Join { room, since: None };
        if sink.send(Message::text(join.to_json())).await.is_err() {
            return Some(ended(reader).await);
        }
        tally.frames.fetch_add(1, Relaxed);
    }
    let start = Instant::now();
    let mut tick = tokio::time::interval(PACE);
    loop {
        tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() {
                    reader.abort();
                    tally.open_at_stop.fetch_add(1, Relaxed);
                    return None;
                }
            }
            how = &mut reader => return Some(how.unwrap_or_else(|_| "reader failed".into())),
            _ = tick.tick() => {
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                let burst = due.saturating_sub(sent).min(MAX_BURST);
                for _ in 0..burst {
                    let frame = flood_frame(kind, room, sent);
                    if sink.feed(Message::text(frame.to_json())).await.is_err() {
                        return Some(ended(reader).await);
                    }
                    sent += 1;
                    tally.frames.fetch_add(1, Relaxed);
                    let count = match frame {
                        ClientFrame::Join { .. } => &tally.replay_joins,
                        ClientFrame::Leave { .. } => &tally.leaves,
                        ClientFrame::Send { .. } => &tally.spam,
                        _ => &tally.typing,
                    };
                    count.fetch_add(1, Relaxed);
                }
                if burst > 0 && sink.flush().await.is_err() {
                    return Some(ended(reader).await);
                }
                // Skipped beyond the burst: the pace restarts from here.
                sent = sent.max(due.saturating_sub(MAX_BURST));
            }
        }
    }
}

/// How a socket whose write failed ended, as its reader saw it.
async fn ended(reader: tokio::task::JoinHandle<String>) -> String {
    match tokio::time::timeout(Duration::from_secs(2), reader).await {
        Ok(Ok(how)) => how,
        _ => "gone (seen on a write)".into(),
    }
}

/// Reads every frame, counting replays, `joined` and `rate_limited`
/// answers, until the socket ends; says how it ended.
async fn read_all(mut stream: SplitStream<Ws>, tally: Arc<Tally>) -> String {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => match scan(t.as_str()) {
                Frame::Message { .. } => {
                    tally.replayed_bytes.fetch_add(t.len() as u64, Relaxed);
                }
                Frame::Joined { .. } => {
                    tally.joined.fetch_add(1, Relaxed);
                }
                Frame::Error { code, .. } if code == Code::RateLimited.as_str() => {
                    tally.rate_limited.fetch_add(1, Relaxed);
                }
                _ => {}
            },
            Some(Ok(Message::Close(frame))) => return close_name(frame),
            Some(Ok(_)) => {}
            Some(Err(e)) => return format!("error {}", net::kind_of(&e.into())),
            None => return "ended without a close frame".into(),
        }
    }
}

/// "close 1013" and the like.
fn close_name(frame: Option<CloseFrame>) -> String {
    match frame {
        Some(f) => format!("close {}", u16::from(f.code)),
        None => "close without a code".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_churn_alternates_joins_with_a_replay_and_leaves() {
        assert_eq!(
            flood_frame(Flood::Churn, 7, 0),
            ClientFrame::Join {
                room: 7,
                since: Some(0)
            }
        );
        assert_eq!(
            flood_frame(Flood::Churn, 7, 1),
            ClientFrame::Leave { room: 7 }
        );
        assert_eq!(
            flood_frame(Flood::Typing, 7, SPAM_EVERY),
            ClientFrame::Typing { room: 7 }
        );
        let ClientFrame::Send { body, .. } = flood_frame(Flood::Typing, 7, SPAM_EVERY - 1) else {
            panic!("every SPAM_EVERY-th typer frame is a message");
        };
        assert_eq!(body.len(), SPAM_BYTES);
        assert!(common::domain::MessageBody::parse(&body).is_ok());
        let frame = format!(r#"{{"type":"message","room":7,"seq":1,"body":"{body}"}}"#);
        let unstamped = Frame::Message {
            room: 7,
            seq: 1,
            stamp: None,
        };
        assert_eq!(scan(&frame), unstamped);
    }

    #[test]
    fn close_frames_are_named_by_their_code() {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
        let frame = CloseFrame {
            code: CloseCode::from(1013),
            reason: "too slow".into(),
        };
        assert_eq!(close_name(Some(frame)), "close 1013");
        assert_eq!(close_name(None), "close without a code");
    }
}
