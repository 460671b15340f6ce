//! Deleting a room: only its owner may; live clients in it are told.

use common::Result;
use common::fanout;
use common::store::rooms;

use super::Actor;
use crate::state::AppState;

/// Deletes `room_id` (with its messages) if `actor` owns it, then tells
/// every chat instance so that its members get `left`.
pub async fn delete(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    let user_id = actor.user_id;
    {
        let mut conn = state.pool.get().await?;
        rooms::delete(&mut conn, room_id, user_id).await?;
    }
    tracing::info!(room.id = room_id, user.id = user_id, "room deleted");
    if let Err(e) =
        fanout::publish_room_deleted(&state.redis, &state.config.common.redis_prefix, room_id).await
    {
        // Chat instances also notice a vanished room when they next catch up.
        tracing::warn!(error = %e, room.id = room_id, "could not announce a room's deletion");
    }
    Ok(())
}
