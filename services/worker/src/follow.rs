//! Followers of the room event logs. Each reads every room's log after its
//! own cursor and applies what the events concern, advancing the cursor in
//! the same transaction: a restart redoes at most what was not committed,
//! and applying twice changes nothing.
//!
//! - `search` makes the search rows of the messages the events concern
//!   what the messages are now (new, edited, deleted).
//! - `questions` queues an assistant job for each new message that
//!   mentions the bot.
//! - `vectors` embeds each new or edited message (its sentence vector, for
//!   semantic search) and forgets deleted ones.

use std::time::Duration;

use chrono::Utc;
use common::error::{Error, Result};
use common::store::{assistant, cursors, events, search, vectors};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use common::db::DbPool;

use crate::config::FollowConfig;
use crate::metrics::Metrics;
use crate::state::WorkerState;

/// A follower of the log: what it does with the messages events concern.
#[derive(Clone)]
pub enum Consumer {
    /// Keeps `message_search`.
    Search,
    /// Queues a job for each message mentioning `bot`, unless it is older
    /// than `max_age` when seen.
    Questions { bot: i64, max_age: Duration },
    /// Keeps `message_vectors` with this model, and drops the rooms it
    /// writes from the searches' cache.
    Vectors {
        embedder: std::sync::Arc<ml::Embedder>,
        cache: std::sync::Arc<crate::vector_cache::VectorCache>,
    },
}

impl Consumer {
    /// Its name in `log_cursors`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Questions { .. } => "questions",
            Self::Vectors { .. } => "vectors",
        }
    }

    async fn apply(&self, conn: &mut AsyncPgConnection, room: i64, ids: &[i64]) -> Result<()> {
        match self {
            Self::Search => search::refresh(conn, ids).await,
            Self::Questions { bot, max_age } => {
                let since = Utc::now()
                    - chrono::Duration::from_std(*max_age).unwrap_or(chrono::Duration::zero());
                let questions = assistant::questions_among(conn, ids, *bot, since).await?;
                assistant::enqueue(conn, &questions).await.map(drop)
            }
            Self::Vectors { embedder, cache } => {
                embed(conn, embedder, ids).await?;
                cache.drop_room(room);
                Ok(())
            }
        }
    }
}

/// The most characters of a message embedded (the model reads 256 word
/// pieces at most: more text only costs tokenizing).
const EMBED_CHARS: usize = 2000;

/// Makes the vectors of messages `ids` what the messages are now.
async fn embed(
    conn: &mut AsyncPgConnection,
    embedder: &std::sync::Arc<ml::Embedder>,
    ids: &[i64],
) -> Result<()> {
    let live = vectors::live_among(conn, ids).await?;
    let gone: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !live.iter().any(|m| m.id == *id))
        .collect();
    vectors::forget(conn, &gone).await?;
    if live.is_empty() {
        return Ok(());
    }
    let texts: Vec<String> = live
        .iter()
        .map(|m| common::markdown::excerpt(&m.body, EMBED_CHARS))
        .collect();
    let model = embedder.clone();
    let made = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        model.embed(&refs)
    })
    .await
    .map_err(|e| Error::internal_from("the embedding thread", e))?
    .map_err(|e| Error::internal_from("embedding messages", e))?;
    let mut rows = Vec::with_capacity(live.len());
    for (m, v) in live.iter().zip(made) {
        let q = ml::quantize(&v).map_err(|e| Error::internal_from("a vector", e))?;
        rows.push(vectors::StoredVector {
            message_id: m.id,
            room_id: m.room_id,
            model: ml::MODEL_ID,
            scale: q.scale,
            v: q.to_bytes().to_vec(),
        });
    }
    vectors::put(conn, &rows).await
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Events applied.
    pub applied: usize,
    /// More rooms were behind than a pass takes, or a room had more events
    /// than a transaction reads: a backlog, worth another pass at once.
    pub backlog: bool,
}

/// One pass of `consumer` over the rooms that are behind.
pub async fn pass(
    pool: &DbPool,
    metrics: &Metrics,
    follow: &FollowConfig,
    consumer: &Consumer,
) -> Result<Pass> {
    let mut conn = pool.get().await?;
    let behind = cursors::behind(&mut conn, consumer.name(), follow.rooms_per_pass).await?;
    let mut done = Pass {
        applied: 0,
        backlog: behind.len() as i64 >= follow.rooms_per_pass,
    };
    for room in behind {
        let applied = conn
            .transaction::<_, Error, _>(async |conn| {
                cursors::commit_without_waiting(conn).await?;
                let (ids, last) =
                    events::touched_after(conn, room.room_id, room.seq, follow.events_per_room)
                        .await?;
                let Some(last) = last else {
                    return Ok(0);
                };
                consumer.apply(conn, room.room_id, &ids).await?;
                cursors::advance(conn, consumer.name(), room.room_id, last).await?;
                Ok((last - room.seq) as usize)
            })
            .await?;
        done.applied += applied;
        done.backlog |= applied > 0 && room.seq + (applied as i64) < room.last_seq;
    }
    metrics
        .events_followed
        .with_label_values(&[consumer.name()])
        .inc_by(done.applied as u64);
    Ok(done)
}

/// Follows the log until `stop` says so: a pass, then another at once
/// while there is a backlog, else a pause of `follow.interval`: under a
/// steady trickle of sends, each pass then takes an interval's worth of
/// events per room in one transaction, rather than one event per
/// transaction back to back (which cost the send path half its commits).
pub async fn run(
    state: std::sync::Arc<WorkerState>,
    follow: FollowConfig,
    consumer: Consumer,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let busy = match pass(&state.pool, &state.metrics, &follow, &consumer).await {
            Ok(done) => done.backlog,
            Err(e) => {
                state.metrics.follow_errors.inc();
                tracing::warn!(error = %e, consumer = consumer.name(), "a follower failed a pass; retrying");
                false
            }
        };
        if *stop.borrow() {
            return;
        }
        if !busy {
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(follow.interval) => {}
            }
        }
    }
}
