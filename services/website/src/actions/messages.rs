//! Sending a message from the website (form or API): the shared path of
//! `common::messaging`, so it is stored and fanned out like a WebSocket send.

use common::Result;
use common::messaging::{self, Outlet, Sent};

use super::Actor;
use crate::state::AppState;

/// Sends a message from `author` to `room_id`.
pub async fn send(
    state: &AppState,
    author: &Actor,
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
    let sent = messaging::send(
        &outlet,
        author.user_id,
        &author.username,
        room_id,
        body,
        nonce,
    )
    .await?;
    if sent.created {
        state.metrics.messages_stored.inc();
    }
    Ok(sent)
}
