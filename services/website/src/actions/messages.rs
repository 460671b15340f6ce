//! A room's messages from the website (forms and API): every change goes
//! the one path of room events (`common::messaging`), so it is stored,
//! sequenced and fanned out exactly like a WebSocket frame; reading history
//! and the event log asks `common::access` first, and the room page moves
//! the reader's read mark.

use common::error::Entity;
use common::guard;
use common::messaging::Ask;
use common::protocol::{ChatMessage, ReactionCount, UserRef};
use common::reads;
use common::store::events::{self, Appended};
use common::store::members::{self, Unread};
use common::store::rooms::{self, RoomView};
use common::store::{messages, reactions, room_seqs};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

impl Actor {
    /// The actor as frames name users.
    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.user_id,
            name: self.username.clone(),
        }
    }
}

/// Counts what was stored, for `/metrics`.
fn counted(state: &AppState, appended: Appended) -> Appended {
    if appended.created {
        state.metrics.messages_stored.inc();
    }
    appended
}

/// Sends a message from `author` to `room_id`, optionally answering the
/// message `reply_to` of the same room, with the author's pending uploads
/// `attachments`.
pub async fn send(
    state: &AppState,
    author: &Actor,
    room_id: i64,
    body: &str,
    nonce: &str,
    reply_to: Option<i64>,
    attachments: &[String],
) -> Result<Appended> {
    let user = author.user_ref();
    let ask = Ask::Send {
        body,
        reply_to,
        attachments,
    };
    let appended = state.messenger.apply(&user, room_id, nonce, ask).await?;
    Ok(counted(state, appended))
}

/// Replaces the text of the author's own message.
pub async fn edit(
    state: &AppState,
    author: &Actor,
    room_id: i64,
    id: i64,
    body: &str,
    nonce: &str,
) -> Result<Appended> {
    let user = author.user_ref();
    let ask = Ask::Edit { id, body };
    let appended = state.messenger.apply(&user, room_id, nonce, ask).await?;
    Ok(counted(state, appended))
}

/// Deletes a message for good (its author, the room's owner or a moderator).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    id: i64,
    nonce: &str,
) -> Result<Appended> {
    let user = actor.user_ref();
    let ask = Ask::Delete { id };
    let appended = state.messenger.apply(&user, room_id, nonce, ask).await?;
    Ok(counted(state, appended))
}

/// Adds (`on`) or takes back the actor's reaction; answers the message's
/// reaction summary as the actor sees it afterwards.
pub async fn react(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    id: i64,
    emoji: &str,
    on: bool,
    nonce: &str,
) -> Result<Vec<ReactionCount>> {
    let user = actor.user_ref();
    let ask = Ask::React { id, emoji, on };
    let appended = state.messenger.apply(&user, room_id, nonce, ask).await?;
    counted(state, appended);
    let mut conn = state.pool.get().await?;
    Ok(
        reactions::summaries(&mut conn, &[room_id], &[id], actor.user_id)
            .await?
            .remove(&id)
            .unwrap_or_default(),
    )
}

/// One message as `viewer` sees it now (after an edit, say).
pub async fn find(state: &AppState, viewer: &Actor, room_id: i64, id: i64) -> Result<ChatMessage> {
    let mut conn = state.pool.get().await?;
    guard::readable(&mut conn, viewer.user_id, room_id).await?;
    messages::find(&mut conn, room_id, id, viewer.user_id)
        .await?
        .ok_or(Error::NotFound(Entity::Message))
}

/// Moves the reader's read mark forward to `seq` (see `Messenger::read`).
/// A moved mark is a use of the room (personalization, throttled).
pub async fn mark_read(state: &AppState, reader: &Actor, room_id: i64, seq: i64) -> Result<Unread> {
    let unread = state.messenger.read(reader.user_id, room_id, seq).await?;
    super::personal::record_use(state, reader, room_id).await;
    Ok(unread)
}

/// Whether reading history moves the reader's read mark. The room page
/// does: a person has the newest messages in front of them. The API does
/// not: a client paging through history has not necessarily read it (it
/// says so with `POST .../read`).
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
    /// Newest first, as the reader sees them (quotes, reactions).
    pub messages: Vec<ChatMessage>,
    /// The reader's read mark before this page was read (`None`: not a
    /// member), for the "new messages" line.
    pub read_before: Option<i64>,
    /// What the access rules know of the room and of the reader in it.
    pub facts: common::access::RoomFacts,
    /// The reader's role, mute, ban in the room.
    pub standing: common::access::Standing,
    /// The acts of moderation among this page's messages, oldest first.
    pub notices: Vec<common::protocol::ModerationEvent>,
    /// The assistant's jobs for the questions among this page's messages.
    pub jobs: Vec<common::store::assistant::JobView>,
}

/// Up to `limit` messages of `room_id` older than `before` (or the newest),
/// newest first. Reading the newest page with [`ReadMark::Advance`] moves a
/// member's read mark to the room's last event; it never moves backwards.
pub async fn history(
    state: &AppState,
    reader: &Actor,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
    read_mark: ReadMark,
) -> Result<History> {
    count_read(state, reader).await?;
    let mut conn = state.pool.get().await?;
    let (facts, standing) = guard::readable(&mut conn, reader.user_id, room_id).await?;
    let room = rooms::find(&mut conn, room_id).await?;
    let read_before = members::last_read(&mut conn, room_id, reader.user_id).await?;
    drop(conn);
    let last_seq = room.room.last_seq;
    // The page itself may come from a replica, one that has the room at
    // least as far as the primary said: the client joins after `last_seq`,
    // so a page stopping short of it would hide messages for good.
    let read = reads::conn_caught_up(&state.db, room_id, last_seq).await?;
    if read.fell_back {
        state.metrics.read_fallbacks.inc();
    }
    let mut conn = read.value;
    let messages = messages::page_before(&mut conn, room_id, before, limit, reader.user_id).await?;
    // The page spans from its oldest message (the room's start when there
    // is no older page) to what comes before the next page.
    let upto = before.map_or(last_seq, |b| b - 1);
    let from = match messages.last() {
        Some(oldest) if messages.len() as i64 == limit => oldest.seq,
        _ => 1,
    };
    let notices = events::moderation_between(&mut conn, room_id, from, upto).await?;
    let jobs = match (messages.last(), messages.first()) {
        (Some(oldest), Some(newest)) => {
            common::store::assistant::in_room_between(&mut conn, room_id, oldest.seq, newest.seq)
                .await?
        }
        _ => Vec::new(),
    };
    drop(conn);
    if before.is_none()
        && read_mark == ReadMark::Advance
        && read_before.is_some_and(|r| r < last_seq)
    {
        match state
            .messenger
            .read(reader.user_id, room_id, last_seq)
            .await
        {
            // Another tab got further meanwhile: nothing to move.
            Ok(_) | Err(common::Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(History {
        room,
        messages,
        read_before,
        facts,
        standing,
        notices,
        jobs,
    })
}

/// Counts a read against the reader's `READ_LIMIT`: a page of history or
/// events can be megabytes, so a script may not loop on them for free.
async fn count_read(state: &AppState, reader: &Actor) -> Result<()> {
    state
        .limiter
        .hit(&state.config.limits.reads, &reader.user_id.to_string())
        .await
}

/// The most events one page of the events API holds.
pub const MAX_EVENTS: i64 = 1000;

/// Up to `limit` of the room's events after `after_seq`, oldest first, as
/// `(seq, frame)` with the frames exactly as clients received them (a
/// deleted message's text redacted).
pub async fn events(
    state: &AppState,
    reader: &Actor,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    count_read(state, reader).await?;
    let mut conn = state.pool.get().await?;
    guard::readable(&mut conn, reader.user_id, room_id).await?;
    // Where the room is, from the primary: the events up to there are read
    // whole (a replica behind it is read again on the primary).
    let known_last = room_seqs::last_seqs(&mut conn, &[room_id])
        .await?
        .first()
        .map(|(_, last)| *last);
    drop(conn);
    let read = reads::events_after(&state.db, room_id, after_seq, limit, known_last).await?;
    if read.fell_back {
        state.metrics.read_fallbacks.inc();
    }
    Ok(read.value)
}
