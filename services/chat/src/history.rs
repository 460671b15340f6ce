//! Where the chat service reads a room's stored events, for catch-up and
//! replay on join. This is the only place in chat that knows how they are
//! stored (today: rows of `messages`, turned into `message` frames), so a
//! new store changes this function's body and nothing else.

use common::db::DbPool;
use common::protocol::{ChatMessage, ServerFrame};
use common::store::messages;

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
    let rows = messages::after(&mut conn, room, after_seq, limit).await?;
    Ok(rows
        .iter()
        .map(|view| {
            let frame = ServerFrame::Message(ChatMessage::from(view)).to_json();
            (view.message.seq, frame.into())
        })
        .collect())
}
