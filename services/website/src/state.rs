//! The state every handler shares, built once in `main` (or by a test).

use std::sync::Arc;

use common::auth::password::PasswordHasher;
use common::auth::token::{TokenIssuer, TokenVerifier};
use common::db::{DbPool, DbPools};
use common::messaging::Messenger;
use common::redis_client::RedisConn;

use crate::availability::Availability;
use crate::config::WebsiteConfig;
use crate::metrics::Metrics;
use common::ratelimit::RateLimiter;

/// Shared by all workers through `web::Data`.
pub struct AppState {
    /// What the service was started with.
    pub config: WebsiteConfig,
    /// Postgres connections, shared by every request.
    pub pool: DbPool,
    /// The primary (`write`, the same pool as `pool`) and where history is
    /// read (`read`: a replica with `DATABASE_READ_URL`; `common::reads`).
    pub db: DbPools,
    /// Every change to a room (send, edit, delete, react) and read marks:
    /// the same path as the chat service's.
    pub messenger: Messenger,
    /// Publishes to the chat instances (deleted rooms, memberships).
    pub redis: RedisConn,
    /// Signs session tokens.
    pub issuer: TokenIssuer,
    /// Checks session tokens, old keys included during a rotation.
    pub verifier: TokenVerifier,
    /// Argon2 off the async threads, with bounded concurrency.
    pub passwords: PasswordHasher,
    /// Rate limits shared by every instance, in Redis.
    pub limiter: RateLimiter,
    /// Answers "is this name free?" without a query per keystroke.
    pub availability: Availability,
    /// Counted by the middleware and the actions, served at `/metrics`.
    pub metrics: Metrics,
    /// Keys the CSRF tokens' HMAC; derived from the signing key.
    pub csrf_key: [u8; 32],
    /// Asks the worker for semantic search.
    pub semantic: crate::semantic::Semantic,
    /// The blob store and the upload work allowed at once.
    pub uploads: crate::uploads::Uploads,
}

impl AppState {
    /// Builds the state from the configuration: the pool (connections made
    /// lazily), Redis, the token keys and the password hasher.
    pub async fn build(config: WebsiteConfig) -> common::Result<Arc<Self>> {
        let db = DbPools::build(&config.common, "parley-website")?;
        let pool = db.write.clone();
        let redis = common::redis_client::connect(&config.common.redis).await?;
        let mut keys = vec![config.signing_key.public().clone()];
        keys.extend(config.previous_verifying_keys.iter().cloned());
        let prefix = config.common.redis_prefix.clone();
        Ok(Arc::new(Self {
            issuer: TokenIssuer::new(&config.signing_key),
            verifier: TokenVerifier::new(&keys),
            passwords: PasswordHasher::new(
                config.hash_concurrency,
                config.hash_queue,
                config.hash_nice,
            )
            .await?,
            limiter: RateLimiter::new(redis.clone(), prefix.clone()),
            availability: Availability::new(redis.clone(), pool.clone(), prefix.clone()),
            messenger: Messenger::start(
                pool.clone(),
                RateLimiter::new(redis.clone(), prefix.clone()),
                redis.clone(),
                &config.common,
            ),
            metrics: Metrics::new()
                .map_err(|e| common::Error::internal_from("defining the metrics", e))?,
            csrf_key: config.signing_key.derive_secret("csrf"),
            semantic: crate::semantic::Semantic::new(&config.semantic),
            uploads: crate::uploads::Uploads::new(
                files::Files::open(&config.files)
                    .map_err(|e| common::Error::internal_from("opening the file store", e))?,
                &config.uploads,
            ),
            redis,
            pool,
            db,
            config,
        }))
    }
}
