//! Followers of the room event logs. Each reads every room's log after its
//! own cursor and applies what the events concern, advancing the cursor in
//! the same transaction: a restart redoes at most what was not committed,
//! and applying twice changes nothing.
//!
//! - `search` makes the search rows of the messages the events concern
//!   what the messages are now (new, edited, deleted).
//! - `questions` queues an assistant job for each new message that
//!   mentions the bot.

use std::time::Duration;

use chrono::Utc;
use common::error::{Error, Result};
use common::store::{assistant, cursors, events, search};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use common::db::DbPool;

use crate::config::FollowConfig;
use crate::metrics::Metrics;
use crate::state::WorkerState;

/// A follower of the log: what it does with the messages events concern.
#[derive(Debug, Clone, Copy)]
pub enum Consumer {
    /// Keeps `message_search`.
    Search,
    /// Queues a job for each message mentioning `bot`, unless it is older
    /// than `max_age` when seen.
    Questions { bot: i64, max_age: Duration },
}

impl Consumer {
    /// Its name in `log_cursors`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Questions { .. } => "questions",
        }
    }

    async fn apply(&self, conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<()> {
        match self {
            Self::Search => search::refresh(conn, ids).await,
            Self::Questions { bot, max_age } => {
                let since = Utc::now()
                    - chrono::Duration::from_std(*max_age).unwrap_or(chrono::Duration::zero());
                let questions = assistant::questions_among(conn, ids, *bot, since).await?;
                assistant::enqueue(conn, &questions).await.map(drop)
            }
        }
    }
}

/// One pass of `consumer` over the rooms that are behind; the number of
/// events applied.
pub async fn pass(
    pool: &DbPool,
    metrics: &Metrics,
    follow: &FollowConfig,
    consumer: Consumer,
) -> Result<usize> {
    let mut conn = pool.get().await?;
    let behind = cursors::behind(&mut conn, consumer.name(), follow.rooms_per_pass).await?;
    let mut applied = 0;
    for room in behind {
        applied += conn
            .transaction::<_, Error, _>(async |conn| {
                let (ids, last) =
                    events::touched_after(conn, room.room_id, room.seq, follow.events_per_room)
                        .await?;
                let Some(last) = last else {
                    return Ok(0);
                };
                consumer.apply(conn, &ids).await?;
                cursors::advance(conn, consumer.name(), room.room_id, last).await?;
                Ok((last - room.seq) as usize)
            })
            .await?;
    }
    metrics
        .events_followed
        .with_label_values(&[consumer.name()])
        .inc_by(applied as u64);
    Ok(applied)
}

/// Follows the log until `stop` says so: a pass, then another at once
/// while rooms are still behind, else a pause of `follow.interval`.
pub async fn run(
    state: std::sync::Arc<WorkerState>,
    follow: FollowConfig,
    consumer: Consumer,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let busy = match pass(&state.pool, &state.metrics, &follow, consumer).await {
            Ok(n) => n > 0,
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
