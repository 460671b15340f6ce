//! `POST /internal/semantic`: the messages nearest in meaning to a query
//! among the rooms a person may read, for the website's search. The worker
//! holds the model; the access rule is applied here, from the user id the
//! website sends (the worker listens only where nginx does not route:
//! never expose it).

use std::cmp::Ordering;

use common::error::Error;
use common::guard;
use common::store::{messages, search, vectors};
use serde::{Deserialize, Serialize};

use crate::state::WorkerState;

/// The most hits one search returns.
pub const MAX_HITS: usize = 200;

/// What the website asks.
#[derive(Debug, Deserialize)]
pub struct Ask {
    /// Whose readable rooms to search.
    pub user: i64,
    /// The query as typed.
    pub q: String,
    /// Only this room (404-like empty answer when not readable).
    pub room: Option<i64>,
    /// How many hits at most.
    pub limit: usize,
}

/// One message near in meaning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    /// The message's room.
    pub room: i64,
    /// The message id.
    pub id: i64,
    /// Cosine similarity.
    pub score: f32,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct Answer {
    /// Nearest first.
    pub hits: Vec<Hit>,
}

/// Why there is no answer.
#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    #[error("no sentence-embedding model")]
    NoModel,
    #[error("{0}")]
    Core(#[from] Error),
}

/// The nearest messages to `ask.q` that `ask.user` may read.
pub async fn nearest(state: &WorkerState, ask: Ask) -> Result<Answer, SemanticError> {
    let embedder = state.embedder.clone().ok_or(SemanticError::NoModel)?;
    let q = ask.q.chars().take(1000).collect::<String>();
    let query = tokio::task::spawn_blocking(move || embedder.embed(&[q.as_str()]))
        .await
        .map_err(|e| Error::internal_from("the embedding thread", e))?
        .map_err(|e| Error::internal_from("embedding a query", e))?
        .pop()
        .ok_or_else(|| Error::internal("no vector for the query"))?;
    let mut conn = state.pool.get().await.map_err(Error::from)?;
    let rooms = match ask.room {
        Some(room) => match guard::readable(&mut conn, ask.user, room).await {
            Ok(_) => vec![room],
            Err(Error::NotFound(_) | Error::Denied { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        },
        None => search::readable_rooms(&mut conn, ask.user).await?,
    };
    let (mut cached, missing) = state.vector_cache.get(&rooms);
    if !missing.is_empty() {
        let ids: Vec<i64> = missing.iter().map(|(room, _)| *room).collect();
        let mut by_room: std::collections::HashMap<i64, Vec<(i64, ml::Quantized)>> =
            ids.iter().map(|r| (*r, Vec::new())).collect();
        for s in vectors::of_rooms(&mut conn, &ids, ml::MODEL_ID).await? {
            if let (Some(list), Ok(q)) = (
                by_room.get_mut(&s.room_id),
                ml::Quantized::from_bytes(s.scale, &s.v),
            ) {
                list.push((s.message_id, q));
            }
        }
        for (room, generation) in missing {
            let loaded = std::sync::Arc::new(by_room.remove(&room).unwrap_or_default());
            state.vector_cache.put(room, generation, loaded.clone());
            cached.push((room, loaded));
        }
    }
    // No connection held while the scan runs on the CPU.
    drop(conn);
    let min = state.semantic.min_score;
    let limit = ask.limit.clamp(1, MAX_HITS);
    let mut hits = tokio::task::spawn_blocking(move || {
        let mut hits: Vec<Hit> = cached
            .iter()
            .flat_map(|(room, vectors)| vectors.iter().map(move |v| (*room, v)))
            .filter_map(|(room, (id, q))| {
                let score = ml::dot(&query, q);
                (score >= min).then_some(Hit {
                    room,
                    id: *id,
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
        hits.truncate(limit);
        hits
    })
    .await
    .map_err(|e| Error::internal_from("the scan thread", e))?;
    // A deletion erases its vector at once, but a room's cached copy until
    // the `vectors` follower reaches the deletion: never answer one.
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let mut conn = state.pool.get().await.map_err(Error::from)?;
    let live: std::collections::HashSet<i64> = messages::live_ids(&mut conn, &rooms, &ids)
        .await?
        .into_iter()
        .collect();
    hits.retain(|h| live.contains(&h.id));
    Ok(Answer { hits })
}
