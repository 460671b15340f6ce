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
    /// The settings read at start.
    pub config: ChatConfig,
    /// Postgres, for sessions, room checks and readiness.
    pub pool: DbPool,
    /// Stores new messages in batches.
    pub writer: MessageWriter,
    /// Publishing to the room channels (sends, typing) and readiness.
    pub redis: ConnectionManager,
    /// The per-user send rate limit.
    pub limiter: RateLimiter,
    /// Checks the tokens presented at upgrade.
    pub verifier: TokenVerifier,
    /// Joins, leaves and local sends go to the rooms through it.
    pub hub: HubHandle,
    /// The per-user cap on open connections, across instances.
    pub conn_limit: ConnLimit,
    /// This process's open connections, for logout and shutdown.
    pub registry: Arc<Registry>,
    /// Counters served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Names this process in shared Redis state (presence, connection counts).
    pub instance: String,
}
