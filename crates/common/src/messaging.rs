//! The one path of a new message, whichever way it is sent (WebSocket
//! `send`, the website's form, `POST /api/v1/rooms/{id}/messages`): validate,
//! rate-limit, store with the room's next seq (durable before anyone sees
//! it, in batches: see `writer`), then publish to the room's channel for
//! every chat instance.

use redis::aio::ConnectionManager;

use crate::domain::{MessageBody, Nonce};
use crate::error::Result;
use crate::protocol::{ChatMessage, ServerFrame};
use crate::ratelimit::{self, RateLimiter};
use crate::store::messages::Draft;
use crate::writer::MessageWriter;

/// What a send needs to reach: the database, the rate limits, the broker.
pub struct Outlet<'a> {
    /// Stores messages in batches (group commit).
    pub writer: &'a MessageWriter,
    pub limiter: &'a RateLimiter,
    pub redis: &'a ConnectionManager,
    pub redis_prefix: &'a str,
}

/// A message after a send.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: ChatMessage,
    /// The `message` frame, serialized once for every recipient.
    pub frame: String,
    /// False when the nonce was used before: nothing new was stored or published.
    pub created: bool,
}

/// Sends `body` from `(user_id, username)` to `room_id` with the client's `nonce`.
/// Invalid input and the rate limit fail before anything is stored; once
/// stored, a failed publish is only logged: the chat instances' catch-up
/// delivers what pub/sub lost.
pub async fn send(
    outlet: &Outlet<'_>,
    user_id: i64,
    username: &str,
    room_id: i64,
    body: &str,
    nonce: &str,
) -> Result<Sent> {
    let body = MessageBody::parse(body)?;
    let nonce = Nonce::parse(nonce)?;
    outlet
        .limiter
        .hit(&ratelimit::SEND_PER_USER, &user_id.to_string())
        .await?;
    let draft = Draft {
        user_id,
        username: username.to_owned(),
        body,
        nonce,
    };
    let stored = outlet.writer.store(room_id, draft).await?;
    let message = ChatMessage::from(&stored.view);
    let frame = ServerFrame::Message(message.clone()).to_json();
    if stored.created
        && let Err(e) =
            crate::fanout::publish_message(outlet.redis, outlet.redis_prefix, &message, &frame)
                .await
    {
        tracing::warn!(error = %e, room.id = room_id, seq = message.seq, "publish failed; catch-up will deliver");
    }
    Ok(Sent {
        message,
        frame,
        created: stored.created,
    })
}
