//! What the worker's tasks share.

use common::db::DbPool;
use common::messaging::Messenger;
use common::protocol::UserRef;
use common::ratelimit::RateLimiter;
use common::redis_client::RedisConn;

use crate::config::AssistantConfig;
use crate::metrics::Metrics;

/// The database, Redis, the one send path, the bot and the settings.
pub struct WorkerState {
    pub pool: DbPool,
    pub metrics: Metrics,
    /// Publishes the assistant's ephemeral frames and keeps its partial
    /// answers.
    pub redis: RedisConn,
    /// Prepended to every Redis key and channel.
    pub redis_prefix: String,
    /// The assistant's limits per asker and per room.
    pub limiter: RateLimiter,
    /// Stores answers through the writer, like every change to a room.
    pub messenger: Messenger,
    /// The assistant's account.
    pub bot: UserRef,
    /// How the assistant answers.
    pub assistant: AssistantConfig,
    /// The language model's client, when one is configured.
    pub provider: Option<llm::Client>,
    /// The sentence-embedding model (semantic search), when its files are
    /// there (`PARLEY_MODELS_DIR`).
    pub embedder: Option<std::sync::Arc<ml::Embedder>>,
    /// How semantic search answers.
    pub semantic: crate::config::SemanticConfig,
    /// The rooms' vectors in memory, for semantic search.
    pub vector_cache: std::sync::Arc<crate::vector_cache::VectorCache>,
    /// How the followers read the log (the assistant waits at most a few
    /// of their intervals for the search rows of what preceded a question).
    pub follow: crate::config::FollowConfig,
    /// Attachments' bytes (the website's store).
    pub files: files::Files,
}
