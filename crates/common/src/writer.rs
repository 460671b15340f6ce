//! Group commit for new messages: sends from every connection of a process
//! queue here, and each room's waiting messages are stored together, in one
//! transaction, while the previous batch commits. Under load this turns one
//! commit (and one fsync) per message into one per batch; idle, a lone
//! message is written at once.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::db::DbPool;
use crate::error::{Error, Result};
use crate::store::messages::{self, Draft, Stored};

/// Messages gathered into one batch at most.
const MAX_BATCH: usize = 256;
/// Sends waiting per shard before senders wait too (back-pressure).
const QUEUE: usize = 4096;

struct Job {
    room_id: i64,
    draft: Draft,
    reply: oneshot::Sender<Result<Stored>>,
}

/// Stores messages in batches; rooms are spread over a few shards, each
/// writing one batch at a time.
#[derive(Clone)]
pub struct MessageWriter {
    shards: Vec<mpsc::Sender<Job>>,
}

impl MessageWriter {
    /// Starts `shards` writer tasks (each uses one pooled connection at a time).
    pub fn start(pool: DbPool, shards: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(pool.clone(), rx));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Stores one message (see `store::messages::store_batch` for the rules)
    /// and returns when its batch has committed.
    pub async fn store(&self, room_id: i64, draft: Draft) -> Result<Stored> {
        let shard = &self.shards[room_id.rem_euclid(self.shards.len() as i64) as usize];
        let (reply, answer) = oneshot::channel();
        shard
            .send(Job {
                room_id,
                draft,
                reply,
            })
            .await
            .map_err(|_| Error::Unavailable("the message writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the message writer stopped".into()))?
    }
}

async fn run(pool: DbPool, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut by_room: HashMap<i64, Vec<Job>> = HashMap::new();
        for job in jobs.drain(..) {
            by_room.entry(job.room_id).or_default().push(job);
        }
        for (room_id, batch) in by_room {
            write(&pool, room_id, batch).await;
        }
    }
}

async fn write(pool: &DbPool, room_id: i64, batch: Vec<Job>) {
    let drafts: Vec<Draft> = batch.iter().map(|j| j.draft.clone()).collect();
    let outcome = async {
        let mut conn = pool.get().await?;
        messages::store_batch(&mut conn, room_id, &drafts).await
    };
    match outcome.await {
        Ok(stored) => {
            for (job, stored) in batch.into_iter().zip(stored) {
                let _ = job.reply.send(Ok(stored));
            }
        }
        Err(e) => {
            if !matches!(e, Error::NotFound(_)) {
                tracing::warn!(error = %e, room.id = room_id, messages = batch.len(), "storing a batch failed");
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
        Error::NotFound(what) => Error::NotFound(what),
        e if e.is_unavailable() => Error::Unavailable(e.to_string()),
        Error::Database(_) => Error::Unavailable(format!("storing failed: {e}")),
        e => Error::Internal(e.to_string()),
    }
}
