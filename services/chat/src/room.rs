//! One room's actor in this process: its local members, what they receive
//! and in which order, the replay a joining member gets, and the room's
//! presence. Each frame is serialized once and shared by all recipients; a
//! member whose queue is full is disconnected.
//!
//! Sequenced events go out in `seq` order with no gaps and no duplicates;
//! the [`Sequencer`] decides what goes out, this actor reads the gaps from
//! Postgres and sends. Duplicates are normal, not an error: a message sent
//! through this process arrives twice by design, first by the hub's local
//! shortcut (the sender sees it without a Redis round trip) and then as its
//! own pub/sub echo, and the second is dropped by its seq. An event that
//! arrives early waits while the gap before it is filled.

mod members;
mod watchers;

use std::collections::HashMap;
use std::sync::Arc;

use common::access::Standing;
use common::db::DbPools;
use common::error::Code;
use common::protocol::{ServerFrame, UserRef};
use common::store::{members as member_rows, room_seqs, rooms};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::delivery::{Delivery, Member, Outbound};
use crate::error::protocol_error;
use crate::history::{self, Replay};
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::registry::{ConnId, Notice, close};
use crate::sequencer::{Sequenced, Sequencer};

/// Events a catch-up reads from Postgres at once, and the most a join
/// replays (`REPLAY_MAX_FRAMES` may set fewer).
pub const CATCH_UP_PAGE: i64 = 1000;
/// Deliveries a room takes from its mailbox at once: what arrived together
/// goes to each member as one queue slot, and so as one write.
pub const DRAIN: usize = 64;

/// What the hub asks of a room.
pub enum Control {
    /// Add a connection, replaying what it missed first.
    Join {
        /// The connection joining.
        member: Member,
        /// The last seq the client holds; `None`: no replay.
        since: Option<i64>,
        /// What the connection read of the replay already.
        replay: Replay,
    },
    /// Answer a repeated nonce with its stored event, in seq order.
    Answer {
        /// Who asked.
        member: Member,
        /// The stored event's seq.
        seq: i64,
        /// Its frame.
        frame: Utf8Bytes,
    },
    /// Remove a connection.
    Leave {
        /// The connection leaving.
        conn: ConnId,
    },
    /// Read what Postgres has beyond what was delivered.
    CatchUp {
        /// The room's last seq if already known (then: only if beyond).
        known_last_seq: Option<i64>,
    },
    /// Follow the room's unread state for a connection that has not joined.
    Watch {
        /// The connection of a member of the room.
        member: Member,
    },
    /// Stop following it.
    Unwatch {
        /// The connection.
        conn: ConnId,
    },
    /// Postgres no longer has the room.
    Deleted,
    /// Stop: the room stayed empty here.
    Close,
}

/// What every room actor uses.
pub struct RoomDeps {
    /// The room's starting point and access checks (`write`: the
    /// primary); catch-up and the top-up of a join's replay (`read`, with
    /// the primary as fallback, `history`).
    pub db: DbPools,
    /// Who is online in each room, across instances, and announcing it.
    pub presence: Presence,
    /// Delivery and catch-up counters.
    pub metrics: Arc<Metrics>,
    /// How long events gather before watchers get their unread counts.
    pub unread_refresh: std::time::Duration,
    /// How long presence changes gather before they are recorded and announced.
    pub presence_batch: std::time::Duration,
    /// The most a join replays.
    pub replay: crate::delivery::QueueLimits,
}

/// A room's end, as the hub hears of it: `generation` tells this room from
/// a successor the hub may have started since.
pub struct Ended {
    /// The room's id.
    pub room: i64,
    /// Which of the room's actors ended.
    pub generation: u64,
}

/// How a room that ends by itself (deleted, or unable to start) tells the
/// hub, so it stops routing to it and leaves its channel. Used at most once.
pub struct Exit {
    tx: mpsc::UnboundedSender<Ended>,
    ended: Ended,
}

impl Exit {
    /// The exit of the room actor `generation` of `room`, reported on `tx`.
    pub fn new(tx: mpsc::UnboundedSender<Ended>, room: i64, generation: u64) -> Self {
        Self {
            tx,
            ended: Ended { room, generation },
        }
    }

    fn report(self) {
        let _ = self.tx.send(self.ended);
    }
}

struct Joined {
    member: Member,
    /// Events up to this seq are not sent to this member (it has them).
    skip_through: i64,
}

/// A user's presence change in a room, waiting for the room's next batch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PresenceChange {
    /// Recorded in Redis at their join; they came online: to be announced.
    Arrived,
    /// Their last connection here left; the entry is still in Redis until
    /// the batch removes it, and announces them offline if `announce` (not
    /// when their arrival was never announced either).
    Left { announce: bool },
}

struct Room {
    id: i64,
    deps: Arc<RoomDeps>,
    members: HashMap<ConnId, Joined>,
    /// Members' connections here that follow the room without joining it.
    watchers: HashMap<ConnId, Member>,
    /// When the watchers are next told their unread counts.
    unread_due: Option<Instant>,
    /// Presence changes of users here not yet announced, by user, and when
    /// they will be.
    presence_changes: HashMap<i64, (UserRef, PresenceChange)>,
    presence_due: Option<Instant>,
    order: Sequencer,
    ended: bool,
}

/// Runs a room until it is closed, deleted or cannot start. The hub has
/// subscribed to its channel already, so reading where the room is comes
/// second: anything newer arrives by pub/sub.
pub async fn run(
    deps: Arc<RoomDeps>,
    id: i64,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut deliveries: mpsc::Receiver<Delivery>,
    exit: Exit,
) {
    let start = async {
        // The primary's: a room made a moment ago may not be on a replica.
        let mut conn = deps.db.write.get().await?;
        room_seqs::last_seqs(&mut conn, &[id]).await
    };
    let delivered = match start.await {
        Ok(found) => found
            .first()
            .map(|&(_, last)| last)
            .ok_or((Code::RoomNotFound, "there is no such room")),
        Err(e) => {
            tracing::warn!(error = %e, room.id = id, "room cannot start; its joins are refused");
            Err((
                Code::Unavailable,
                "the room cannot be opened right now; try again",
            ))
        }
    };
    let delivered = match delivered {
        Ok(delivered) => delivered,
        Err((code, message)) => {
            refuse_joins(&mut control, code, message, id);
            exit.report();
            return;
        }
    };
    let mut room = Room {
        id,
        deps,
        members: HashMap::new(),
        watchers: HashMap::new(),
        unread_due: None,
        presence_changes: HashMap::new(),
        presence_due: None,
        order: Sequencer::new(delivered),
        ended: false,
    };
    let mut inbox = Vec::with_capacity(DRAIN);
    let mut presence_tick = tokio::time::interval(room.deps.presence.refresh_every());
    presence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once; entries were just written by the joins.
    presence_tick.tick().await;
    let mut liveness = room.deps.presence.liveness();
    let mut seen = liveness.borrow_and_update().clone();
    loop {
        let gap = room.order.gap_deadline().map(Instant::from_std);
        let unread_due = room.unread_due;
        let presence_due = room.presence_due;
        tokio::select! {
            biased;
            cmd = control.recv() => match cmd {
                None | Some(Control::Close) => break,
                Some(cmd) => room.control(cmd).await,
            },
            n = deliveries.recv_many(&mut inbox, DRAIN) => {
                if n == 0 {
                    break;
                }
                room.deliver(inbox.drain(..)).await;
            }
            _ = tokio::time::sleep_until(gap.unwrap_or_else(Instant::now)), if gap.is_some() => room.catch_up(None).await,
            _ = tokio::time::sleep_until(unread_due.unwrap_or_else(Instant::now)), if unread_due.is_some() => room.tell_watchers().await,
            _ = tokio::time::sleep_until(presence_due.unwrap_or_else(Instant::now)), if presence_due.is_some() => room.flush_presence().await,
            _ = presence_tick.tick() => room.refresh_presence().await,
            Ok(()) = liveness.changed() => {
                let now = liveness.borrow_and_update().clone();
                if now.lost != seen.lost {
                    room.refresh_presence().await;
                }
                if now.dead.iter().any(|d| !seen.is_dead(d)) {
                    room.sweep_presence().await;
                }
                seen = now;
            }
        }
        if room.ended {
            break;
        }
    }
    // The last users' leaving is recorded and announced before the room goes.
    room.flush_presence().await;
    if room.ended {
        exit.report();
    }
}

fn refuse_joins(
    control: &mut mpsc::UnboundedReceiver<Control>,
    code: Code,
    message: &str,
    room: i64,
) {
    while let Ok(cmd) = control.try_recv() {
        if let Control::Join { member, .. } = cmd {
            let frame = protocol_error(code, message, Some(room.to_string()));
            let _ = member.tx.try_send(Outbound::Frame(frame));
        }
    }
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

impl Room {
    async fn control(&mut self, cmd: Control) {
        match cmd {
            Control::Join {
                member,
                since,
                replay,
            } => self.join(member, since, replay).await,
            Control::Answer { member, seq, frame } => self.answer(member, seq, frame).await,
            Control::Leave { conn } => {
                if let Some(j) = self.members.remove(&conn) {
                    self.left(&j.member.user, !j.member.hidden).await;
                }
            }
            Control::CatchUp { known_last_seq } => {
                if known_last_seq.is_none_or(|last| last > self.order.delivered()) {
                    self.catch_up(known_last_seq).await;
                }
            }
            Control::Watch { member } => {
                self.watchers.insert(member.conn, member);
            }
            Control::Unwatch { conn } => {
                self.watchers.remove(&conn);
            }
            Control::Deleted => self.deleted(),
            Control::Close => {}
        }
    }

    /// Takes what arrived together, in order: sequenced events in seq order
    /// as one batch per member, ephemeral frames likewise; each after what
    /// arrived before it.
    async fn deliver(&mut self, arrived: impl Iterator<Item = Delivery>) {
        // Of what arrived together, runs of sequenced events and runs of
        // ephemeral frames each go out as one queue slot per member.
        let mut ready = Vec::new();
        let mut events = Vec::new();
        for d in arrived {
            match d {
                Delivery::Sequenced { seq, frame } => {
                    self.fan_out_events(std::mem::take(&mut events)).await;
                    let accepted = self.order.accept(seq, frame, now());
                    ready.extend(accepted.ready);
                    if accepted.catch_up_now {
                        self.fan_out(std::mem::take(&mut ready)).await;
                        self.catch_up(None).await;
                    }
                }
                Delivery::Event { from_user, frame } => {
                    self.fan_out(std::mem::take(&mut ready)).await;
                    events.push((from_user, frame));
                }
                Delivery::RoomDeleted => {
                    self.fan_out(std::mem::take(&mut ready)).await;
                    self.fan_out_events(std::mem::take(&mut events)).await;
                    self.deleted();
                    return;
                }
            }
        }
        self.fan_out(ready).await;
        self.fan_out_events(std::mem::take(&mut events)).await;
    }

    /// Sends ephemeral frames (presence, typing), in order, to every member
    /// but the user each is about: one queue slot per member.
    async fn fan_out_events(&mut self, events: Vec<(i64, Utf8Bytes)>) {
        if events.is_empty() {
            return;
        }
        let targets: Vec<(ConnId, i64)> = self
            .members
            .iter()
            .map(|(c, j)| (*c, j.member.user.id))
            .collect();
        for (conn, user) in targets {
            let mut frames: Vec<Utf8Bytes> = events
                .iter()
                .filter(|(from, _)| *from != user)
                .map(|(_, f)| f.clone())
                .collect();
            let out = match frames.len() {
                0 => continue,
                1 => Outbound::Frame(frames.remove(0)),
                _ => Outbound::Batch(frames),
            };
            self.send(conn, out).await;
        }
    }

    /// Sends the events, in order, to every member that does not have them
    /// yet: one queue slot per member, so a burst costs one wake-up and one
    /// write per connection.
    async fn fan_out(&mut self, events: Vec<Sequenced>) {
        let Some(newest) = events.last().map(|(seq, _)| *seq) else {
            return;
        };
        self.unread_changed();
        let targets: Vec<(ConnId, i64)> = self
            .members
            .iter()
            .filter(|(_, j)| newest > j.skip_through)
            .map(|(c, j)| (*c, j.skip_through))
            .collect();
        let mut delivered = 0;
        for (conn, skip_through) in targets {
            let fresh = events.partition_point(|(seq, _)| *seq <= skip_through);
            let out = match &events[fresh..] {
                [(_, frame)] => Outbound::Frame(frame.clone()),
                more => Outbound::Batch(more.iter().map(|(_, f)| f.clone()).collect()),
            };
            delivered += events.len() - fresh;
            self.send(conn, out).await;
        }
        self.deps
            .metrics
            .messages_delivered
            .inc_by(delivered as u64);
        self.police(&events).await;
    }

    /// Follows the acts of moderation among delivered events: whoever was
    /// kicked or banned leaves the room here at once (every instance does
    /// the same as the event reaches it, live or by catch-up); a room made
    /// private keeps only its members; a mute silences typing.
    async fn police(&mut self, events: &[Sequenced]) {
        let mut recheck = false;
        for (_, frame) in events {
            // Serde writes the tag first: anything else is skipped unread.
            if !frame.as_str().starts_with(r#"{"type":"moderation""#) {
                continue;
            }
            let Ok(ServerFrame::Moderation(m)) = serde_json::from_str(frame.as_str()) else {
                continue;
            };
            if let Some(user) = m.removes() {
                let reason = if m.action == "ban" {
                    "banned"
                } else {
                    "kicked"
                };
                self.remove_user(user, reason).await;
            }
            match (m.action.as_str(), &m.target) {
                ("mute", Some(t)) => self.notify_user(
                    t.id,
                    Notice::Muted(
                        self.id,
                        Some(m.until.unwrap_or_else(common::access::forever)),
                    ),
                ),
                ("unmute", Some(t)) => self.notify_user(t.id, Notice::Muted(self.id, None)),
                ("visibility", _) => recheck |= m.visibility.as_deref() == Some("private"),
                _ => {}
            }
        }
        if recheck {
            self.recheck_readers().await;
        }
    }

    /// Takes every connection of `user` here out of the room, telling it why.
    async fn remove_user(&mut self, user: i64, reason: &str) {
        let conns: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, j)| j.member.user.id == user)
            .map(|(c, _)| *c)
            .collect();
        let frame: Utf8Bytes = ServerFrame::Left {
            room: self.id,
            reason: Some(reason.to_owned()),
        }
        .to_json()
        .into();
        for conn in conns {
            if let Some(j) = self.members.remove(&conn) {
                j.member.kick.notice(Notice::Removed(self.id));
                let _ = j.member.tx.try_send(Outbound::Frame(frame.clone()));
                self.left(&j.member.user, !j.member.hidden).await;
            }
        }
        self.watchers.retain(|_, w| w.user.id != user);
    }

    fn notify_user(&self, user: i64, notice: Notice) {
        for j in self.members.values().filter(|j| j.member.user.id == user) {
            j.member.kick.notice(notice);
        }
    }

    /// Asks the access rules again for everyone joined here (one query),
    /// and removes those who may no longer read the room.
    async fn recheck_readers(&mut self) {
        let mut users: Vec<i64> = self.members.values().map(|j| j.member.user.id).collect();
        users.sort_unstable();
        users.dedup();
        let checked = async {
            let mut conn = self.deps.db.write.get().await?;
            let facts = rooms::facts(&mut conn, self.id).await?;
            let standings = member_rows::standings(&mut conn, self.id, &users).await?;
            Ok::<_, common::Error>((facts, standings))
        };
        let (facts, standings) = match checked.await {
            Ok((Some(facts), standings)) => (facts, standings),
            Ok((None, _)) => return self.deleted(),
            Err(e) => {
                tracing::warn!(error = %e, room.id = self.id, "could not recheck the room's readers");
                return;
            }
        };
        let now = chrono::Utc::now();
        for user in users {
            let who = standings
                .get(&user)
                .copied()
                .unwrap_or_else(|| Standing::outsider(user));
            if common::access::may_read(&facts, &who, now).is_err() {
                self.remove_user(user, "removed").await;
            }
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
                    self.left(&j.member.user, !j.member.hidden).await;
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                if let Some(j) = self.members.remove(&conn) {
                    self.left(&j.member.user, !j.member.hidden).await;
                }
            }
        }
    }

    /// Answers a repeated nonce: first everything up to `seq` this room has
    /// not delivered yet (Postgres has it: it was committed), then the
    /// stored event behind whatever is queued for the member.
    async fn answer(&mut self, member: Member, seq: i64, frame: Utf8Bytes) {
        if seq > self.order.delivered() {
            self.catch_up(Some(seq)).await;
        }
        if self.members.contains_key(&member.conn) {
            self.send(member.conn, Outbound::Frame(frame)).await;
        } else {
            let _ = member.tx.try_send(Outbound::Frame(frame));
        }
    }

    /// Sends, in order, what Postgres has beyond what was delivered: fills
    /// gaps and finds events whose publish was lost.
    async fn catch_up(&mut self, known_last_seq: Option<i64>) {
        let target = known_last_seq.or_else(|| self.order.highest_pending());
        loop {
            let after = self.order.delivered();
            // What the room knows was stored (a seq Postgres told it, a
            // delivery waiting in its order) is read whole: a replica
            // behind it is read again on the primary, so nothing held is
            // taken for "never stored" below.
            let page = history::stored_after(&self.deps, self.id, after, CATCH_UP_PAGE, target);
            let rows = match page.await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, room.id = self.id, "catch-up failed; retrying");
                    self.order.retry_later(now());
                    return;
                }
            };
            let full = rows.len() as i64 == CATCH_UP_PAGE;
            let fresh = self.order.caught_up(rows);
            self.deps
                .metrics
                .catch_up_messages
                .inc_by(fresh.len() as u64);
            self.fan_out(fresh).await;
            if !full {
                // Postgres has nothing more: anything held beyond was
                // never stored (a forged publish on Redis).
                let forged = self.order.drop_beyond(self.order.delivered());
                if forged > 0 {
                    tracing::warn!(
                        room.id = self.id,
                        forged,
                        "dropped published events Postgres never stored"
                    );
                }
                break;
            }
            if target.is_some_and(|t| self.order.delivered() >= t) {
                break;
            }
        }
        let ready = self.order.settle(now());
        self.fan_out(ready).await;
    }

    /// The room is gone: every member gets `left`.
    fn deleted(&mut self) {
        let frame: Utf8Bytes = ServerFrame::Left {
            room: self.id,
            reason: Some("deleted".into()),
        }
        .to_json()
        .into();
        for (_, j) in self.members.drain() {
            let _ = j.member.tx.try_send(Outbound::Frame(frame.clone()));
        }
        self.ended = true;
    }
}
