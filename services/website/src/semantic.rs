//! The website's side of semantic search: asks the worker (which holds the
//! sentence-embedding model and the vectors) for the messages nearest in
//! meaning to a query, among the rooms a person may read. Best effort: a
//! worker that is down, slow or not configured leaves search to the words
//! alone (`semantic: false`), never an error.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the worker is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct SemanticConfig {
    /// The worker's base URL (`WORKER_URL`, e.g. `http://127.0.0.1:8095`);
    /// `None`: no semantic search.
    pub worker_url: Option<String>,
    /// How long a search waits for it (`SEMANTIC_TIMEOUT_MS`).
    pub timeout: Duration,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            worker_url: None,
            timeout: Duration::from_millis(300),
        }
    }
}

/// What the worker is asked.
#[derive(Debug, Serialize)]
pub struct SemanticAsk<'a> {
    /// Whose readable rooms to search (the worker applies the access rule).
    pub user: i64,
    /// The query as typed.
    pub q: &'a str,
    /// Only this room (already checked readable by the caller).
    pub room: Option<i64>,
    /// How many hits at most.
    pub limit: usize,
}

/// One message near in meaning, nearest first.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub struct SemanticHit {
    /// The message's room.
    pub room: i64,
    /// The message id.
    pub id: i64,
    /// Cosine similarity, -1..=1.
    pub score: f32,
}

/// The worker's answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct SemanticAnswer {
    /// Nearest first.
    pub hits: Vec<SemanticHit>,
}

/// A client of the worker's `/internal/semantic`.
#[derive(Clone)]
pub struct Semantic {
    client: reqwest::Client,
    url: Option<String>,
}

impl Semantic {
    /// A client for `config` (no requests when no worker is configured).
    pub fn new(config: &SemanticConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            url: config
                .worker_url
                .as_ref()
                .map(|u| format!("{}/internal/semantic", u.trim_end_matches('/'))),
        }
    }

    /// The nearest messages, or `None` when semantic search is unavailable
    /// (not configured, the worker down, slow, or without its model).
    pub async fn nearest(&self, ask: &SemanticAsk<'_>) -> Option<Vec<SemanticHit>> {
        let url = self.url.as_ref()?;
        let answer = self.client.post(url).json(ask).send().await;
        match answer {
            Ok(res) if res.status().is_success() => {
                res.json::<SemanticAnswer>().await.ok().map(|a| a.hits)
            }
            Ok(res) => {
                tracing::debug!(status = %res.status(), "semantic search unavailable");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "semantic search unavailable");
                None
            }
        }
    }
}
