//! What each client frame means (protocol.md "Client -> server"): a join
//! with its checks, a leave, the changes to a room (send, edit, delete,
//! react) handed to the one path of room events, a read mark, a throttled
//! `typing`. Every frame type is one arm of [`Requests::frame`] and one
//! method; the answer is a [`Step`] for the socket loop, which alone writes
//! to the socket.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::error::Code;
use common::guard;
use common::messaging::Ask;
use common::preferences::Privacy;
use common::protocol::{ClientFrame, ServerFrame};
use common::store::events::Appended;
use common::store::{preferences, room_seqs, rooms};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::config::Rate;
use crate::delivery::{Delivery, Member};
use crate::error::{error_frame, protocol_error, rate_limited};
use crate::history::{self, Replay};
use crate::inbound::{Inbound, classify};
use crate::registry::Notice;
use crate::state::ChatState;

/// A request's work the socket loop awaits (a change being stored); what
/// it yields is the request's next step.
pub type InFlight = Pin<Box<dyn Future<Output = Step> + Send>>;

/// What the socket loop does after a request.
pub enum Step {
    /// Nothing to answer.
    Continue,
    /// Answer the client with this frame.
    Reply(Utf8Bytes),
    /// Await this while later requests go on, then take the step it
    /// yields; steps are taken in the order of requests.
    Await(InFlight),
    /// Close the connection with this code and reason.
    Close(u16, &'static str),
}

/// At most one `typing` per room in an interval: a burst of keystrokes is
/// news once, and a send ends the burst.
#[derive(Debug)]
struct Throttle {
    every: Duration,
    last: HashMap<i64, Instant>,
}

impl Throttle {
    /// Lets one event per room through every `every`.
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: HashMap::new(),
        }
    }

    /// Whether an event in `room` at `now` goes through (and counts).
    fn allow(&mut self, room: i64, now: Instant) -> bool {
        if self
            .last
            .get(&room)
            .is_some_and(|t| now.duration_since(*t) < self.every)
        {
            return false;
        }
        self.last.insert(room, now);
        true
    }

    /// Lets the next event in `room` through.
    fn reset(&mut self, room: i64) {
        self.last.remove(&room);
    }
}

/// A token bucket: `rate.per_sec` tokens a second, at most `rate.burst`
/// held; a request takes one.
#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate.burst,
            last: now,
        }
    }

    /// Takes a token at `now` if there is one.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate.per_sec;
        self.tokens = (self.tokens + refill).min(self.rate.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there (for the error's wording).
    fn wait(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate.per_sec).max(0.0))
    }
}

/// One connection's requests: who makes them, the rooms it joined, its
/// typing throttle.
pub struct Requests {
    state: Arc<ChatState>,
    /// This connection as a member of the rooms it joins.
    me: Member,
    joined: HashSet<i64>,
    typing: Throttle,
    /// `typing` across every room (`TYPING_PER_SEC`, `TYPING_BURST`).
    typing_budget: Bucket,
    /// Joins and leaves (`JOIN_PER_SEC`, `JOIN_BURST`).
    joins: Bucket,
    /// Rooms joined in which this person is muted, until when.
    muted: HashMap<i64, DateTime<Utc>>,
    /// The user's privacy preferences, read at the upgrade and again at
    /// every join: a change applies from the next join or connection.
    privacy: Privacy,
}

impl Requests {
    /// The requests of the connection `me`, which has joined no room yet.
    pub fn new(state: Arc<ChatState>, me: Member, privacy: Privacy) -> Self {
        Self {
            me,
            privacy,
            joined: HashSet::new(),
            typing: Throttle::new(state.config.typing_interval),
            typing_budget: Bucket::new(state.config.typing_rate, Instant::now()),
            joins: Bucket::new(state.config.join_rate, Instant::now()),
            muted: HashMap::new(),
            state,
        }
    }

    /// Answers one text frame: a request, a mistake (an `error` frame), or
    /// something that closes the connection.
    pub async fn text(&mut self, text: &str) -> Step {
        match classify(text) {
            Inbound::Close(code, why) => Step::Close(code, why),
            Inbound::Reject {
                code,
                message,
                reference,
            } => Step::Reply(protocol_error(code, message, reference)),
            Inbound::Frame(frame) => self.frame(frame).await,
        }
    }

    /// Follows what the joined rooms said of this person since the last
    /// request: rooms they were taken out of, mutes.
    fn read_notices(&mut self) {
        for notice in self.me.kick.take_notices() {
            match notice {
                Notice::Removed(room) => {
                    self.joined.remove(&room);
                    self.muted.remove(&room);
                    self.typing.reset(room);
                }
                Notice::Muted(room, Some(until)) => {
                    self.muted.insert(room, until);
                }
                Notice::Muted(room, None) => {
                    self.muted.remove(&room);
                }
            }
        }
    }

    async fn frame(&mut self, frame: ClientFrame) -> Step {
        self.read_notices();
        match frame {
            ClientFrame::Join { room, since } => self.join(room, since).await,
            ClientFrame::Leave { room } => self.leave(room),
            ClientFrame::Send {
                room,
                body,
                nonce,
                reply_to,
                attachments,
            } => {
                let ask = Ask::Send {
                    body: &body,
                    reply_to,
                    attachments: &attachments,
                };
                self.change(room, nonce, ask).await
            }
            ClientFrame::Edit {
                room,
                id,
                body,
                nonce,
            } => {
                self.change(room, nonce, Ask::Edit { id, body: &body })
                    .await
            }
            ClientFrame::Delete { room, id, nonce } => {
                self.change(room, nonce, Ask::Delete { id }).await
            }
            ClientFrame::React {
                room,
                id,
                emoji,
                on,
                nonce,
            } => {
                let ask = Ask::React {
                    id,
                    emoji: &emoji,
                    on,
                };
                self.change(room, nonce, ask).await
            }
            ClientFrame::Read { room, seq } => self.read(room, seq),
            ClientFrame::Typing { room } => self.typing(room).await,
        }
    }

    /// Leaves every room joined: the connection is closing.
    pub fn leave_all(&mut self) {
        for room in self.joined.drain() {
            self.state.hub.leave(room, self.me.conn);
        }
    }

    /// Whether the connection may join or leave now; else the answer.
    fn joins_allowed(&mut self, room: i64) -> Result<(), Step> {
        if self.joins.take(Instant::now()) {
            return Ok(());
        }
        let wait = self.joins.wait();
        let msg = format!(
            "too many joins and leaves: try again in {} ms",
            wait.as_millis().max(1)
        );
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(Step::Reply(rate_limited(msg, Some(room.to_string()), secs)))
    }

    async fn join(&mut self, room: i64, since: Option<i64>) -> Step {
        let reference = Some(room.to_string());
        if let Err(refused) = self.joins_allowed(room) {
            return refused;
        }
        if since.is_some_and(|s| s < 0) {
            let msg = "since must be 0 or more";
            return Step::Reply(protocol_error(Code::BadRequest, msg, reference));
        }
        let max_rooms = self.state.config.max_rooms_per_connection;
        if !self.joined.contains(&room) && self.joined.len() >= max_rooms {
            // Rooms deleted since they were joined free their places.
            self.forget_deleted_rooms().await;
        }
        if !self.joined.contains(&room) && self.joined.len() >= max_rooms {
            let msg = format!("a connection can be in at most {max_rooms} rooms");
            return Step::Reply(protocol_error(Code::BadRequest, msg, reference));
        }
        let checked = async {
            let mut conn = self.state.pool.get().await?;
            let (_, standing) = guard::readable(&mut conn, self.me.user.id, room).await?;
            match standing.mute_at(Utc::now()) {
                Some(until) => self.muted.insert(room, until),
                None => self.muted.remove(&room),
            };
            // One small query per join: a change of the privacy
            // preferences applies from the next join.
            let privacy = preferences::get(&mut conn, self.me.user.id)
                .await?
                .privacy();
            if let Some(since) = since {
                let (limiter, budget) = (&self.state.limiter, &self.state.config.replay_budget);
                let user = self.me.user.id.to_string();
                // Without Redis the budget is not kept: a reconnect after an
                // outage must still replay.
                match limiter.within_budget(budget, &user).await {
                    // Over it, only a join with nothing to replay goes on.
                    Err(limited @ common::Error::RateLimited { .. }) => {
                        let last = room_seqs::last_seqs(&mut conn, &[room]).await?;
                        if last.first().is_some_and(|(_, last)| *last > since) {
                            self.state.metrics.replays_refused.inc();
                            return Err(limited);
                        }
                        return Ok((Some(since), Replay::default(), privacy));
                    }
                    Err(e) => tracing::warn!(error = %e, "the replay budget is unavailable"),
                    Ok(()) => {}
                }
                drop(conn);
                // Read here, not in the room: its live deliveries never
                // wait for a replay.
                let replay =
                    history::replay(&self.state.db, room, since, self.state.config.replay).await?;
                let bytes: usize = replay.rows.iter().map(|(_, frame)| frame.len()).sum();
                if let Err(e) = limiter.spend(budget, &user, bytes as u64).await {
                    tracing::warn!(error = %e, "could not count a replay against its budget");
                }
                return Ok((Some(since), replay, privacy));
            }
            // Without `since` the join starts where the room is now, so the
            // sends queued right behind it are delivered (and acknowledged)
            // however late the room opens here.
            let last = room_seqs::last_seqs(&mut conn, &[room]).await?;
            Ok((
                last.first().map(|(_, seq)| *seq),
                Replay::default(),
                privacy,
            ))
        };
        match checked.await {
            Ok((since, replay, privacy)) => {
                self.privacy = privacy;
                self.joined.insert(room);
                let member = Member {
                    hidden: privacy.appear_offline,
                    ..self.me.clone()
                };
                self.state.hub.join(room, member, since, replay);
                Step::Continue
            }
            Err(e) => Step::Reply(error_frame(&e, reference)),
        }
    }

    /// Drops the joined rooms that no longer exist (their `left` was sent
    /// when they were deleted). A failed look-up keeps them: the limit
    /// errs on the side of the server.
    async fn forget_deleted_rooms(&mut self) {
        let ids: Vec<i64> = self.joined.iter().copied().collect();
        let existing = async {
            let mut conn = self.state.pool.get().await?;
            rooms::existing(&mut conn, &ids).await
        };
        match existing.await {
            Ok(existing) => {
                let existing: HashSet<i64> = existing.into_iter().collect();
                self.joined.retain(|room| existing.contains(room));
            }
            Err(e) => tracing::warn!(error = %e, "could not check which joined rooms still exist"),
        }
    }

    fn leave(&mut self, room: i64) -> Step {
        if let Err(refused) = self.joins_allowed(room) {
            return refused;
        }
        self.typing.reset(room);
        if !self.joined.remove(&room) {
            let msg = "this connection is not in that room";
            return Step::Reply(protocol_error(Code::NotJoined, msg, Some(room.to_string())));
        }
        self.state.hub.leave(room, self.me.conn);
        self.muted.remove(&room);
        Step::Reply(ServerFrame::Left { room, reason: None }.to_json().into())
    }

    /// A change to a joined room (send, edit, delete, react): checked and
    /// queued now, in the order of requests (so they are stored in that
    /// order); its outcome is awaited while later requests go on. A send
    /// ends a burst of typing: the next keystroke is news again.
    async fn change(&mut self, room: i64, nonce: String, ask: Ask<'_>) -> Step {
        if !self.joined.contains(&room) {
            let msg = "join the room before changing anything in it";
            return Step::Reply(protocol_error(Code::NotJoined, msg, Some(nonce)));
        }
        self.typing.reset(room);
        let queued = self
            .state
            .messenger
            .queue(&self.me.user, room, &nonce, ask)
            .await;
        match queued {
            Err(e) => Step::Reply(error_frame(&e, Some(nonce))),
            Ok(queued) => {
                let (state, me) = (self.state.clone(), self.me.clone());
                Step::Await(Box::pin(async move {
                    appended(&state, &me, room, nonce, queued.outcome().await)
                }))
            }
        }
    }

    /// Moves the read mark; every connection of the user (this one too)
    /// hears the new unread state on the user's channel.
    fn read(&mut self, room: i64, seq: i64) -> Step {
        let state = self.state.clone();
        let user = self.me.user.id;
        Step::Await(Box::pin(async move {
            match state.messenger.read(user, room, seq).await {
                Ok(_) => Step::Continue,
                Err(e) => Step::Reply(error_frame(&e, Some(room.to_string()))),
            }
        }))
    }

    async fn typing(&mut self, room: i64) -> Step {
        if !self.joined.contains(&room) {
            let msg = "join the room first";
            return Step::Reply(protocol_error(Code::NotJoined, msg, Some(room.to_string())));
        }
        let muted = self
            .muted
            .get(&room)
            .is_some_and(|until| *until > Utc::now());
        // A muted person's typing is news to no one; someone who hides
        // their typing, or appears offline, types unseen.
        if muted || !self.privacy.show_typing || self.privacy.appear_offline {
            return Step::Continue;
        }
        let now = Instant::now();
        if !self.typing.allow(room, now) || !self.typing_budget.take(now) {
            return Step::Continue;
        }
        let user = &self.me.user;
        let frame = ServerFrame::Typing {
            room,
            user: user.clone(),
        }
        .to_json();
        let (redis, prefix) = (&self.state.redis, &self.state.config.common.redis_prefix);
        match common::fanout::publish_event(redis, prefix, room, user.id, &frame).await {
            Ok(()) => Step::Continue,
            Err(e) => Step::Reply(error_frame(&e, Some(room.to_string()))),
        }
    }
}

/// A change finished: a new event goes to the room through the hub's local
/// shortcut (the sender's copy is its acknowledgement); a repeated nonce
/// answers only the sender, with the event stored before, through the room
/// so that it comes after every event before it.
fn appended(
    state: &ChatState,
    me: &Member,
    room: i64,
    nonce: String,
    result: common::Result<Appended>,
) -> Step {
    match result {
        Ok(event) if event.created => {
            state.metrics.messages_stored.inc();
            let delivery = Delivery::Sequenced {
                seq: event.seq,
                frame: event.json.into(),
            };
            state.hub.deliver(room, delivery);
            Step::Continue
        }
        Ok(event) => {
            state
                .hub
                .answer(room, me.clone(), event.seq, event.json.into());
            Step::Continue
        }
        Err(e) => Step::Reply(error_frame(&e, Some(nonce))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPING_EVERY: Duration = Duration::from_secs(1);

    #[test]
    fn the_join_bucket_allows_a_burst_then_its_rate() {
        let t0 = Instant::now();
        let rate = Rate {
            per_sec: 2.0,
            burst: 3.0,
        };
        let mut bucket = Bucket::new(rate, t0);
        assert!((0..3).all(|_| bucket.take(t0)));
        assert!(!bucket.take(t0));
        assert!(bucket.wait() > Duration::ZERO);
        // Half a second later one token is back, and only one.
        let later = t0 + Duration::from_millis(500);
        assert!(bucket.take(later));
        assert!(!bucket.take(later));
        // Idle for long, it holds no more than its burst.
        let much_later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.take(much_later)));
        assert!(!bucket.take(much_later));
    }

    #[test]
    fn typing_goes_through_once_per_interval_and_room() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(TYPING_EVERY);
        assert!(throttle.allow(7, t0));
        assert!(!throttle.allow(7, t0 + Duration::from_millis(999)));
        assert!(throttle.allow(8, t0), "another room is news");
        assert!(throttle.allow(7, t0 + TYPING_EVERY));
    }

    #[test]
    fn a_send_ends_the_burst() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(TYPING_EVERY);
        assert!(throttle.allow(7, t0));
        throttle.reset(7);
        assert!(throttle.allow(7, t0 + Duration::from_millis(10)));
    }
}
