//! Messages from the website (form or API): sending goes the shared path of
//! `common::messaging`, so it is stored and fanned out like a WebSocket
//! send; reading history is where read marks move.

use common::Result;
use common::messaging::{self, Outlet, Sent};
use common::store::members;
use common::store::messages::{self, MessageView};
use common::store::rooms::{self, RoomView};

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

/// Whether reading history moves the reader's read mark. The room page
/// does: a person has the newest messages in front of them. The API does
/// not (yet): a client paging through history has not necessarily read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMark {
    /// Reading the newest messages marks them read.
    Advance,
    /// The read mark stays where it was.
    Keep,
}

/// A page of a room's history.
pub struct History {
    /// The room, with its owner's name.
    pub room: RoomView,
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// The newest seq this page covers: its newest message or, on an empty
    /// page, the seq just before `before` (the room's last seq without one).
    pub last_seq: i64,
}

/// Up to `limit` messages of `room_id` older than `before` (or the newest),
/// newest first. Reading the newest ones with [`ReadMark::Advance`] moves
/// `reader`'s read mark up to them; it never moves backwards.
pub async fn history(
    state: &AppState,
    reader: &Actor,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
    read_mark: ReadMark,
) -> Result<History> {
    let mut conn = state.pool.get().await?;
    let room = rooms::find(&mut conn, room_id).await?;
    let messages = messages::page_before(&mut conn, room_id, before, limit).await?;
    let last_seq = messages
        .first()
        .map_or(before.map_or(room.room.last_seq, |b| b - 1), |m| {
            m.message.seq
        });
    if before.is_none() && read_mark == ReadMark::Advance {
        members::mark_read(&mut conn, room_id, reader.user_id, last_seq).await?;
    }
    Ok(History {
        room,
        messages,
        last_seq,
    })
}
