//! What every handler and task of the chat service shares.

use std::sync::Arc;

use common::auth::token::TokenVerifier;
use common::db::DbPool;
use common::ratelimit::RateLimiter;
use common::writer::MessageWriter;
use redis::aio::ConnectionManager;

use crate::config::ChatConfig;
use crate::conn_limit::ConnLimit;
use crate::hub::HubHandle;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Shared by all workers and background tasks.
pub struct ChatState {
    pub config: ChatConfig,
    pub pool: DbPool,
    /// Stores new messages in batches.
    pub writer: MessageWriter,
    pub redis: ConnectionManager,
    pub limiter: RateLimiter,
    pub verifier: TokenVerifier,
    pub hub: HubHandle,
    pub conn_limit: ConnLimit,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// Names this process in shared Redis state (presence, connection counts).
    pub instance: String,
}
