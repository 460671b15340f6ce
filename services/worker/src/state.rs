//! What the worker's tasks share.

use common::db::DbPool;

use crate::metrics::Metrics;

/// The database pool and the metrics.
pub struct WorkerState {
    pub pool: DbPool,
    pub metrics: Metrics,
}
