//! Rooms: creating, listing and searching, deleting. The page and the API
//! both come here, so a room is created and found the same way by either.

use common::access::{self, Role, Standing, Visibility};
use common::domain::{RoomName, Topic};
use common::error::Code;
use common::fanout;
use common::guard;
use common::store::events;
use common::store::members::{self, Unread};
use common::store::rooms::{self, RoomView};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The longest search text, in characters: enough for any room name (64)
/// and short enough to keep the `ILIKE` scan cheap.
pub const MAX_QUERY_CHARS: usize = 64;

/// A new room's name, topic and visibility, validated together so a form
/// can show every problem at once.
pub struct NewRoom {
    /// The room's name (unique among public rooms).
    pub name: RoomName,
    /// What the room is about; may be empty.
    pub topic: Topic,
    /// Listed for everyone, or for its members only.
    pub visibility: Visibility,
}

impl NewRoom {
    /// Every field's problem at once (the name's first). `visibility` is
    /// `public` (also when absent or empty) or `private`.
    pub fn parse(name: &str, topic: &str, visibility: Option<&str>) -> Result<Self, Vec<Error>> {
        match (
            RoomName::parse(name),
            Topic::parse(topic),
            parse_visibility(visibility.unwrap_or("")),
        ) {
            (Ok(name), Ok(topic), Ok(visibility)) => Ok(Self {
                name,
                topic,
                visibility,
            }),
            (name, topic, visibility) => Err([name.err(), topic.err(), visibility.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

/// `public` (or nothing) or `private`.
pub fn parse_visibility(raw: &str) -> Result<Visibility> {
    match raw {
        "" | "public" => Ok(Visibility::Public),
        "private" => Ok(Visibility::Private),
        _ => Err(Error::invalid(
            "visibility",
            Code::BadVisibility,
            "visibility is \"public\" or \"private\"",
        )),
    }
}

/// Creates a room owned by `owner`, within `ROOM_CREATE_LIMIT` and
/// `MAX_ROOMS_PER_USER`. A name taken (ignoring case), or a full quota, is a
/// conflict on the `name` field.
pub async fn create(state: &AppState, owner: &Actor, new: &NewRoom) -> Result<RoomView> {
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&limits.room_create, &owner.user_id.to_string())
        .await?;
    let mut conn = state.pool.get().await?;
    let room = rooms::insert_within_quota(
        &mut conn,
        &new.name,
        &new.topic,
        new.visibility,
        owner.user_id,
        limits.rooms_per_user,
    )
    .await?;
    // The owner is the actor: no need to read the room back.
    Ok(RoomView {
        room,
        owner_name: Some(owner.username.clone()),
        people: Vec::new(),
    })
}

/// One room, if `actor` may see it, with their standing in it.
pub async fn get(state: &AppState, actor: &Actor, room_id: i64) -> Result<(RoomView, Standing)> {
    let mut conn = state.pool.get().await?;
    let (_, standing) = guard::readable(&mut conn, actor.user_id, room_id).await?;
    Ok((rooms::find(&mut conn, room_id).await?, standing))
}

/// Why a list of rooms could not be read: the caller's input, or the store.
/// Kept apart so each transport words the input problems its own way.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The cursor is not one this site handed out.
    #[error("the cursor is not valid")]
    BadCursor,
    /// The search text is longer than [`MAX_QUERY_CHARS`].
    #[error("the search is at most {MAX_QUERY_CHARS} characters")]
    QueryTooLong,
    /// The search text holds control characters (Postgres text cannot
    /// hold NUL; none of them is something a person searches for).
    #[error("the search may not contain control characters")]
    QueryNotText,
    /// The store failed.
    #[error(transparent)]
    Core(#[from] Error),
}

/// One page of rooms, and where the next one starts.
pub struct RoomList {
    /// Ordered by name, ignoring case.
    pub rooms: Vec<RoomView>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Rooms ordered by name, those whose name or topic contains `q` (ignoring
/// case; empty: all), `limit` at a time, starting after `cursor` (`None` or
/// empty: the first page, as a link's empty `cursor=` is).
pub async fn list(
    state: &AppState,
    q: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<RoomList, ListError> {
    let after = match cursor {
        None | Some("") => None,
        Some(raw) => Some(cursor::decode(raw).ok_or(ListError::BadCursor)?),
    };
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ListError::QueryTooLong);
    }
    if q.chars().any(char::is_control) {
        return Err(ListError::QueryNotText);
    }
    let mut conn = state.pool.get().await.map_err(Error::from)?;
    let mut rooms = rooms::directory(&mut conn, Some(q), after.as_deref(), limit + 1).await?;
    let more = rooms.len() as i64 > limit;
    rooms.truncate(limit as usize);
    let next_cursor = if more {
        rooms
            .last()
            .map(|r| cursor::encode(&r.room.name.to_lowercase()))
    } else {
        None
    };
    Ok(RoomList { rooms, next_cursor })
}

/// Opaque cursors: the base64 of the last room's lower-cased name, so a
/// client cannot mistake them for anything it should build itself.
mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The cursor that continues after the room named `lower_name`.
    pub fn encode(lower_name: &str) -> String {
        URL_SAFE_NO_PAD.encode(lower_name)
    }

    /// The lower-cased name a cursor continues after; `None` if it is not one.
    pub fn decode(raw: &str) -> Option<String> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|name| !name.chars().any(char::is_control))
    }
}

/// Deletes `room_id` (with its messages) if `actor` owns it, then tells
/// every chat instance so that its members get `left`.
pub async fn delete(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    let user_id = actor.user_id;
    {
        let mut conn = state.pool.get().await?;
        guard::allowed(&mut conn, user_id, room_id, access::may_manage)
            .await
            .map_err(|e| match e {
                Error::Forbidden(_) => Error::Forbidden("only the room's owner can delete it"),
                e => e,
            })?;
        events::delete_room(&mut conn, room_id).await?;
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

/// Makes `actor` a member of a public room (nothing changes for a member;
/// a private room is joined by invitation, a banned person not at all);
/// their open connections start following its unread state.
pub async fn join(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    {
        let mut conn = state.pool.get().await?;
        let (room, standing) = guard::load(&mut conn, actor.user_id, room_id).await?;
        access::may_join(&room, &standing, false, chrono::Utc::now())?;
        members::add(&mut conn, room_id, actor.user_id, Role::Member).await?;
    }
    state
        .messenger
        .announce_membership(actor.user_id, room_id, true)
        .await;
    Ok(())
}

/// Ends `actor`'s membership (the room leaves their sidebar). The owner
/// stays: a room always has its owner among its members. A mute outlives
/// the membership (`access::may_leave`).
pub async fn leave(state: &AppState, actor: &Actor, room_id: i64) -> Result<()> {
    {
        let mut conn = state.pool.get().await?;
        let view = rooms::find(&mut conn, room_id).await?;
        guard::allowed(&mut conn, actor.user_id, room_id, access::may_leave).await?;
        if view.is_owned_by(actor.user_id) {
            return Err(Error::conflict(
                "room",
                Code::OwnerCannotLeave,
                "the owner cannot leave their room; delete it instead",
            ));
        }
        members::remove(&mut conn, room_id, actor.user_id).await?;
    }
    state
        .messenger
        .announce_membership(actor.user_id, room_id, false)
        .await;
    Ok(())
}

/// A room of the actor's sidebar, with their unread state in it.
pub struct MyRoom {
    /// The room.
    pub room: RoomView,
    /// How far they read, and what is new since.
    pub unread: Unread,
}

/// The rooms `actor` is a member of, by name, with unread counts
/// (`personal::order_rooms` puts them in the sidebar's order).
pub async fn mine(state: &AppState, actor: &Actor) -> Result<Vec<MyRoom>> {
    let mut conn = state.pool.get().await?;
    let mut unread: std::collections::HashMap<i64, Unread> =
        members::unread(&mut conn, actor.user_id, None)
            .await?
            .into_iter()
            .map(|u| (u.room_id, u))
            .collect();
    let ids: Vec<i64> = unread.keys().copied().collect();
    let views = rooms::by_ids(&mut conn, &ids).await?;
    Ok(views
        .into_iter()
        .filter_map(|room| {
            let unread = unread.remove(&room.room.id)?;
            Some(MyRoom { room, unread })
        })
        .collect())
}
