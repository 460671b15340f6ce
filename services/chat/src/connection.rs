//! One WebSocket connection's task, the socket loop alone: reads the
//! client's frames and hands them to [`Requests`], writes what its rooms
//! send it (from a bounded queue) and what requests answer, pings, and
//! closes it when told (logout, expiry, a full queue, shutdown) with the
//! matching code.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use common::protocol::UserRef;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::delivery::{Member, Outbound};
use crate::registry::{ConnEntry, ConnId, Kick, close};
use crate::requests::{InFlight, Requests, Step};
use crate::state::ChatState;

/// Frames larger than this close the connection with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// How long a close frame may take to go out.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Who is on the other end, as the upgrade authenticated them.
pub struct Peer {
    /// This connection, unique in the process.
    pub id: ConnId,
    /// The signed-in user.
    pub user: UserRef,
    /// Their session: its revocation (logout) closes the socket.
    pub session_id: Uuid,
    /// When their token expires: the socket closes then.
    pub token_expires_at: DateTime<Utc>,
}

/// The socket's writing side; a kick interrupts any write.
struct Socket {
    session: Session,
    kick: Arc<Kick>,
}

/// Why the loop ended: a close code to send, or the peer is already gone.
enum End {
    Close(u16, &'static str),
    Gone,
}

/// Runs the connection until it ends, in a span naming the connection and
/// its user; cleans up after it.
pub async fn run(
    state: Arc<ChatState>,
    peer: Peer,
    session: Session,
    stream: actix_ws::MessageStream,
) {
    let span = tracing::info_span!("conn", conn.id = peer.id, user.id = peer.user.id);
    serve(state, peer, session, stream).instrument(span).await;
}

async fn serve(
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
    let me = Member {
        conn: peer.id,
        user: peer.user.clone(),
        tx,
        kick: kick.clone(),
    };
    // Work that awaits Redis or Postgres is boxed: its state lives only
    // while it runs, not in every idle connection's task.
    Box::pin(follow_memberships(&state, &me)).await;
    let mut requests = Requests::new(state.clone(), me);
    let mut socket = Socket {
        session,
        kick: kick.clone(),
    };

    let ping_every = state.config.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_seen = Instant::now();
    let expiry = (peer.token_expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let expires = tokio::time::sleep(expiry);
    tokio::pin!(expires);
    // Requests whose outcome is awaited, answered in the order they came.
    let mut inflight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let max_inflight = state.config.requests_in_flight;

    let end = loop {
        tokio::select! {
            biased;
            code = kick.kicked() => break End::Close(code, reason(code)),
            _ = &mut expires => break End::Close(close::POLICY, "session expired"),
            out = rx.recv() => {
                let written = match out {
                    Some(Outbound::Frame(frame)) => socket.write(frame).await,
                    Some(Outbound::Batch(frames)) => socket.write_all(frames).await,
                    None => true,
                };
                if !written {
                    break End::Gone;
                }
            }
            Some(step) = inflight.next(), if !inflight.is_empty() => {
                // Its turn: the requests before it were answered.
                if let Some(end) = socket.take(step, &mut inflight, false).await {
                    break end;
                }
            }
            msg = stream.recv(), if inflight.len() < max_inflight => {
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
                        if !socket.control(socket.session.clone().pong(&p)).await {
                            break End::Gone;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        let step = Box::pin(requests.text(&text)).await;
                        let behind = !inflight.is_empty();
                        if let Some(end) = socket.take(step, &mut inflight, behind).await {
                            break end;
                        }
                    }
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() >= state.config.idle_timeout {
                    break End::Close(close::GOING_AWAY, "no sign of life for 60 s");
                }
                if !socket.control(socket.session.clone().ping(b"")).await {
                    break End::Gone;
                }
            }
        }
    };

    requests.leave_all();
    state.hub.disconnect(peer.id, peer.user.id);
    state.registry.remove(peer.id);
    state.metrics.connections.dec();
    if let Err(e) = Box::pin(state.conn_limit.release(peer.user.id, peer.id)).await {
        tracing::warn!(error = %e, "could not release a connection slot; it expires");
    }
    // A write cut short by a kick ends as that kick's close.
    let end = match (end, kick.code()) {
        (End::Gone, Some(code)) => End::Close(code, reason(code)),
        (end, _) => end,
    };
    if let End::Close(code, why) = end {
        let reason = CloseReason {
            code: CloseCode::from(code),
            description: Some(why.into()),
        };
        // A client that stopped reading cannot take a close frame either.
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.session.close(Some(reason))).await;
    }
}

/// Has the hub send this connection its user's frames and the unread state
/// of the user's rooms. Without the list (Postgres down) the connection
/// still works; its user channel brings later memberships.
async fn follow_memberships(state: &ChatState, me: &Member) {
    let rooms = async {
        let mut conn = state.pool.get().await?;
        common::store::members::rooms_of(&mut conn, me.user.id).await
    };
    let rooms = rooms.await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the user's rooms are unavailable; no unread counts for now");
        Vec::new()
    });
    state.hub.connect(me.clone(), rooms);
}

fn reason(code: u16) -> &'static str {
    match code {
        close::POLICY => "session ended",
        close::TRY_AGAIN_LATER => "too slow: reconnect and resume with since",
        _ => "server going away",
    }
}

impl Socket {
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

    /// Writes frames in order, stopping at the first that fails.
    async fn write_all(&mut self, frames: Vec<ByteString>) -> bool {
        for frame in frames {
            if !self.write(frame).await {
                return false;
            }
        }
        true
    }

    /// Sends a ping or pong the same way.
    async fn control(&self, send: impl Future<Output = Result<(), actix_ws::Closed>>) -> bool {
        tokio::select! {
            biased;
            _ = self.kick.kicked() => false,
            sent = send => sent.is_ok(),
        }
    }

    /// Carries out a request's step; `Some` ends the connection. An answer
    /// `behind` requests still awaited waits for them, in order.
    async fn take(
        &mut self,
        step: Step,
        inflight: &mut FuturesOrdered<InFlight>,
        behind: bool,
    ) -> Option<End> {
        match step {
            Step::Continue => None,
            Step::Reply(frame) if behind => {
                inflight.push_back(Box::pin(std::future::ready(Step::Reply(frame))));
                None
            }
            Step::Reply(frame) => (!self.write(frame).await).then_some(End::Gone),
            Step::Await(work) => {
                inflight.push_back(work);
                None
            }
            Step::Close(code, why) => Some(End::Close(code, why)),
        }
    }
}
