//! Parley's chat service: the WebSocket endpoint of protocol.md. Messages
//! are stored in Postgres before anyone sees them and fanned out across any
//! number of instances through Redis pub/sub (one subscriber per process);
//! each process orders and completes what it delivers from Postgres.

#![warn(missing_docs)]

pub mod broker;
pub mod config;
pub mod conn_limit;
pub mod connection;
pub mod delivery;
pub mod error;
pub mod health;
pub mod history;
pub mod hub;
pub mod inbound;
pub mod instances;
pub mod metrics;
pub mod presence;
pub mod registry;
pub mod requests;
pub mod room;
pub mod sequencer;
pub mod server;
pub mod state;
pub mod upgrade;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::auth::token::TokenVerifier;
use common::messaging::Messenger;
use common::ratelimit::RateLimiter;
use common::store::sessions;
use tokio::task::JoinHandle;

use crate::config::ChatConfig;
use crate::conn_limit::ConnLimit;
use crate::instances::Heartbeat;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::registry::{Registry, close};
use crate::room::RoomDeps;
use crate::server::Server;
use crate::state::ChatState;

/// How often live sockets are checked against logouts.
const REVOCATION_POLL: Duration = Duration::from_secs(1);

/// A running chat service's state and its background tasks.
pub struct Chat {
    /// What the server's handlers share; tests and `main` read it too.
    pub state: Arc<ChatState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Chat {
    /// Connects to Postgres and Redis and starts the hub, the broker and the
    /// periodic tasks (revocations, connection counts).
    pub async fn start(config: ChatConfig) -> common::Result<Self> {
        let db = common::db::DbPools::build(&config.common, "parley-chat")?;
        let pool = db.write.clone();
        let redis = common::redis_client::connect(&config.common.redis).await?;
        let instance = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let prefix = config.common.redis_prefix.clone();
        let metrics =
            Metrics::new().map_err(|e| common::Error::internal_from("metrics registry", e))?;
        let metrics = Arc::new(metrics);
        let registry = Arc::new(Registry::default());
        let (sink, inbox) = delivery::sink();
        let broker = broker::start(
            &config.common.redis,
            prefix.clone(),
            sink.clone(),
            metrics.clone(),
        )?;
        let (heartbeat, liveness) = Heartbeat::new(
            redis.clone(),
            &prefix,
            instance.clone(),
            config.presence_ttl,
        );
        // Beat once before serving, so this instance counts as alive from
        // its first connection.
        let beaten = match heartbeat.beat(true).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the first instance heartbeat");
                false
            }
        };
        let deps = Arc::new(RoomDeps {
            db: db.clone(),
            presence: Presence::new(
                redis.clone(),
                prefix.clone(),
                instance.clone(),
                liveness.clone(),
                config.presence_refresh,
            ),
            metrics: metrics.clone(),
            unread_refresh: config.unread_refresh,
            presence_batch: config.presence_batch,
            replay: config.replay,
        });
        let hub = hub::start(inbox, sink, deps, broker, db.clone(), config.catch_up_every);
        let limiter = RateLimiter::new(redis.clone(), prefix.clone());
        let state = Arc::new(ChatState {
            conn_limit: ConnLimit::new(
                redis.clone(),
                prefix.clone(),
                instance.clone(),
                config.max_connections_per_user,
                liveness,
                config.presence_refresh,
            ),
            messenger: Messenger::start(
                pool.clone(),
                limiter.clone(),
                redis.clone(),
                &config.common,
            ),
            verifier: TokenVerifier::new(&config.verifying_keys),
            config,
            pool,
            db,
            redis,
            hub,
            registry,
            metrics,
            instance,
            limiter,
        });
        let tasks = vec![
            tokio::spawn(poll_revocations(state.clone())),
            tokio::spawn(refresh_connections(state.clone())),
            tokio::spawn(heartbeat.run(beaten)),
        ];
        Ok(Self { state, tasks })
    }

    /// Serves HTTP and WebSocket on `listener` until [`Chat::shutdown`].
    pub fn serve(&self, listener: TcpListener) -> std::io::Result<Server> {
        Server::start(self.state.clone(), listener)
    }

    /// SIGTERM: close every socket with 1001 so clients resume elsewhere,
    /// give them a moment to go, then stop accepting.
    pub async fn shutdown(&self, server: Server) {
        server.stop().await;
        self.state.registry.kick_all(close::GOING_AWAY);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !self.state.registry.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Closes the sockets of sessions revoked since the last look (logout).
async fn poll_revocations(state: Arc<ChatState>) {
    let mut since = Utc::now() - chrono::Duration::seconds(5);
    let mut tick = tokio::time::interval(REVOCATION_POLL);
    loop {
        tick.tick().await;
        if state.registry.is_empty() {
            since = Utc::now() - chrono::Duration::seconds(2);
            continue;
        }
        let started = Utc::now();
        let revoked = async {
            let mut conn = state.pool.get().await?;
            sessions::revoked_since(&mut conn, since).await
        };
        match revoked.await {
            Ok(ids) => {
                if !ids.is_empty() {
                    let closed = state.registry.revoke(&ids);
                    if closed > 0 {
                        tracing::info!(
                            connections = closed,
                            "closed the sockets of revoked sessions"
                        );
                    }
                }
                // Overlap the windows: a revocation committed during the query is seen next time.
                since = started - chrono::Duration::seconds(2);
            }
            Err(e) => tracing::warn!(error = %e, "could not check for revoked sessions"),
        }
    }
}

/// Writes this instance's entries in the per-user connection counts again
/// once per refresh interval, and at once when Redis lost them.
async fn refresh_connections(state: Arc<ChatState>) {
    let mut tick = tokio::time::interval(state.conn_limit.refresh_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut liveness = state.conn_limit.liveness();
    let mut lost = liveness.borrow_and_update().lost;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = liveness.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = liveness.borrow_and_update().lost;
                if now == lost {
                    continue;
                }
                lost = now;
            }
        }
        if let Err(e) = state.conn_limit.refresh(&state.registry.snapshot()).await {
            tracing::warn!(error = %e, "could not refresh connection counts");
        }
    }
}
