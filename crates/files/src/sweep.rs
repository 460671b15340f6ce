//! Deleting the bytes nothing uses: the files of deleted messages, and
//! uploads never sent. Run by the worker every `FILES_SWEEP_SECS`.

use std::time::Duration;

use chrono::Utc;
use common::db::DbPool;
use common::store::{attachments, blobs};
use diesel_async::AsyncConnection;

use crate::{Files, FilesError};

/// Rows handled per transaction.
const BATCH: i64 = 200;

/// What a sweep did, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads no message claimed in time, deleted.
    pub expired: usize,
    /// Files whose bytes were deleted from the store.
    pub deleted: usize,
}

/// Deletes uploads pending longer than `pending_for`, then every blob no
/// attachment references, bytes first and row with them: the row is
/// deleted in a transaction that commits only once the bytes are gone,
/// and an upload of the same bytes meanwhile waits for that commit and
/// writes them anew.
pub async fn sweep(
    pool: &DbPool,
    files: &Files,
    pending_for: Duration,
) -> Result<SweepReport, FilesError> {
    let mut report = SweepReport::default();
    let before =
        Utc::now() - chrono::Duration::from_std(pending_for).unwrap_or(chrono::Duration::MAX);
    let mut conn = pool.get().await?;
    loop {
        let n = attachments::expire_pending(&mut conn, before, BATCH).await?;
        report.expired += n;
        if n < BATCH as usize {
            break;
        }
    }
    loop {
        let n = conn
            .transaction::<_, FilesError, _>(async |conn| {
                let gone = blobs::take_unreferenced(conn, BATCH).await?;
                for sha in &gone {
                    files.delete(sha).await?;
                }
                Ok(gone.len())
            })
            .await?;
        report.deleted += n;
        if n < BATCH as usize {
            break;
        }
    }
    Ok(report)
}
