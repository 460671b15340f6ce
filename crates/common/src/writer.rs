//! Group commit for room events: sends, edits, deletions and reactions from
//! every connection of a process queue here, and what is waiting, in every
//! room of a shard, is appended together in one transaction (see
//! `store::events::append_rooms`), then announced to every chat instance in
//! one Redis round trip. Under load this turns one commit (and one fsync)
//! and one publish per message into one per batch; idle, a lone message is
//! written at once.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::db::DbPool;
use crate::error::{Error, Result};
use crate::fanout::Announcer;
use crate::ratelimit::Refund;
use crate::store::events::{self, Appended, EventDraft, Policy};

/// Events gathered into one batch at most.
const MAX_BATCH: usize = 1024;
/// Events waiting per shard before senders wait too (back-pressure).
const QUEUE: usize = 8192;

struct Job {
    room_id: i64,
    draft: EventDraft,
    reply: oneshot::Sender<Result<Appended>>,
}

/// Appends events in batches; rooms are spread over a few shards, each
/// writing one batch at a time.
#[derive(Clone)]
pub struct EventWriter {
    shards: Vec<mpsc::Sender<Job>>,
}

/// An event in a writer's queue: its outcome once its batch committed.
/// Events queued one after another by one caller are stored in that order.
pub struct Queued {
    answer: oneshot::Receiver<Result<Appended>>,
    /// The rate-limit count this event took, given back if it stores
    /// nothing new (a resend) or nothing at all (unavailable).
    refund: Option<Refund>,
}

impl Queued {
    /// Waits for the event's batch: the stored event, or why not.
    pub async fn outcome(self) -> Result<Appended> {
        let outcome = self
            .answer
            .await
            .map_err(|_| Error::unavailable("the event writer stopped"))
            .and_then(|answer| answer);
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
    /// Starts `shards` writer tasks (each uses one pooled connection at a
    /// time); with an `announcer`, what they store is published to every
    /// chat instance once committed.
    pub fn start(
        pool: DbPool,
        shards: usize,
        policy: Policy,
        announcer: Option<Announcer>,
    ) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(pool.clone(), policy, announcer.clone(), rx));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Queues one event (see `store::events::append_batch` for the rules),
    /// waiting only while the shard's queue is full.
    pub async fn queue(&self, room_id: i64, draft: EventDraft) -> Result<Queued> {
        let shard = &self.shards[room_id.rem_euclid(self.shards.len() as i64) as usize];
        let (reply, answer) = oneshot::channel();
        shard
            .send(Job {
                room_id,
                draft,
                reply,
            })
            .await
            .map_err(|_| Error::unavailable("the event writer stopped"))?;
        Ok(Queued {
            answer,
            refund: None,
        })
    }

    /// Appends one event and returns when its batch has committed.
    pub async fn append(&self, room_id: i64, draft: EventDraft) -> Result<Appended> {
        self.queue(room_id, draft).await?.outcome().await
    }
}

async fn run(
    pool: DbPool,
    policy: Policy,
    announcer: Option<Announcer>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut by_room: HashMap<i64, Vec<Job>> = HashMap::new();
        for job in jobs.drain(..) {
            by_room.entry(job.room_id).or_default().push(job);
        }
        let rooms = by_room.into_iter().collect();
        write(&pool, &policy, announcer.as_ref(), rooms).await;
    }
}

/// Appends every room's waiting events in one transaction, announces what
/// it stored, and answers each sender.
async fn write(
    pool: &DbPool,
    policy: &Policy,
    announcer: Option<&Announcer>,
    rooms: Vec<(i64, Vec<Job>)>,
) {
    let batches: Vec<(i64, Vec<EventDraft>)> = rooms
        .iter()
        .map(|(room, jobs)| (*room, jobs.iter().map(|j| j.draft.clone()).collect()))
        .collect();
    // A connection per batch, given back at once: a shard holding one would
    // starve a small pool of the reads rooms and joins make.
    let outcome = async {
        let mut conn = pool.get().await?;
        events::append_rooms(&mut conn, &batches, policy).await
    };
    match outcome.await {
        Ok(per_room) => {
            if let Some(announcer) = announcer {
                announce(announcer, &rooms, &per_room).await;
            }
            for ((room_id, jobs), answers) in rooms.into_iter().zip(per_room) {
                answer(room_id, jobs, answers);
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for (room_id, jobs) in rooms {
                answer(room_id, jobs, Err(share(&e)));
            }
        }
    }
}

/// Publishes a committed batch's new events, and the memberships they
/// made, in one round trip. A failure is only logged: the chat instances'
/// catch-up delivers what pub/sub lost, and a reconnect reads memberships.
async fn announce(
    announcer: &Announcer,
    rooms: &[(i64, Vec<Job>)],
    per_room: &[Result<Vec<Result<Appended>>>],
) {
    let mut events = Vec::new();
    let mut joined = Vec::new();
    for ((room_id, jobs), answers) in rooms.iter().zip(per_room) {
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

    #[test]
    fn a_missing_room_stays_a_missing_room() {
        let shared = share(&Arc::new(Error::NotFound(crate::error::Entity::Room)));
        assert!(matches!(
            shared,
            Error::NotFound(crate::error::Entity::Room)
        ));
    }
}
