//! One room's actor in this process: its local members, and the order of
//! what they receive. Messages go out in `seq` order with no gaps and no
//! duplicates: duplicates (a local send and its own pub/sub echo, a replayed
//! message) are dropped by seq; a message that arrives early waits while the
//! gap before it is filled from Postgres. Each frame is serialized once and
//! shared by all recipients; a member whose queue is full is disconnected.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use common::db::DbPool;
use common::fanout;
use common::protocol::{ChatMessage, ServerFrame, UserRef};
use common::store::{messages, rooms};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::broker::BrokerHandle;
use crate::hub::{Delivery, HubHandle};
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::registry::{ConnId, Kick, close};

/// Replay on join is bounded; past it `joined` says `truncated`.
pub const REPLAY_LIMIT: i64 = 1000;
/// How long an early message waits for the ones before it via pub/sub
/// before they are read from Postgres.
const GAP_WAIT: Duration = Duration::from_millis(250);
/// Early messages held at most; beyond, the gap is filled at once.
const PENDING_LIMIT: usize = 4096;

/// What a connection's outbound queue carries.
#[derive(Debug)]
pub enum Outbound {
    Frame(ByteString),
    /// A replay and its `joined`: one queue slot.
    Batch(Vec<ByteString>),
}

/// A connection's place in a room.
#[derive(Clone)]
pub struct Member {
    pub conn: ConnId,
    pub user: UserRef,
    pub tx: mpsc::Sender<Outbound>,
    pub kick: Arc<Kick>,
}

/// What the hub asks of a room.
pub enum Control {
    Join {
        member: Member,
        since: Option<i64>,
    },
    Leave {
        conn: ConnId,
    },
    /// Read what Postgres has beyond what was delivered (`known_last_seq`:
    /// the room's last seq if already known).
    CatchUp {
        known_last_seq: Option<i64>,
    },
    Deleted,
    Close,
}

/// What every room actor uses.
pub struct RoomDeps {
    pub pool: DbPool,
    pub redis: ConnectionManager,
    pub redis_prefix: String,
    pub presence: Presence,
    pub metrics: Arc<Metrics>,
}

struct Joined {
    member: Member,
    /// Messages up to this seq are not sent to this member (it has them).
    skip_through: i64,
}

struct Room {
    id: i64,
    deps: Arc<RoomDeps>,
    members: HashMap<ConnId, Joined>,
    /// The newest seq sent to members: everything up to it went out in order.
    delivered: i64,
    pending: BTreeMap<i64, ByteString>,
    gap_deadline: Option<Instant>,
    ended: bool,
}

fn frame_of(view: &messages::MessageView) -> ByteString {
    ServerFrame::Message(ChatMessage::from(view))
        .to_json()
        .into()
}

fn error_frame(code: &str, message: &str, reference: String) -> ByteString {
    ServerFrame::Error {
        code: code.into(),
        message: message.into(),
        reference: Some(reference),
    }
    .to_json()
    .into()
}

/// Runs a room until it is closed, deleted or cannot start.
pub async fn run(
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    hub: HubHandle,
    id: i64,
    generation: u64,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut deliveries: mpsc::Receiver<Delivery>,
) {
    // Subscribe first, then read where the room is: anything newer arrives.
    broker.subscribe(id).await;
    let start = async {
        let mut conn = deps.pool.get().await?;
        rooms::last_seqs(&mut conn, &[id]).await
    };
    let delivered = match start.await {
        Ok(found) if !found.is_empty() => found[0].1,
        outcome => {
            let (code, message) = match outcome {
                Ok(_) => ("room_not_found", "there is no such room"),
                Err(_) => (
                    "unavailable",
                    "the room cannot be opened right now; try again",
                ),
            };
            refuse_joins(&mut control, code, message, id);
            hub.room_ended(id, generation);
            return;
        }
    };
    let mut room = Room {
        id,
        deps,
        members: HashMap::new(),
        delivered,
        pending: BTreeMap::new(),
        gap_deadline: None,
        ended: false,
    };
    let mut presence_tick = tokio::time::interval(room.deps.presence.refresh_every());
    presence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let gap = room.gap_deadline;
        tokio::select! {
            biased;
            cmd = control.recv() => match cmd {
                None | Some(Control::Close) => break,
                Some(cmd) => room.control(cmd).await,
            },
            d = deliveries.recv() => match d {
                None => break,
                Some(d) => room.deliver(d).await,
            },
            _ = tokio::time::sleep_until(gap.unwrap_or_else(Instant::now)), if gap.is_some() => room.catch_up(None).await,
            _ = presence_tick.tick() => room.refresh_presence().await,
        }
        if room.ended {
            hub.room_ended(id, generation);
            break;
        }
    }
}

fn refuse_joins(
    control: &mut mpsc::UnboundedReceiver<Control>,
    code: &str,
    message: &str,
    room: i64,
) {
    while let Ok(cmd) = control.try_recv() {
        if let Control::Join { member, .. } = cmd {
            let _ = member.tx.try_send(Outbound::Frame(error_frame(
                code,
                message,
                room.to_string(),
            )));
        }
    }
}

impl Room {
    async fn control(&mut self, cmd: Control) {
        match cmd {
            Control::Join { member, since } => self.join(member, since).await,
            Control::Leave { conn } => {
                if let Some(j) = self.members.remove(&conn) {
                    self.left(&j.member.user).await;
                }
            }
            Control::CatchUp { known_last_seq } => {
                if known_last_seq.is_none_or(|last| last > self.delivered) {
                    self.catch_up(known_last_seq).await;
                }
            }
            Control::Deleted => self.deleted(),
            Control::Close => {}
        }
    }

    async fn deliver(&mut self, d: Delivery) {
        match d {
            Delivery::Message { seq, frame } => self.message(seq, frame).await,
            Delivery::Event { from_user, frame } => {
                let targets: Vec<ConnId> = self
                    .members
                    .iter()
                    .filter(|(_, j)| j.member.user.id != from_user)
                    .map(|(c, _)| *c)
                    .collect();
                for conn in targets {
                    self.send(conn, Outbound::Frame(frame.clone())).await;
                }
            }
            Delivery::RoomDeleted => self.deleted(),
        }
    }

    /// Takes a message in any order; sends what is in order.
    async fn message(&mut self, seq: i64, frame: ByteString) {
        if seq <= self.delivered {
            return;
        }
        if seq > self.delivered + 1 {
            self.pending.insert(seq, frame);
            if self.pending.len() > PENDING_LIMIT {
                self.catch_up(None).await;
            } else if self.gap_deadline.is_none() {
                self.gap_deadline = Some(Instant::now() + GAP_WAIT);
            }
            return;
        }
        self.fan_out(seq, &frame).await;
        self.drain_pending().await;
    }

    async fn drain_pending(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            let seq = *entry.key();
            if seq > self.delivered + 1 {
                break;
            }
            let frame = entry.remove();
            if seq == self.delivered + 1 {
                self.fan_out(seq, &frame).await;
            }
        }
        if self.pending.is_empty() {
            self.gap_deadline = None;
        }
    }

    /// Sends message `seq` to every member that does not have it yet.
    async fn fan_out(&mut self, seq: i64, frame: &ByteString) {
        self.delivered = seq;
        let targets: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, j)| seq > j.skip_through)
            .map(|(c, _)| *c)
            .collect();
        self.deps
            .metrics
            .messages_delivered
            .inc_by(targets.len() as u64);
        for conn in targets {
            self.send(conn, Outbound::Frame(frame.clone())).await;
        }
    }

    /// Queues a frame for a member; a full queue disconnects it.
    async fn send(&mut self, conn: ConnId, out: Outbound) {
        let Some(j) = self.members.get(&conn) else {
            return;
        };
        match j.member.tx.try_send(out) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.deps.metrics.slow_consumers.inc();
                j.member.kick.kick(close::TRY_AGAIN_LATER);
                if let Some(j) = self.members.remove(&conn) {
                    self.left(&j.member.user).await;
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                if let Some(j) = self.members.remove(&conn) {
                    self.left(&j.member.user).await;
                }
            }
        }
    }

    /// Sends, in order, what Postgres has beyond `delivered`: fills gaps and
    /// finds messages whose publish was lost.
    async fn catch_up(&mut self, known_last_seq: Option<i64>) {
        let target = known_last_seq.or_else(|| self.pending.keys().next_back().copied());
        loop {
            let page = async {
                let mut conn = self.deps.pool.get().await?;
                messages::after(&mut conn, self.id, self.delivered, REPLAY_LIMIT).await
            };
            let page = match page.await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, room.id = self.id, "catch-up failed; retrying");
                    self.gap_deadline = Some(Instant::now() + Duration::from_secs(1));
                    return;
                }
            };
            let full = page.len() as i64 == REPLAY_LIMIT;
            for view in &page {
                let seq = view.message.seq;
                if seq > self.delivered {
                    self.deps.metrics.catch_up_messages.inc();
                    let frame = self.pending.remove(&seq).unwrap_or_else(|| frame_of(view));
                    self.fan_out(seq, &frame).await;
                }
            }
            if !full || target.is_some_and(|t| self.delivered >= t) {
                break;
            }
        }
        self.drain_pending().await;
        if !self.pending.is_empty() {
            // Postgres has nothing for the gap yet: try again shortly.
            self.gap_deadline = Some(Instant::now() + GAP_WAIT);
        }
    }

    /// Replays what the member missed, says `joined`, then streams live.
    async fn join(&mut self, member: Member, since: Option<i64>) {
        let room = self.id;
        let previous = self.members.remove(&member.conn);
        let mut frames = Vec::new();
        let mut truncated = false;
        let mut skip_through = self.delivered;
        if let Some(since) = since.map(|s| s.max(0)) {
            if since < self.delivered {
                let start = since.max(self.delivered - REPLAY_LIMIT);
                truncated = start > since;
                let replay = async {
                    let mut conn = self.deps.pool.get().await?;
                    messages::after(&mut conn, room, start, REPLAY_LIMIT).await
                };
                match replay.await {
                    Ok(rows) => frames.extend(
                        rows.iter()
                            .filter(|v| v.message.seq <= self.delivered)
                            .map(frame_of),
                    ),
                    Err(_) => {
                        let msg = "history is unavailable right now; join again";
                        let _ = member.tx.try_send(Outbound::Frame(error_frame(
                            "unavailable",
                            msg,
                            room.to_string(),
                        )));
                        if let Some(p) = previous {
                            self.left(&p.member.user).await;
                        }
                        return;
                    }
                }
            } else if since > self.delivered {
                // The client holds messages this instance has not delivered
                // yet; never beyond what the room really has.
                self.catch_up(None).await;
                skip_through = since.min(self.delivered.max(skip_through));
            }
        }
        let user = member.user.clone();
        let first_here =
            previous.is_none() && !self.members.values().any(|j| j.member.user.id == user.id);
        if first_here {
            match self.deps.presence.join(room, &user).await {
                Ok(true) => self.announce(&user, true).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, room.id = room, "presence unavailable"),
            }
        }
        let online = match self.deps.presence.online(room).await {
            Ok(online) => online,
            Err(_) => self.local_users(Some(&user)),
        };
        let last_seq = self.delivered.max(skip_through);
        frames.push(
            ServerFrame::Joined {
                room,
                last_seq,
                online,
                truncated,
            }
            .to_json()
            .into(),
        );
        let conn = member.conn;
        self.members.insert(
            conn,
            Joined {
                member,
                skip_through,
            },
        );
        self.send(conn, Outbound::Batch(frames)).await;
    }

    /// A member left (or was dropped): presence follows the user's last connection here.
    async fn left(&mut self, user: &UserRef) {
        if self.members.values().any(|j| j.member.user.id == user.id) {
            return;
        }
        match self.deps.presence.leave(self.id, user).await {
            Ok(true) => self.announce(user, false).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, room.id = self.id, "presence unavailable"),
        }
    }

    async fn announce(&self, user: &UserRef, online: bool) {
        let frame = ServerFrame::Presence {
            room: self.id,
            user: user.clone(),
            online,
        }
        .to_json();
        // Not for the user it is about: `joined` already lists them.
        if let Err(e) = fanout::publish_event(
            &self.deps.redis,
            &self.deps.redis_prefix,
            self.id,
            user.id,
            &frame,
        )
        .await
        {
            tracing::warn!(error = %e, room.id = self.id, "could not announce presence");
        }
    }

    fn local_users(&self, extra: Option<&UserRef>) -> Vec<UserRef> {
        let mut users: Vec<UserRef> = self
            .members
            .values()
            .map(|j| j.member.user.clone())
            .chain(extra.cloned())
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users.dedup_by_key(|u| u.id);
        users
    }

    async fn refresh_presence(&mut self) {
        let users = self.local_users(None);
        match self.deps.presence.refresh_and_sweep(self.id, &users).await {
            Ok(gone) => {
                for user in gone {
                    self.announce(&user, false).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, room.id = self.id, "presence refresh failed"),
        }
    }

    /// The room is gone: every member gets `left`.
    fn deleted(&mut self) {
        let frame: ByteString = ServerFrame::Left { room: self.id }.to_json().into();
        for (_, j) in self.members.drain() {
            let _ = j.member.tx.try_send(Outbound::Frame(frame.clone()));
        }
        self.ended = true;
    }
}
