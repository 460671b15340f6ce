//! The sweeper of attachments' bytes: every `FILES_SWEEP_SECS` it deletes
//! the uploads nobody sent within `UPLOAD_PENDING_SECS`, then the bytes
//! (and rows) of every blob no attachment uses any more: the files of
//! deleted messages. The work itself is `files::sweep`; this is its loop.
//! Several workers may sweep at once: each takes the rows it deletes under
//! `SKIP LOCKED`.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::SweepConfig;
use crate::state::WorkerState;

/// Sweeps every `config.every` until `stop` says so.
pub async fn run(state: Arc<WorkerState>, config: SweepConfig, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(config.every) => {}
        }
        sweep_once(&state, &config).await;
    }
}

/// One sweep, logged and counted; a failure is tried again next time.
pub async fn sweep_once(state: &WorkerState, config: &SweepConfig) {
    match files::sweep(&state.pool, &state.files, config.pending_for).await {
        Ok(report) => {
            state.metrics.uploads_expired.inc_by(report.expired as u64);
            state.metrics.blobs_deleted.inc_by(report.deleted as u64);
            if report.expired > 0 || report.deleted > 0 {
                tracing::info!(
                    expired = report.expired,
                    deleted = report.deleted,
                    backend = state.files.backend(),
                    "swept the file store"
                );
            }
        }
        Err(e) => {
            state.metrics.sweep_errors.inc();
            tracing::warn!(error = %e, "the file store's sweep failed; trying again later");
        }
    }
}
