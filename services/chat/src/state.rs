//! What every handler and task of the chat service shares.

use std::sync::Arc;

use common::auth::token::TokenVerifier;
use common::db::{DbPool, DbPools};
use common::messaging::Messenger;
use common::ratelimit::RateLimiter;
use common::redis_client::RedisConn;

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
    /// The primary (`write`, the same pool as `pool`) and where joins'
    /// replays are read (`read`: a replica with `DATABASE_READ_URL`).
    pub db: DbPools,
    /// Every change to a room (send, edit, delete, react) and read marks go
    /// through it: rate limit, the event log's group commit, publishing.
    pub messenger: Messenger,
    /// Publishing ephemeral frames (typing) and readiness.
    pub redis: RedisConn,
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
    /// Per-user budgets kept in Redis across instances (replayed bytes).
    pub limiter: RateLimiter,
}
