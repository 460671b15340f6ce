//! One WebSocket connection's task, the socket loop alone: reads the
//! client's frames and hands them to [`Requests`], writes what its rooms
//! send it (from a bounded queue) and what requests answer, pings, and
//! closes it when told (logout, expiry, a full queue, shutdown) with the
//! matching code.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::preferences::Privacy;
use common::protocol::UserRef;
use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tracing::Instrument;
use uuid::Uuid;

use crate::delivery::{self, Member, Outbound, OutboundRx};
use crate::registry::{ConnEntry, ConnId, Kick, close};
use crate::requests::{InFlight, Requests, Step};
use crate::state::ChatState;

/// Frames (and messages made of continuations) larger than this close the
/// connection with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// How long a close frame may take to go out, and the client to answer it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// What a socket reads at a time. Requests are small JSON objects; a larger
/// frame grows the buffer for as long as it takes. Every open connection
/// holds this much, so it is kept small.
const READ_BUFFER: usize = 1024;
/// Frames gathered before they are written, when more are waiting: what is
/// queued goes out in as few writes as this allows, then one flush.
const WRITE_BUFFER: usize = 16 * 1024;
/// Queued deliveries written together before one flush, at most.
const COALESCE: usize = 64;

/// The upgraded socket.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// How every socket is set up: small buffers, the frame limit.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

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
    /// Their privacy preferences as the upgrade read them (each join reads
    /// them again).
    pub privacy: Privacy,
}

/// The socket; a kick, the write deadline or the session's end interrupts
/// any write.
struct Socket {
    ws: WebSocket,
    kick: Arc<Kick>,
    /// How long one write may take (`WRITE_TIMEOUT_SECS`): a client that
    /// stopped reading must not hold the connection open forever.
    write_timeout: Duration,
    /// When the token expires: a write blocked then still ends.
    expires_at: Instant,
}

/// Why the loop ended.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The client closed: its close frame is answered.
    ClosedByPeer,
    /// The peer is gone.
    Gone,
    /// A write passed its deadline: the client stopped reading, so no close
    /// frame would get through either.
    WriteTimedOut,
}

/// Runs a write to its end, unless the connection is kicked (`End::Gone`,
/// the kick's close follows), `limit` passes or the session ends first.
async fn bounded(
    written: impl Future<Output = Result<(), WsError>>,
    kick: &Kick,
    limit: Duration,
    expires_at: Instant,
) -> Option<End> {
    // One timer for both ends: whichever comes first.
    let deadline = (Instant::now() + limit).min(expires_at);
    tokio::select! {
        biased;
        _ = kick.kicked() => Some(End::Gone),
        _ = tokio::time::sleep_until(deadline) => Some(if deadline == expires_at {
            End::Close(close::POLICY, "session expired")
        } else {
            End::WriteTimedOut
        }),
        written = written => written.err().map(|_| End::Gone),
    }
}

/// Runs the connection until it ends, in a span naming the connection and
/// its user; cleans up after it.
pub async fn run(state: Arc<ChatState>, peer: Peer, ws: WebSocket) {
    let span = tracing::info_span!("conn", conn.id = peer.id, user.id = peer.user.id);
    serve(state, peer, ws).instrument(span).await;
}

async fn serve(state: Arc<ChatState>, peer: Peer, ws: WebSocket) {
    let (tx, mut rx) = delivery::outbound(state.config.outbound_queue);
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
    // From here on, however the task ends (a panic included), the
    // connection is taken out of the registry, the hub and its user's slots.
    let registered = Registered {
        state: state.clone(),
        conn: peer.id,
        user: peer.user.id,
    };
    let me = Member {
        conn: peer.id,
        user: peer.user.clone(),
        tx,
        kick: kick.clone(),
        hidden: peer.privacy.appear_offline,
    };
    // Work that awaits Redis or Postgres is boxed: its state lives only
    // while it runs, not in every idle connection's task.
    Box::pin(follow_memberships(&state, &me)).await;
    let mut requests = Requests::new(state.clone(), me, peer.privacy);
    let mut socket = Socket {
        ws,
        kick: kick.clone(),
        write_timeout: state.config.write_timeout,
        expires_at: Instant::now(),
    };

    let ping_every = state.config.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_seen = Instant::now();
    let expiry = (peer.token_expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let expires_at = Instant::now() + expiry;
    socket.expires_at = expires_at;
    let expires = tokio::time::sleep_until(expires_at);
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
                let Some(out) = out else { break End::Gone };
                if let Some(end) = socket.deliver(out, &mut rx).await {
                    break socket.ended_writing(end, &state);
                }
            }
            Some(step) = inflight.next(), if !inflight.is_empty() => {
                // Its turn: the requests before it were answered.
                if let Some(end) = socket.take(step, &mut inflight, false).await {
                    break socket.ended_writing(end, &state);
                }
            }
            msg = socket.ws.next(), if inflight.len() < max_inflight => {
                last_seen = Instant::now();
                let text = match msg {
                    Some(Ok(Message::Text(text))) => text,
                    // Pings are answered by the socket itself, on its next read.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => break End::ClosedByPeer,
                    Some(Ok(Message::Binary(_))) => break End::Close(1003, "binary frames are not accepted"),
                    Some(Err(e)) => break read_error(e),
                    Some(Ok(Message::Frame(_))) => break End::Close(1002, "protocol error"),
                    None => break End::Gone,
                };
                let step = Box::pin(requests.text(&text)).await;
                let behind = !inflight.is_empty();
                if let Some(end) = socket.take(step, &mut inflight, behind).await {
                    break socket.ended_writing(end, &state);
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() >= state.config.idle_timeout {
                    break End::Close(close::GOING_AWAY, "no sign of life");
                }
                if let Some(end) = socket.write(Message::Ping(Default::default())).await {
                    break socket.ended_writing(end, &state);
                }
            }
        }
    };

    requests.leave_all();
    drop(registered);
    // A write cut short by a kick ends as that kick's close.
    let end = match (end, kick.code()) {
        (End::Gone, Some(code)) => End::Close(code, reason(code)),
        (end, _) => end,
    };
    socket.finish(end).await;
}

/// A connection as the process knows it: dropping this forgets it
/// everywhere, on the normal way out and when the task panics alike.
struct Registered {
    state: Arc<ChatState>,
    conn: ConnId,
    user: i64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let Self { state, conn, user } = self;
        state.hub.disconnect(*conn, *user);
        state.registry.remove(*conn);
        state.metrics.connections.dec();
        let (limit, conn, user) = (state.conn_limit.clone(), *conn, *user);
        // Dropped inside the runtime (the connection's task): no blocking here.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = limit.release(user, conn).await {
                    tracing::warn!(error = %e, "could not release a connection slot; it expires");
                }
            });
        }
    }
}

/// The close a read error asks for (protocol.md's codes).
fn read_error(e: WsError) -> End {
    match e {
        WsError::Capacity(_) => End::Close(1009, "frame over 64 KiB"),
        WsError::Utf8(_) => End::Close(1007, "text frames must be UTF-8"),
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => End::Gone,
        _ => End::Close(1002, "protocol error"),
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
    /// Writes one frame and flushes; `Some` ends the connection (the socket
    /// is gone, the connection was kicked, the write passed its deadline or
    /// the session ended meanwhile).
    async fn write(&mut self, message: Message) -> Option<End> {
        let (kick, limit, expires_at) = (self.kick.clone(), self.write_timeout, self.expires_at);
        let written = self.ws.send(message);
        bounded(written, &kick, limit, expires_at).await
    }

    /// Writes `first` and whatever else is queued already (up to
    /// [`COALESCE`] deliveries), in order, then flushes once: a burst costs
    /// a few writes, not one per frame. Bounded like [`Self::write`].
    async fn deliver(&mut self, first: Outbound, rx: &mut OutboundRx) -> Option<End> {
        let (kick, limit, expires_at) = (self.kick.clone(), self.write_timeout, self.expires_at);
        let ws = &mut self.ws;
        let mut taken = first.cost();
        let written = async {
            feed(ws, first).await?;
            for _ in 1..COALESCE {
                let Some(next) = rx.try_recv() else { break };
                taken += next.cost();
                feed(ws, next).await?;
            }
            ws.flush().await
        };
        let end = bounded(written, &kick, limit, expires_at).await;
        rx.release(taken);
        end
    }

    /// Counts a write that ran out of time (the client stopped reading).
    fn ended_writing(&self, end: End, state: &ChatState) -> End {
        if matches!(end, End::WriteTimedOut) {
            state.metrics.slow_consumers.inc();
            tracing::info!("closing a connection whose write passed its deadline");
        }
        end
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
            Step::Reply(frame) => self.write(Message::Text(frame)).await,
            Step::Await(work) => {
                inflight.push_back(work);
                None
            }
            Step::Close(code, why) => Some(End::Close(code, why)),
        }
    }

    /// Ends the WebSocket as `end` says: our close frame, then the client's
    /// answer awaited (so the socket is not reset with the frame unread),
    /// all within [`CLOSE_WAIT`]: a client that stopped reading cannot
    /// take a close frame either.
    async fn finish(mut self, end: End) {
        let ws = &mut self.ws;
        let closing = async move {
            match end {
                End::Close(code, why) => {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: Utf8Bytes::from_static(why),
                    };
                    if ws.close(Some(frame)).await.is_err() {
                        return;
                    }
                }
                // Our answer to their close is queued by the socket.
                End::ClosedByPeer => {
                    let _ = ws.flush().await;
                    return;
                }
                End::Gone | End::WriteTimedOut => return,
            }
            while let Some(Ok(_)) = ws.next().await {}
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
    }
}

/// Queues an outbound slot's frames on the socket without flushing.
async fn feed(ws: &mut WebSocket, out: Outbound) -> Result<(), WsError> {
    match out {
        Outbound::Frame(frame) => ws.feed(Message::Text(frame)).await,
        Outbound::Batch(frames) => {
            for frame in frames {
                ws.feed(Message::Text(frame)).await?;
            }
            Ok(())
        }
    }
}
