//! Sending a message from the website (form or API): the shared path of
//! `common::messaging`, so it is stored and fanned out like a WebSocket send.

use common::Result;
use common::messaging::{self, Outlet, Sent};

use crate::state::AppState;
use crate::web::auth::Session;

/// Sends a message from the session's user to `room_id`.
pub async fn send(
    state: &AppState,
    user: &Session,
    room_id: i64,
    body: &str,
    nonce: &str,
) -> Result<Sent> {
    let outlet = Outlet {
        writer: &state.writer,
        limiter: &state.limiter,
        redis: &state.redis,
        redis_prefix: &state.config.common.redis_prefix,
    };
    let sent = messaging::send(&outlet, user.user_id, &user.username, room_id, body, nonce).await?;
    if sent.created {
        state.metrics.messages_stored.inc();
    }
    Ok(sent)
}
