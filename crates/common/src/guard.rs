//! The access check of every read path: loads what `access`'s rules need
//! (the room, the reader's membership) and asks them. Above the store and
//! `access`, so neither imports the other's loader.

use diesel_async::AsyncPgConnection;

use crate::access::{self, Role, RoomFacts};
use crate::error::{Entity, Error, Result};
use crate::store::{members, rooms};

/// The room if `user_id` may read it, with their role; a room they may not
/// read answers exactly like one that does not exist.
pub async fn readable(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
) -> Result<(RoomFacts, Option<Role>)> {
    let room = rooms::facts(conn, room_id)
        .await?
        .ok_or(Error::NotFound(Entity::Room))?;
    let role = members::role(conn, room_id, user_id).await?;
    if access::may_read(&room, user_id, role) {
        Ok((room, role))
    } else {
        Err(Error::NotFound(Entity::Room))
    }
}
