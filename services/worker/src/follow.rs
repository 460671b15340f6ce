//! The search follower: reads each room's event log after its cursor and
//! makes the search rows of the messages those events concern what the
//! messages are now, advancing the cursor in the same transaction. A
//! restart redoes at most what was not committed; refreshing a row twice
//! changes nothing, so no message is indexed twice.

use common::error::{Error, Result};
use common::store::{cursors, events, search};
use diesel_async::AsyncConnection;

use crate::config::FollowConfig;
use crate::state::WorkerState;

/// The consumer name of the search follower in `log_cursors`.
pub const SEARCH: &str = "search";

/// One pass over the rooms that are behind; the number of events applied.
pub async fn pass(state: &WorkerState, follow: &FollowConfig) -> Result<usize> {
    let mut conn = state.pool.get().await?;
    let behind = cursors::behind(&mut conn, SEARCH, follow.rooms_per_pass).await?;
    let mut applied = 0;
    for room in behind {
        applied += conn
            .transaction::<_, Error, _>(async |conn| {
                let (ids, last) =
                    events::touched_after(conn, room.room_id, room.seq, follow.events_per_room)
                        .await?;
                let Some(last) = last else {
                    return Ok(0);
                };
                search::refresh(conn, &ids).await?;
                cursors::advance(conn, SEARCH, room.room_id, last).await?;
                Ok((last - room.seq) as usize)
            })
            .await?;
    }
    state.metrics.events_indexed.inc_by(applied as u64);
    Ok(applied)
}

/// Follows the log until `stop` says so: a pass, then another at once
/// while rooms are still behind, else a pause of `follow.interval`.
pub async fn run(
    state: std::sync::Arc<WorkerState>,
    follow: FollowConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let busy = match pass(&state, &follow).await {
            Ok(n) => n > 0,
            Err(e) => {
                state.metrics.follow_errors.inc();
                tracing::warn!(error = %e, "the search follower failed a pass; retrying");
                false
            }
        };
        if *stop.borrow() {
            return;
        }
        if !busy {
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(follow.interval) => {}
            }
        }
    }
}
