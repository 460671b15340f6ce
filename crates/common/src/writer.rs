//! Group commit for room events: sends, edits, deletions and reactions from
//! every connection of a process queue here, and what is waiting, in every
//! room of a shard, is appended together in one transaction (see
//! `store::events::append_rooms`), then announced to every chat instance in
//! one Redis round trip. Under load this turns one commit (and one fsync)
//! and one publish per message into one per batch; idle, a lone message is
//! written at once. A room whose lock another transaction holds is not
//! waited for by the batch: it is written apart ("a lane", in order) while
//! the shard goes on with every other room. Senders wait at most
//! `WRITER_DEADLINE_SECS`, and a shard that panics goes on with its next
//! batch.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::DbPool;
use crate::error::{Error, Result};
use crate::fanout::Announcer;
use crate::ratelimit::Refund;
use crate::store::events::{self, Appended, EventDraft, Policy};

/// Events gathered into one batch at most.
const MAX_BATCH: usize = 1024;

/// How the writer runs: the settings `WRITER_SHARDS`, `WRITER_QUEUE`,
/// `WRITER_DEADLINE_SECS` and `WRITER_SLOW_LANES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Shards per process: rooms spread over them, each writing one batch
    /// at a time on one pooled connection.
    pub shards: usize,
    /// Events waiting per shard before senders wait too (back-pressure).
    pub queue: usize,
    /// How long a sender waits for a place in the queue, and for the
    /// outcome: past it the answer is "unavailable, outcome unknown".
    pub deadline: Duration,
    /// Rooms written apart at once because another transaction holds their
    /// lock (each waits for it without holding back the others).
    pub slow_lanes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            shards: 4,
            queue: 8192,
            deadline: Duration::from_secs(15),
            slow_lanes: 8,
        }
    }
}

struct Job {
    room_id: i64,
    draft: EventDraft,
    reply: oneshot::Sender<Result<Appended>>,
    /// When its sender stops waiting: a job still queued then is never
    /// written, so the `unavailable` its sender got holds ("not stored").
    expires: tokio::time::Instant,
}

/// Appends events in batches; rooms are spread over a few shards, each
/// writing one batch at a time.
#[derive(Clone)]
pub struct EventWriter {
    shards: Vec<mpsc::Sender<Job>>,
    deadline: Duration,
}

/// An event in a writer's queue: its outcome once its batch committed.
/// Events queued one after another by one caller are stored in that order.
pub struct Queued {
    answer: oneshot::Receiver<Result<Appended>>,
    deadline: Duration,
    /// The rate-limit count this event took, given back if it stores
    /// nothing new (a resend) or nothing at all (unavailable).
    refund: Option<Refund>,
}

impl Queued {
    /// Waits for the event's batch, at most the writer's deadline: the
    /// stored event, or why not. Past the deadline the event may still be
    /// stored; a resend with the same nonce is answered either way.
    pub async fn outcome(self) -> Result<Appended> {
        let outcome = match tokio::time::timeout(self.deadline, self.answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Error::unavailable("the event writer stopped")),
            Err(_) => Err(Error::unavailable(
                "storing took too long; its outcome is unknown",
            )),
        };
        let counted_for_nothing = match &outcome {
            Ok(appended) => !appended.created,
            Err(e) => matches!(e, Error::Unavailable { .. }),
        };
        if let Some(refund) = self.refund.filter(|_| counted_for_nothing) {
            refund.apply().await;
        }
        outcome
    }

    /// Gives the rate-limit count back if the event turns out not to count.
    pub fn refunding(mut self, refund: Refund) -> Self {
        self.refund = Some(refund);
        self
    }
}

impl EventWriter {
    /// Starts the shards (each uses one pooled connection at a time, and
    /// restarts if it panics); with an `announcer`, what they store is
    /// published to every chat instance once committed.
    pub fn start(
        pool: DbPool,
        config: WriterConfig,
        policy: Policy,
        announcer: Option<Announcer>,
    ) -> Self {
        let lanes = Arc::new(Semaphore::new(config.slow_lanes.max(1)));
        let shards = (0..config.shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(config.queue.max(1));
                let (written_tx, written_rx) = mpsc::unbounded_channel();
                let shard = Shard {
                    out: Output {
                        pool: pool.clone(),
                        policy,
                        announcer: announcer.clone(),
                    },
                    rx,
                    lanes: HashMap::new(),
                    lane_permits: lanes.clone(),
                    written_tx,
                    written_rx,
                };
                tokio::spawn(supervised(shard, "an event writer shard", Shard::run));
                tx
            })
            .collect();
        Self {
            shards,
            deadline: config.deadline,
        }
    }

    /// Queues one event (see `store::events::append_batch` for the rules),
    /// waiting while the shard's queue is full, at most the deadline.
    pub async fn queue(&self, room_id: i64, draft: EventDraft) -> Result<Queued> {
        let shard = &self.shards[room_id.rem_euclid(self.shards.len() as i64) as usize];
        let (reply, answer) = oneshot::channel();
        let job = Job {
            room_id,
            draft,
            reply,
            expires: tokio::time::Instant::now() + self.deadline,
        };
        shard
            .send_timeout(job, self.deadline)
            .await
            .map_err(|e| match e {
                mpsc::error::SendTimeoutError::Timeout(_) => {
                    Error::unavailable("the event writer is overloaded")
                }
                mpsc::error::SendTimeoutError::Closed(_) => {
                    Error::unavailable("the event writer stopped")
                }
            })?;
        Ok(Queued {
            answer,
            deadline: self.deadline,
            refund: None,
        })
    }

    /// Appends one event and returns when its batch has committed.
    pub async fn append(&self, room_id: i64, draft: EventDraft) -> Result<Appended> {
        self.queue(room_id, draft).await?.outcome().await
    }
}

/// Runs `run` on `state` until it returns, again after every panic: a bug
/// hit by one batch must not leave a shard's rooms unwritable until a
/// restart. The jobs of the batch that panicked answer "unavailable"
/// (their reply channels are dropped).
async fn supervised<S>(
    mut state: S,
    what: &'static str,
    run: for<'a> fn(&'a mut S) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
) -> S {
    loop {
        match AssertUnwindSafe(run(&mut state)).catch_unwind().await {
            Ok(()) => return state,
            Err(_) => tracing::error!("{what} panicked; it goes on with the next batch"),
        }
    }
}

/// A room's jobs and their answers, once its batch committed.
type Written = (i64, Vec<Job>, Result<Vec<Result<Appended>>>);

/// Where a batch goes: the database, and the announcer of what it stored.
#[derive(Clone)]
struct Output {
    pool: DbPool,
    policy: Policy,
    announcer: Option<Announcer>,
}

/// One shard: its queue, and the rooms it writes apart while another
/// transaction holds their lock.
struct Shard {
    out: Output,
    rx: mpsc::Receiver<Job>,
    /// Rooms whose events wait for a lock held elsewhere. Their later
    /// events follow into the lane, in order, until it has written all.
    lanes: HashMap<i64, Lane>,
    lane_permits: Arc<Semaphore>,
    written_tx: mpsc::UnboundedSender<(i64, usize)>,
    written_rx: mpsc::UnboundedReceiver<(i64, usize)>,
}

/// A room written apart: the jobs handed to it and not yet written.
struct Lane {
    tx: mpsc::UnboundedSender<Vec<Job>>,
    pending: usize,
}

impl Shard {
    fn run(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let mut jobs = Vec::with_capacity(MAX_BATCH);
            loop {
                tokio::select! {
                    n = self.rx.recv_many(&mut jobs, MAX_BATCH) => {
                        if n == 0 {
                            return;
                        }
                        let batch = std::mem::take(&mut jobs);
                        self.write(batch).await;
                    }
                    Some((room, n)) = self.written_rx.recv() => self.lane_wrote(room, n),
                }
            }
        })
    }

    /// Writes a batch: rooms with a lane hand their jobs to it, the others
    /// are written together, and those whose lock is held elsewhere get a
    /// lane of their own.
    async fn write(&mut self, jobs: Vec<Job>) {
        let now = tokio::time::Instant::now();
        let mut by_room: HashMap<i64, Vec<Job>> = HashMap::new();
        for job in jobs {
            // Its sender was told `unavailable` already: writing it now
            // would store what the answer said was not.
            if job.expires <= now {
                continue;
            }
            by_room.entry(job.room_id).or_default().push(job);
        }
        let mut rooms = Vec::with_capacity(by_room.len());
        for (room, jobs) in by_room {
            match self.lanes.get_mut(&room) {
                Some(lane) => {
                    let n = jobs.len();
                    match lane.tx.send(jobs) {
                        Ok(()) => lane.pending += n,
                        // The lane's task is gone (a panic): write here again.
                        Err(mpsc::error::SendError(jobs)) => {
                            self.lanes.remove(&room);
                            rooms.push((room, jobs));
                        }
                    }
                }
                None => rooms.push((room, jobs)),
            }
        }
        if rooms.is_empty() {
            return;
        }
        for (room, jobs) in self.out.write(rooms, true).await {
            self.open_lane(room, jobs);
        }
    }

    fn open_lane(&mut self, room: i64, jobs: Vec<Job>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = jobs.len();
        if tx.send(jobs).is_err() {
            return;
        }
        tracing::info!(
            room.id = room,
            "a room's lock is held elsewhere; writing it apart"
        );
        tokio::spawn(lane(
            room,
            rx,
            self.written_tx.clone(),
            self.lane_permits.clone(),
            self.out.clone(),
        ));
        self.lanes.insert(room, Lane { tx, pending });
    }

    /// A lane wrote `n` jobs; once it has written all it was given, the
    /// room goes back to the shared batches (its order is kept: nothing of
    /// it is left in the lane).
    fn lane_wrote(&mut self, room: i64, n: usize) {
        if let Some(lane) = self.lanes.get_mut(&room) {
            lane.pending = lane.pending.saturating_sub(n);
            if lane.pending == 0 {
                self.lanes.remove(&room);
            }
        }
    }
}

/// Writes one room's events, in order, waiting for its lock, with at most
/// `WRITER_SLOW_LANES` rooms doing so at once; ends when the shard takes
/// the room back.
async fn lane(
    room: i64,
    mut rx: mpsc::UnboundedReceiver<Vec<Job>>,
    written: mpsc::UnboundedSender<(i64, usize)>,
    permits: Arc<Semaphore>,
    out: Output,
) {
    while let Some(mut jobs) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            jobs.extend(more);
        }
        let n = jobs.len();
        let permit = permits.acquire().await;
        // Senders already told `unavailable` while this waited: not written.
        let now = tokio::time::Instant::now();
        jobs.retain(|job| job.expires > now);
        if !jobs.is_empty() {
            let skipped = out.write(vec![(room, jobs)], false).await;
            debug_assert!(skipped.is_empty(), "a waiting write skips nothing");
        }
        drop(permit);
        let _ = written.send((room, n));
    }
}

impl Output {
    /// Appends every room's waiting events in one transaction, announces
    /// what it stored, and answers each sender. With `skip_locked`, rooms
    /// whose lock another transaction holds are not waited for: they are
    /// returned with their jobs, unanswered.
    async fn write(&self, rooms: Vec<(i64, Vec<Job>)>, skip_locked: bool) -> Vec<(i64, Vec<Job>)> {
        let batches: Vec<(i64, Vec<EventDraft>)> = rooms
            .iter()
            .map(|(room, jobs)| (*room, jobs.iter().map(|j| j.draft.clone()).collect()))
            .collect();
        // A connection per batch, given back at once: a shard holding one
        // would starve a small pool of the reads rooms and joins make.
        let outcome = async {
            let mut conn = self.pool.get().await?;
            if skip_locked {
                events::append_rooms_skipping_locked(&mut conn, &batches, &self.policy).await
            } else {
                let answers = events::append_rooms(&mut conn, &batches, &self.policy).await?;
                Ok(answers.into_iter().map(Some).collect())
            }
        };
        let per_room = match outcome.await {
            Ok(per_room) => per_room,
            Err(e) => {
                let e = Arc::new(e);
                for (room_id, jobs) in rooms {
                    answer(room_id, jobs, Err(share(&e)));
                }
                return Vec::new();
            }
        };
        let mut skipped = Vec::new();
        let mut written: Vec<Written> = Vec::with_capacity(rooms.len());
        for ((room_id, jobs), answers) in rooms.into_iter().zip(per_room) {
            match answers {
                Some(answers) => written.push((room_id, jobs, answers)),
                None => skipped.push((room_id, jobs)),
            }
        }
        if let Some(announcer) = &self.announcer {
            announce(announcer, &written).await;
        }
        for (room_id, jobs, answers) in written {
            answer(room_id, jobs, answers);
        }
        skipped
    }
}

/// Publishes a committed batch's new events, and the memberships they
/// made, in one round trip. A failure is only logged: the chat instances'
/// catch-up delivers what pub/sub lost, and a reconnect reads memberships.
async fn announce(announcer: &Announcer, rooms: &[Written]) {
    let mut events = Vec::new();
    let mut joined = Vec::new();
    for (room_id, jobs, answers) in rooms {
        let Ok(answers) = answers else { continue };
        for (job, a) in jobs.iter().zip(answers) {
            let Some(a) = a.as_ref().ok().filter(|a| a.created) else {
                continue;
            };
            events.push((*room_id, a.seq, a.json.as_str()));
            if a.joined {
                joined.push((job.draft.user.id, *room_id));
            }
        }
    }
    if events.is_empty() && joined.is_empty() {
        return;
    }
    if let Err(e) = announcer.announce(&events, &joined).await {
        tracing::warn!(error = %e, events = events.len(), "publish failed; catch-up will deliver");
    }
}

/// Answers the senders of one room's batch: each its own event or refusal,
/// or all the batch's error (logged once).
fn answer(room_id: i64, jobs: Vec<Job>, answers: Result<Vec<Result<Appended>>>) {
    match answers {
        Ok(answers) => {
            for (job, answer) in jobs.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            if e.is_fault() {
                tracing::error!(error = %e, room.id = room_id, events = jobs.len(), "appending a batch failed");
            } else if !matches!(e, Error::NotFound(_)) {
                tracing::warn!(error = %e, room.id = room_id, events = jobs.len(), "appending a batch failed");
            }
            let e = Arc::new(e);
            for job in jobs {
                let _ = job.reply.send(Err(share(&e)));
            }
        }
    }
}

/// The error each sender of a failed batch gets (errors are not `Clone`):
/// the batch's own error, shared as the cause. A dependency down, or a
/// database error that may pass, is `Unavailable` (resend); a fault of the
/// server (a violated constraint, a broken invariant) stays `Internal`, so
/// no client is told to resend what will fail again.
fn share(e: &Arc<Error>) -> Error {
    const WHAT: &str = "storing a batch of events";
    match &**e {
        Error::NotFound(what) => Error::NotFound(*what),
        inner if inner.is_unavailable() => Error::unavailable_from(WHAT, Arc::clone(e)),
        Error::Database(_) if !e.is_fault() => Error::unavailable_from(WHAT, Arc::clone(e)),
        _ => Error::internal_from(WHAT, Arc::clone(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use diesel::result::{DatabaseErrorKind as K, Error as D};

    use super::*;

    fn database(kind: K) -> Arc<Error> {
        Arc::new(Error::Database(D::DatabaseError(
            kind,
            Box::new(String::from("boom")),
        )))
    }

    #[test]
    fn a_violated_constraint_is_no_reason_to_resend() {
        let shared = share(&database(K::CheckViolation));
        assert!(matches!(shared, Error::Internal { .. }), "{shared:?}");
        assert_eq!(
            shared.source().map(ToString::to_string).as_deref(),
            Some("database error: boom")
        );
    }

    #[test]
    fn a_database_error_that_may_pass_asks_for_a_resend() {
        for kind in [K::ClosedConnection, K::SerializationFailure, K::Unknown] {
            let shared = share(&database(kind));
            assert!(matches!(shared, Error::Unavailable { .. }), "{shared:?}");
            assert!(shared.to_string().ends_with("database error: boom"));
        }
        let pool = share(&Arc::new(Error::unavailable("database pool")));
        assert!(matches!(pool, Error::Unavailable { .. }), "{pool:?}");
    }

    struct Runs(usize);

    fn panics_on_its_first_run(runs: &mut Runs) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            runs.0 += 1;
            if runs.0 == 1 {
                panic!("a bug hit by the first batch");
            }
        })
    }

    #[tokio::test]
    async fn a_shard_that_panics_goes_on() {
        let runs = supervised(Runs(0), "a test shard", panics_on_its_first_run).await;
        assert_eq!(runs.0, 2, "run again after the panic, to its end");
    }

    #[test]
    fn a_missing_room_stays_a_missing_room() {
        let shared = share(&Arc::new(Error::NotFound(crate::error::Entity::Room)));
        assert!(matches!(
            shared,
            Error::NotFound(crate::error::Entity::Room)
        ));
    }
}
