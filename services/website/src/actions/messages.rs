//! Sending a message: the same rules for the form and the API as for a
//! WebSocket `send` (protocol.md): rate limit, body and nonce validation,
//! stored with the room's next seq, idempotent per nonce.

use common::Result;
use common::domain::{MessageBody, Nonce};
use common::store::{members, messages};

use crate::ratelimit;
use crate::state::AppState;
use crate::web::session::Session;

/// Stores a message from the session's user in `room_id`.
pub async fn send(
    state: &AppState,
    user: &Session,
    room_id: i64,
    body: &str,
    nonce: &str,
) -> Result<messages::Stored> {
    let body = MessageBody::parse(body)?;
    let nonce = Nonce::parse(nonce)?;
    state
        .limiter
        .hit(&ratelimit::SEND_PER_USER, &user.user_id.to_string())
        .await?;
    let mut conn = state.pool.get().await?;
    let stored = messages::store(
        &mut conn,
        room_id,
        user.user_id,
        &user.username,
        &body,
        &nonce,
    )
    .await?;
    if stored.created {
        state.metrics.messages_stored.inc();
    }
    members::mark_read(&mut conn, room_id, user.user_id, stored.view.message.seq).await?;
    Ok(stored)
}
