//! Assistant chats: a person's private conversations with the assistant
//! (rooms of kind `assistant` whose members are that person and the bot).
//! Started, listed, renamed and deleted here by the page and the API alike;
//! read and written like any room. A chat is its owner's alone: to anyone
//! else, and at these addresses any room that is not a chat, it does not
//! exist (404 `room_not_found`, like a missing room).

use common::access::{self, Kind};
use common::domain::RoomName;
use common::error::{Code, Entity};
use common::guard;
use common::store::rooms::{self, Room, RoomView};
use common::store::users;
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The name of a chat started without one.
pub const DEFAULT_NAME: &str = "New chat";

/// A chat's name, from what the person typed: the room name rules, said of
/// a chat. Empty means [`DEFAULT_NAME`] when starting one (`or_default`).
pub fn parse_name(raw: &str, or_default: bool) -> Result<RoomName> {
    let raw = if or_default && raw.trim().is_empty() {
        DEFAULT_NAME
    } else {
        raw
    };
    RoomName::parse(raw).map_err(|e| match e.code() {
        Some(Code::NameMissing) => {
            Error::invalid("name", Code::NameMissing, "Give the chat a name.")
        }
        Some(Code::NameLength) => Error::invalid(
            "name",
            Code::NameLength,
            "A chat name is at most 64 characters long.",
        ),
        _ => e,
    })
}

/// `actor`'s chats, newest activity first.
pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<Room>> {
    let mut conn = state.pool.get().await?;
    rooms::assistant_chats(&mut conn, actor.user_id).await
}

/// Starts a chat for `actor` (within `ROOM_CREATE_LIMIT` and
/// `ASSISTANT_CHATS_PER_USER`); a name that breaks the rules is a 422 on
/// `name`.
pub async fn start(state: &AppState, actor: &Actor, name: &str) -> Result<RoomView> {
    let name = parse_name(name, true)?;
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&limits.room_create, &actor.user_id.to_string())
        .await?;
    let mut conn = state.pool.get().await?;
    let bot = users::bot(&mut conn).await?;
    let room = rooms::insert_assistant_chat(
        &mut conn,
        &name,
        actor.user_id,
        bot.id,
        limits.chats_per_user,
    )
    .await?;
    tracing::info!(
        room.id = room.id,
        user.id = actor.user_id,
        "assistant chat started"
    );
    Ok(RoomView {
        room,
        owner_name: Some(actor.username.clone()),
        people: Vec::new(),
    })
}

/// Checks that `room_id` is a chat of `actor`'s: anything else does not
/// exist for them here.
async fn own(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    room_id: i64,
) -> Result<()> {
    match guard::allowed(conn, actor.user_id, room_id, access::may_manage).await {
        Ok((facts, _)) if facts.kind == Kind::Assistant => Ok(()),
        Ok(_) | Err(Error::Forbidden(_) | Error::Denied { .. }) => {
            Err(Error::NotFound(Entity::Room))
        }
        Err(e) => Err(e),
    }
}

/// Renames a chat of `actor`'s; the chat as it is now.
pub async fn rename(state: &AppState, actor: &Actor, room_id: i64, name: &str) -> Result<RoomView> {
    let mut conn = state.pool.get().await?;
    own(&mut conn, actor, room_id).await?;
    let name = parse_name(name, false)?;
    rooms::rename(&mut conn, room_id, &name).await?;
    rooms::find(&mut conn, room_id).await
}

/// Deletes a chat of `actor`'s with its messages, as a room is deleted.
pub async fn delete(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    {
        let mut conn = state.pool.get().await?;
        own(&mut conn, actor, room_id).await?;
    }
    super::rooms::delete(state, actor, room_id).await
}
