//! The `messages` table, and the one path by which a message is stored: the
//! next room seq and the insert in one transaction, idempotent per nonce.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::domain::{MessageBody, Nonce};
use crate::error::{Error, Result};
use crate::schema::{messages, users};

/// A message as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub body: String,
    pub nonce: String,
    pub sent_at: DateTime<Utc>,
}

/// A message with its author's name, as every reader sees it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub message: Message,
    pub author: String,
}

/// The result of a send: the stored message and whether this call stored it
/// (false when the nonce was already used and the earlier message is returned).
#[derive(Debug, Clone)]
pub struct Stored {
    pub view: MessageView,
    pub created: bool,
}

#[derive(Insertable)]
#[diesel(table_name = messages)]
struct NewMessage<'a> {
    room_id: i64,
    seq: i64,
    user_id: i64,
    body: &'a str,
    nonce: &'a str,
}

/// Stores a message from `(user_id, username)` in `room_id` with the room's
/// next seq. A nonce this user already used in this room stores nothing and
/// returns the message stored then: resending is safe.
pub async fn store(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    username: &str,
    body: &MessageBody,
    nonce: &Nonce,
) -> Result<Stored> {
    if let Some(view) = find_by_nonce(conn, room_id, user_id, nonce.as_str()).await? {
        return Ok(Stored {
            view,
            created: false,
        });
    }
    let inserted = conn
        .transaction::<_, Error, _>(async |conn| {
            let seq = super::rooms::next_seq(conn, room_id)
                .await?
                .ok_or(Error::NotFound("room"))?;
            let new = NewMessage {
                room_id,
                seq,
                user_id,
                body: body.as_str(),
                nonce: nonce.as_str(),
            };
            Ok(diesel::insert_into(messages::table)
                .values(&new)
                .returning(Message::as_returning())
                .get_result(conn)
                .await?)
        })
        .await;
    match inserted {
        Ok(message) => Ok(Stored {
            view: MessageView {
                message,
                author: username.to_owned(),
            },
            created: true,
        }),
        // The same nonce raced in from another connection: that one won.
        Err(Error::Database(e))
            if super::unique_violation(&e) == Some("messages_room_user_nonce_key") =>
        {
            let view = find_by_nonce(conn, room_id, user_id, nonce.as_str())
                .await?
                .ok_or(Error::Database(e))?;
            Ok(Stored {
                view,
                created: false,
            })
        }
        Err(e) => Err(e),
    }
}

/// The message a user stored earlier with this nonce in this room.
pub async fn find_by_nonce(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    user_id: i64,
    nonce: &str,
) -> Result<Option<MessageView>> {
    let row = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::user_id.eq(user_id))
        .filter(messages::nonce.eq(nonce))
        .select((Message::as_select(), users::username))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(message, author)| MessageView { message, author }))
}

/// Up to `limit` messages of a room older than `before_seq` (or the newest),
/// newest first: the history pages of the website and API.
pub async fn page_before(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageView>> {
    let mut q = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .order(messages::seq.desc())
        .limit(limit)
        .select((Message::as_select(), users::username))
        .into_boxed();
    if let Some(before) = before_seq {
        q = q.filter(messages::seq.lt(before));
    }
    Ok(q.load(conn)
        .await?
        .into_iter()
        .map(|(message, author)| MessageView { message, author })
        .collect())
}

/// Up to `limit` messages of a room after `after_seq`, oldest first: replay
/// for a client that holds everything up to `after_seq`.
pub async fn after(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<MessageView>> {
    Ok(messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::seq.gt(after_seq))
        .order(messages::seq.asc())
        .limit(limit)
        .select((Message::as_select(), users::username))
        .load(conn)
        .await?
        .into_iter()
        .map(|(message, author)| MessageView { message, author })
        .collect())
}
