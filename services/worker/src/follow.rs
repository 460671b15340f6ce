//! Followers of the room event logs. Each reads every room's log after its
//! own cursor and applies what the events concern, advancing the cursor in
//! the same transaction: a restart redoes at most what was not committed,
//! and applying twice changes nothing.
//!
//! - `search` makes the search rows of the messages the events concern
//!   what the messages are now (new, edited, deleted, transcribed).
//! - `questions` queues an assistant job for each new message that
//!   mentions the bot.
//! - `vectors` embeds each new, edited or transcribed message (its
//!   sentence vector, for semantic search) and forgets deleted ones.
//! - `emotions` tags each new or edited message from its stored vector,
//!   behind `vectors` in every room (see `crate::emotions`).
//! - `transcripts` transcribes the voice messages (see
//!   `crate::transcripts`), before its transaction: what a follower needs
//!   slow work for is prepared first, and the transaction only writes.

use std::time::Duration;

use chrono::Utc;
use common::error::{Error, Result};
use common::store::annotations::TRANSCRIPT;
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
    /// Appends emotion tags (room events, published once committed) and
    /// takes back those no longer allowed.
    Emotions {
        tagger: std::sync::Arc<crate::emotions::Tagger>,
        announcer: common::fanout::Announcer,
    },
    /// Appends the transcripts of voice messages (room events, published
    /// once committed).
    Transcripts {
        scribe: std::sync::Arc<crate::transcripts::Scribe>,
        announcer: common::fanout::Announcer,
    },
}

impl Consumer {
    /// Its name in `log_cursors`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Questions { .. } => "questions",
            Self::Vectors { .. } => "vectors",
            Self::Emotions { .. } => "emotions",
            Self::Transcripts { .. } => "transcripts",
        }
    }

    /// The kinds of annotations that change what it keeps of a message:
    /// search and vectors take a transcript in; nobody needs to hear of an
    /// emotion tag.
    fn annotations_read(&self) -> &'static [&'static str] {
        match self {
            Self::Search | Self::Vectors { .. } => &[TRANSCRIPT],
            _ => &[],
        }
    }

    /// The follower whose work this one reads: it never passes it in a
    /// room.
    fn leader(&self) -> Option<&'static str> {
        match self {
            Self::Emotions { .. } => Some("vectors"),
            _ => None,
        }
    }

    /// Whether its transactions must reach the disk before anyone sees
    /// them: those that append room events do (a seq once published is
    /// never handed out again); derived rows need not.
    fn appends_events(&self) -> bool {
        matches!(self, Self::Emotions { .. } | Self::Transcripts { .. })
    }

    /// The slow work on messages `ids` (of the rooms `rooms`), done before
    /// the transaction that applies it (only transcripts have any).
    async fn prepare(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &Metrics,
        rooms: &[i64],
        ids: &[i64],
    ) -> Result<Vec<crate::transcripts::Heard>> {
        match self {
            Self::Transcripts { scribe, .. } => {
                crate::transcripts::transcribe(conn, scribe, metrics, rooms, ids).await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Applies the events read (`touched`, which concern messages `ids`);
    /// returns the room events it appended, to publish once committed.
    async fn apply(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &Metrics,
        touched: &[events::Touched],
        ids: &[i64],
        prepared: &[crate::transcripts::Heard],
    ) -> Result<Vec<crate::annotate::Appended>> {
        match self {
            Self::Transcripts { scribe, .. } => {
                crate::transcripts::append(conn, scribe, metrics, prepared).await
            }
            Self::Emotions { tagger, .. } => {
                let read: std::collections::HashMap<i64, i64> =
                    touched.iter().map(|t| (t.room_id, t.last)).collect();
                crate::emotions::tag(conn, tagger, ids, &read).await
            }
            _ => {
                let rooms: Vec<i64> = touched.iter().map(|t| t.room_id).collect();
                self.keep(conn, &rooms, ids).await.map(|()| Vec::new())
            }
        }
    }

    /// Keeps the rows of the followers that append nothing to the log.
    async fn keep(&self, conn: &mut AsyncPgConnection, rooms: &[i64], ids: &[i64]) -> Result<()> {
        match self {
            Self::Emotions { .. } | Self::Transcripts { .. } => Ok(()),
            Self::Search => search::refresh(conn, rooms, ids).await,
            Self::Questions { bot, max_age } => {
                let since = Utc::now()
                    - chrono::Duration::from_std(*max_age).unwrap_or(chrono::Duration::zero());
                let questions = assistant::questions_among(conn, rooms, ids, *bot, since).await?;
                assistant::enqueue(conn, &questions).await.map(drop)
            }
            Self::Vectors { embedder, cache } => {
                embed(conn, embedder, rooms, ids).await?;
                for room in rooms {
                    cache.drop_room(*room);
                }
                Ok(())
            }
        }
    }
}

/// The most characters of a message embedded (the model reads 256 word
/// pieces at most: more text only costs tokenizing).
const EMBED_CHARS: usize = 2000;

/// Makes the vectors of messages `ids` (of the rooms `rooms`) what the
/// messages are now.
async fn embed(
    conn: &mut AsyncPgConnection,
    embedder: &std::sync::Arc<ml::Embedder>,
    rooms: &[i64],
    ids: &[i64],
) -> Result<()> {
    let live = vectors::live_among(conn, rooms, ids).await?;
    let gone: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !live.iter().any(|m| m.id == *id))
        .collect();
    vectors::forget(conn, rooms, &gone).await?;
    if live.is_empty() {
        return Ok(());
    }
    let texts: Vec<String> = live
        .iter()
        .map(|m| common::markdown::excerpt(&m.text(), EMBED_CHARS))
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

/// One pass of `consumer` over the rooms that are behind. Rooms go
/// together into transactions of about `events_per_room` events (one room
/// with a backlog alone; many rooms with a few new events each together):
/// a transaction per room would, under sends spread over many rooms, cost
/// Postgres as much as the sends themselves.
pub async fn pass(
    pool: &DbPool,
    metrics: &Metrics,
    follow: &FollowConfig,
    consumer: &Consumer,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<Pass> {
    let mut conn = pool.get().await?;
    let behind = match consumer.leader() {
        Some(leader) => {
            cursors::behind_leader(&mut conn, consumer.name(), leader, follow.rooms_per_pass)
                .await?
        }
        None => cursors::behind(&mut conn, consumer.name(), follow.rooms_per_pass).await?,
    };
    let mut done = Pass {
        applied: 0,
        backlog: behind.len() as i64 >= follow.rooms_per_pass,
    };
    if let Consumer::Emotions { tagger, .. } = consumer {
        let taken = conn
            .transaction::<_, Error, _>(async |conn| {
                crate::emotions::withdraw(conn, tagger, follow.events_per_room).await
            })
            .await?;
        done.backlog |= taken.len() as i64 >= follow.events_per_room;
        consumer.announce(&taken).await;
    }
    let started = std::time::Instant::now();
    for group in groups(&behind, follow.events_per_room) {
        if *stop.borrow() || started.elapsed() > follow.pass_budget {
            // Shutting down: what is left waits for the next start. Or
            // long at it: the next pass looks again at who is furthest
            // behind, at once.
            done.backlog = true;
            break;
        }
        let from: Vec<(i64, i64, i64)> = group
            .iter()
            .map(|b| (b.room_id, b.seq, b.last_seq))
            .collect();
        // The events of the range are committed and never change kind:
        // read outside the transaction, like the slow work they call for.
        let touched = events::touched_after_many_with(
            &mut conn,
            &from,
            follow.events_per_room,
            consumer.annotations_read(),
        )
        .await?;
        let mut ids: Vec<i64> = touched.iter().flat_map(|t| t.ids.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let rooms: Vec<i64> = touched.iter().map(|t| t.room_id).collect();
        let prepared = consumer.prepare(&mut conn, metrics, &rooms, &ids).await?;
        let appended = conn
            .transaction::<_, Error, _>(async |conn| {
                if !consumer.appends_events() {
                    cursors::commit_without_waiting(conn).await?;
                }
                let appended = consumer
                    .apply(conn, metrics, &touched, &ids, &prepared)
                    .await?;
                let to: Vec<(i64, i64)> = touched.iter().map(|t| (t.room_id, t.last)).collect();
                cursors::advance_many(conn, consumer.name(), &to).await?;
                Ok(appended)
            })
            .await?;
        consumer.announce(&appended).await;
        for t in touched {
            if let Some(room) = group.iter().find(|b| b.room_id == t.room_id) {
                done.applied += (t.last - room.seq) as usize;
                done.backlog |= t.last < room.last_seq;
            }
        }
    }
    metrics
        .events_followed
        .with_label_values(&[consumer.name()])
        .inc_by(done.applied as u64);
    Ok(done)
}

impl Consumer {
    /// Publishes committed events to their rooms' channels. A lost publish
    /// is not lost for readers: chat instances catch up from the log.
    async fn announce(&self, appended: &[crate::annotate::Appended]) {
        let (Self::Emotions { announcer, .. } | Self::Transcripts { announcer, .. }) = self else {
            return;
        };
        if appended.is_empty() {
            return;
        }
        let events: Vec<(i64, i64, &str)> = appended
            .iter()
            .map(|(room, seq, json)| (*room, *seq, json.as_str()))
            .collect();
        if let Err(e) = announcer.announce(&events, &[]).await {
            tracing::warn!(error = %e, consumer = self.name(), "could not publish annotations; chat catches up from the log");
        }
    }
}

/// `behind` cut into groups of rooms with about `events` events to apply
/// together (each room counts its backlog, up to `events`); every group
/// has at least one room.
fn groups(behind: &[cursors::Behind], events: i64) -> Vec<&[cursors::Behind]> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0);
    for (i, b) in behind.iter().enumerate() {
        let n = (b.last_seq - b.seq).clamp(1, events.max(1));
        if i > start && sum + n > events {
            out.push(&behind[start..i]);
            (start, sum) = (i, 0);
        }
        sum += n;
    }
    if start < behind.len() {
        out.push(&behind[start..]);
    }
    out
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
        let busy = match pass(&state.pool, &state.metrics, &follow, &consumer, &stop).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn behind(backlogs: &[i64]) -> Vec<cursors::Behind> {
        backlogs
            .iter()
            .enumerate()
            .map(|(i, n)| cursors::Behind {
                room_id: i as i64,
                seq: 10,
                last_seq: 10 + n,
            })
            .collect()
    }

    fn sizes(backlogs: &[i64], events: i64) -> Vec<usize> {
        groups(&behind(backlogs), events)
            .iter()
            .map(|g| g.len())
            .collect()
    }

    #[test]
    fn rooms_with_a_few_events_go_together_and_a_backlog_alone() {
        assert_eq!(sizes(&[1; 10], 4), vec![4, 4, 2]);
        assert_eq!(sizes(&[500, 1, 1], 64), vec![1, 2]);
        assert_eq!(sizes(&[2, 70, 3], 64), vec![1, 1, 1]);
        assert_eq!(sizes(&[], 64), Vec::<usize>::new());
        assert_eq!(sizes(&[5], 0), vec![1]);
    }
}
