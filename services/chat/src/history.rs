//! Where the chat service reads a room's stored events, for catch-up and
//! replay on join: the room's event log, whose frames are sent as stored.
//! Chat never needs to know what kind of event a frame is.

use common::db::DbPool;
use common::store::events;

use crate::sequencer::Sequenced;

/// Up to `limit` stored events of `room` with a seq above `after_seq`, in
/// increasing seq, each as the frame clients receive.
pub async fn stored_after(
    pool: &DbPool,
    room: i64,
    after_seq: i64,
    limit: i64,
) -> common::Result<Vec<Sequenced>> {
    let mut conn = pool.get().await?;
    let rows = events::after(&mut conn, room, after_seq, limit).await?;
    Ok(rows
        .into_iter()
        .map(|(seq, frame)| (seq, frame.into()))
        .collect())
}
