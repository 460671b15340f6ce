//! Group commit for room events: sends, edits, deletions and reactions from
//! every connection of a process queue here, and each room's waiting events
//! are appended to its log together, in one transaction, while the previous
//! batch commits. Under load this turns one
//! commit (and one fsync) per message into one per batch; idle, a lone
//! message is written at once.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::db::DbPool;
use crate::error::{Error, Result};
use crate::store::events::{self, Appended, EventDraft, Policy};

/// Events gathered into one batch at most.
const MAX_BATCH: usize = 256;
/// Sends waiting per shard before senders wait too (back-pressure).
const QUEUE: usize = 4096;

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

impl EventWriter {
    /// Starts `shards` writer tasks (each uses one pooled connection at a time).
    pub fn start(pool: DbPool, shards: usize, policy: Policy) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(pool.clone(), policy, rx));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Appends one event (see `store::events::append_batch` for the rules)
    /// and returns when its batch has committed.
    pub async fn append(&self, room_id: i64, draft: EventDraft) -> Result<Appended> {
        let shard = &self.shards[room_id.rem_euclid(self.shards.len() as i64) as usize];
        let (reply, answer) = oneshot::channel();
        shard
            .send(Job {
                room_id,
                draft,
                reply,
            })
            .await
            .map_err(|_| Error::Unavailable("the event writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the event writer stopped".into()))?
    }
}

async fn run(pool: DbPool, policy: Policy, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut by_room: HashMap<i64, Vec<Job>> = HashMap::new();
        for job in jobs.drain(..) {
            by_room.entry(job.room_id).or_default().push(job);
        }
        for (room_id, batch) in by_room {
            write(&pool, &policy, room_id, batch).await;
        }
    }
}

async fn write(pool: &DbPool, policy: &Policy, room_id: i64, batch: Vec<Job>) {
    let drafts: Vec<EventDraft> = batch.iter().map(|j| j.draft.clone()).collect();
    let outcome = async {
        let mut conn = pool.get().await?;
        events::append_batch(&mut conn, room_id, &drafts, policy).await
    };
    match outcome.await {
        Ok(answers) => {
            for (job, answer) in batch.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            if !matches!(e, Error::NotFound(_)) {
                tracing::warn!(error = %e, room.id = room_id, events = batch.len(), "appending a batch failed");
            }
            for job in batch {
                let _ = job.reply.send(Err(share(&e)));
            }
        }
    }
}

/// The error each sender of a failed batch gets (errors are not `Clone`).
fn share(e: &Error) -> Error {
    match e {
        Error::NotFound(what) => Error::NotFound(*what),
        e if e.is_unavailable() => Error::Unavailable(e.to_string()),
        Error::Database(_) => Error::Unavailable(format!("storing failed: {e}")),
        e => Error::Internal(e.to_string()),
    }
}
