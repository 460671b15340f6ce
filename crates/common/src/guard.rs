//! The access check of every read path: loads what `access`'s rules need
//! (the room, the reader's standing in it) in one statement and asks them.
//! Above the store and `access`, so neither imports the other's loader.

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use crate::access::{self, Denial, RoomFacts, Standing};
use crate::error::{Entity, Error, Result};
use crate::store::rooms;

/// The room and `user_id`'s standing in it, whatever the rules say; a
/// room that does not exist is `room_not_found`.
pub async fn load(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
) -> Result<(RoomFacts, Standing)> {
    rooms::facts_with_standing(conn, room_id, user_id)
        .await?
        .ok_or(Error::NotFound(Entity::Room))
}

/// The room if `user_id` may read it, with their standing; a room they may
/// not see answers exactly like one that does not exist.
pub async fn readable(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
) -> Result<(RoomFacts, Standing)> {
    allowed(conn, user_id, room_id, access::may_read).await
}

/// The room if the rule `rule` lets `user_id` act in it (moderate, manage,
/// invite), with their standing; refusals as the rule says.
pub async fn allowed(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
    rule: fn(&RoomFacts, &Standing, chrono::DateTime<Utc>) -> Result<(), Denial>,
) -> Result<(RoomFacts, Standing)> {
    let (room, standing) = load(conn, user_id, room_id).await?;
    rule(&room, &standing, Utc::now())?;
    Ok((room, standing))
}
