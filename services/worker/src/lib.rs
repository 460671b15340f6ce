//! Parley's worker: background work that follows every room's event log,
//! never on the send path. Today it keeps the search index; each follower
//! keeps its own cursor per room in `log_cursors`.

pub mod config;
pub mod follow;
pub mod metrics;
pub mod server;
pub mod state;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{FollowConfig, WorkerConfig};
use crate::state::WorkerState;

/// A running worker: its followers and its HTTP side.
pub struct Worker {
    pub state: Arc<WorkerState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] common::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl Worker {
    /// Connects as `config` says and starts; see [`Worker::with_pool`].
    pub fn start(
        config: &WorkerConfig,
        listener: std::net::TcpListener,
    ) -> Result<Self, StartError> {
        let pool = common::db::build_pool(
            config.common.database_url.expose(),
            config.common.database_pool_size,
            "parley-worker",
        )?;
        Self::with_pool(pool, config.follow, listener)
    }

    /// Starts following the log over `pool`, and serves health on
    /// `listener`.
    pub fn with_pool(
        pool: common::db::DbPool,
        follow: FollowConfig,
        listener: std::net::TcpListener,
    ) -> Result<Self, StartError> {
        let state = Arc::new(WorkerState {
            pool,
            metrics: metrics::Metrics::new()?,
        });
        let (stop, stopped) = watch::channel(false);
        let follower = tokio::spawn(follow::run(state.clone(), follow, stopped.clone()));
        let http = {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = server::serve(state, listener, stopped).await {
                    tracing::error!(error = %e, "the worker's HTTP side stopped");
                }
            })
        };
        Ok(Self {
            state,
            stop,
            tasks: vec![follower, http],
        })
    }

    /// Stops after the current pass (its transaction commits or rolls back
    /// whole).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
