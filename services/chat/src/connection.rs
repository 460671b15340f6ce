//! One WebSocket connection's task: reads the client's frames, writes what
//! its rooms send it (from a bounded queue), pings, and closes it when told
//! (logout, expiry, a full queue, shutdown) with the matching code.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use common::messaging::{self, Outlet, Sent};
use common::protocol::{ClientFrame, ServerFrame, UserRef};
use common::store::rooms;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::errors::{error_frame, protocol_error};
use crate::hub::Delivery;
use crate::inbound::{Inbound, classify};
use crate::registry::{ConnEntry, ConnId, Kick, close};
use crate::room::{Member, Outbound};
use crate::state::ChatState;

/// Frames larger than this close the connection with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// Rooms one connection may be in at once.
const MAX_ROOMS: usize = 100;
/// At most one `typing` per room per connection in this interval.
const TYPING_EVERY: Duration = Duration::from_secs(1);
/// How long a close frame may take to go out.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Who is on the other end.
pub struct Peer {
    pub id: ConnId,
    pub user: UserRef,
    pub session_id: Uuid,
    pub token_expires_at: DateTime<Utc>,
}

type SendFuture = Pin<Box<dyn Future<Output = (String, common::Result<Sent>)>>>;

struct Conn {
    state: Arc<ChatState>,
    peer: Peer,
    session: Session,
    tx: mpsc::Sender<Outbound>,
    kick: Arc<Kick>,
    joined: HashSet<i64>,
    typing_at: HashMap<i64, Instant>,
}

/// Why the loop ended: a close code to send, or the peer is already gone.
enum End {
    Close(u16, &'static str),
    Gone,
}

/// Runs the connection until it ends; cleans up after it.
pub async fn run(
    state: Arc<ChatState>,
    peer: Peer,
    session: Session,
    stream: actix_ws::MessageStream,
) {
    let (tx, mut rx) = mpsc::channel(state.config.outbound_queue);
    let kick = Arc::new(Kick::default());
    state.registry.insert(
        peer.id,
        ConnEntry {
            user_id: peer.user.id,
            session_id: peer.session_id,
            kick: kick.clone(),
        },
    );
    state.metrics.connections.inc();
    let mut stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    let mut conn = Conn {
        state: state.clone(),
        peer,
        session,
        tx,
        kick,
        joined: HashSet::new(),
        typing_at: HashMap::new(),
    };

    let ping_every = state.config.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_seen = Instant::now();
    let expiry = (conn.peer.token_expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let expires = tokio::time::sleep(expiry);
    tokio::pin!(expires);
    let mut inflight: Option<SendFuture> = None;
    let kick = conn.kick.clone();

    let end = loop {
        tokio::select! {
            biased;
            code = kick.kicked() => break End::Close(code, reason(code)),
            _ = &mut expires => break End::Close(close::POLICY, "session expired"),
            out = rx.recv() => {
                let written = match out {
                    Some(Outbound::Frame(frame)) => conn.write(frame).await,
                    Some(Outbound::Batch(frames)) => {
                        let mut ok = true;
                        for frame in frames {
                            if !conn.write(frame).await {
                                ok = false;
                                break;
                            }
                        }
                        ok
                    }
                    None => true,
                };
                if !written {
                    break End::Gone;
                }
            }
            (reference, result) = async { inflight.as_mut().unwrap_or_else(|| unreachable!()).await }, if inflight.is_some() => {
                inflight = None;
                if !conn.sent(reference, result).await {
                    break End::Gone;
                }
            }
            msg = stream.recv(), if inflight.is_none() => {
                last_seen = Instant::now();
                match msg {
                    None => break End::Gone,
                    Some(Err(ProtocolError::Overflow)) => break End::Close(1009, "frame over 64 KiB"),
                    Some(Err(ProtocolError::Io(e))) if e.to_string().contains("continuation size") => {
                        break End::Close(1009, "frame over 64 KiB")
                    }
                    Some(Err(_)) => break End::Close(1002, "protocol error"),
                    Some(Ok(AggregatedMessage::Binary(_))) => break End::Close(1003, "binary frames are not accepted"),
                    Some(Ok(AggregatedMessage::Close(_))) => break End::Close(1000, "bye"),
                    Some(Ok(AggregatedMessage::Ping(p))) => {
                        if !conn.control(conn.session.clone().pong(&p)).await {
                            break End::Gone;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Text(text))) => match conn.text(&text).await {
                        Step::Continue => {}
                        Step::Send(fut) => inflight = Some(fut),
                        Step::Close(code, why) => break End::Close(code, why),
                        Step::Gone => break End::Gone,
                    },
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() >= state.config.idle_timeout {
                    break End::Close(close::GOING_AWAY, "no sign of life for 60 s");
                }
                if !conn.control(conn.session.clone().ping(b"")).await {
                    break End::Gone;
                }
            }
        }
    };

    for room in conn.joined.drain() {
        state.hub.leave(room, conn.peer.id);
    }
    state.registry.remove(conn.peer.id);
    state.metrics.connections.dec();
    if let Err(e) = state
        .conn_limit
        .release(conn.peer.user.id, conn.peer.id)
        .await
    {
        tracing::warn!(error = %e, "could not release a connection slot; it expires");
    }
    // A write cut short by a kick ends as that kick's close.
    let end = match (end, conn.kick.code()) {
        (End::Gone, Some(code)) => End::Close(code, reason(code)),
        (end, _) => end,
    };
    if let End::Close(code, why) = end {
        let reason = CloseReason {
            code: CloseCode::from(code),
            description: Some(why.into()),
        };
        // A client that stopped reading cannot take a close frame either.
        let _ = tokio::time::timeout(CLOSE_WAIT, conn.session.close(Some(reason))).await;
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        close::POLICY => "session ended",
        close::TRY_AGAIN_LATER => "too slow: reconnect and resume with since",
        _ => "server going away",
    }
}

enum Step {
    Continue,
    Send(SendFuture),
    Close(u16, &'static str),
    Gone,
}

impl Conn {
    /// Writes a frame unless the socket is gone or the connection is kicked
    /// meanwhile (a client that stopped reading blocks the write).
    async fn write(&mut self, frame: ByteString) -> bool {
        let kick = self.kick.clone();
        tokio::select! {
            biased;
            _ = kick.kicked() => false,
            written = self.session.text(frame) => written.is_ok(),
        }
    }

    /// Sends a ping or pong the same way.
    async fn control(&self, send: impl Future<Output = Result<(), actix_ws::Closed>>) -> bool {
        tokio::select! {
            biased;
            _ = self.kick.kicked() => false,
            sent = send => sent.is_ok(),
        }
    }

    async fn reply(&mut self, frame: ByteString) -> Step {
        if self.write(frame).await {
            Step::Continue
        } else {
            Step::Gone
        }
    }

    async fn text(&mut self, text: &str) -> Step {
        match classify(text) {
            Inbound::Close(code, why) => Step::Close(code, why),
            Inbound::Reject {
                code,
                message,
                reference,
            } => self.reply(protocol_error(code, message, reference)).await,
            Inbound::Frame(frame) => self.frame(frame).await,
        }
    }

    async fn frame(&mut self, frame: ClientFrame) -> Step {
        match frame {
            ClientFrame::Join { room, since } => self.join(room, since).await,
            ClientFrame::Leave { room } => {
                if !self.joined.remove(&room) {
                    return self
                        .reply(protocol_error(
                            "not_joined",
                            "this connection is not in that room",
                            Some(room.to_string()),
                        ))
                        .await;
                }
                self.state.hub.leave(room, self.peer.id);
                self.reply(ServerFrame::Left { room }.to_json().into())
                    .await
            }
            ClientFrame::Send { room, body, nonce } => {
                if !self.joined.contains(&room) {
                    let msg = "join the room before sending to it";
                    return self
                        .reply(protocol_error("not_joined", msg, Some(nonce)))
                        .await;
                }
                // A send ends a burst of typing: the next keystroke is news again.
                self.typing_at.remove(&room);
                let state = self.state.clone();
                let user = self.peer.user.clone();
                Step::Send(Box::pin(async move {
                    let outlet = Outlet {
                        writer: &state.writer,
                        limiter: &state.limiter,
                        redis: &state.redis,
                        redis_prefix: &state.config.common.redis_prefix,
                    };
                    let result =
                        messaging::send(&outlet, user.id, &user.name, room, &body, &nonce).await;
                    (nonce, result)
                }))
            }
            ClientFrame::Typing { room } => {
                if !self.joined.contains(&room) {
                    return self
                        .reply(protocol_error(
                            "not_joined",
                            "join the room first",
                            Some(room.to_string()),
                        ))
                        .await;
                }
                let now = Instant::now();
                if self
                    .typing_at
                    .get(&room)
                    .is_some_and(|t| now.duration_since(*t) < TYPING_EVERY)
                {
                    return Step::Continue;
                }
                self.typing_at.insert(room, now);
                let frame = ServerFrame::Typing {
                    room,
                    user: self.peer.user.clone(),
                }
                .to_json();
                let prefix = &self.state.config.common.redis_prefix;
                if let Err(e) = common::fanout::publish_event(
                    &self.state.redis,
                    prefix,
                    room,
                    self.peer.user.id,
                    &frame,
                )
                .await
                {
                    return self.reply(error_frame(&e, Some(room.to_string()))).await;
                }
                Step::Continue
            }
        }
    }

    async fn join(&mut self, room: i64, since: Option<i64>) -> Step {
        let reference = Some(room.to_string());
        if since.is_some_and(|s| s < 0) {
            return self
                .reply(protocol_error(
                    "bad_request",
                    "since must be 0 or more",
                    reference,
                ))
                .await;
        }
        if !self.joined.contains(&room) && self.joined.len() >= MAX_ROOMS {
            return self
                .reply(protocol_error(
                    "bad_request",
                    "a connection can be in at most 100 rooms",
                    reference,
                ))
                .await;
        }
        let exists = async {
            let mut conn = self.state.pool.get().await?;
            rooms::exists(&mut conn, room).await
        };
        match exists.await {
            Ok(true) => {}
            Ok(false) => {
                return self
                    .reply(protocol_error(
                        "room_not_found",
                        "there is no such room",
                        reference,
                    ))
                    .await;
            }
            Err(e) => return self.reply(error_frame(&e, reference)).await,
        }
        self.joined.insert(room);
        let member = Member {
            conn: self.peer.id,
            user: self.peer.user.clone(),
            tx: self.tx.clone(),
            kick: self.kick.clone(),
        };
        self.state.hub.join(room, member, since);
        Step::Continue
    }

    /// A send finished: a new message goes to the room (the sender's copy is
    /// its acknowledgement); a repeated nonce answers only the sender.
    async fn sent(&mut self, nonce: String, result: common::Result<Sent>) -> bool {
        match result {
            Ok(sent) if sent.created => {
                self.state.metrics.messages_stored.inc();
                let delivery = Delivery::Message {
                    seq: sent.message.seq,
                    frame: sent.frame.into(),
                };
                self.state.hub.deliver(sent.message.room, delivery);
                true
            }
            Ok(sent) => self.write(sent.frame.into()).await,
            Err(e) => self.write(error_frame(&e, Some(nonce))).await,
        }
    }
}
