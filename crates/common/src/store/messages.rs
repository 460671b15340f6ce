//! The `messages` table: the current state of every message, as the room's
//! events left it (text and rendering, edits, deletion). Only the event log
//! (`store::events`) writes it; history pages read it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use crate::domain::MessageBody;
use crate::error::Result;
use crate::protocol::{ChatMessage, ReplyRef, UserRef};
use crate::schema::{messages, users};

/// A message as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages, primary_key(room_id, id))]
pub struct Message {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub body: String,
    pub nonce: String,
    pub sent_at: DateTime<Utc>,
    pub html: String,
    pub mentions: Vec<Option<i64>>,
    pub reply_to_id: Option<i64>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A new message row, written with its creation event.
pub(crate) struct NewMessage<'a> {
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub body: &'a str,
    pub html: &'a str,
    pub mentions: Vec<Option<i64>>,
    pub reply_to_id: Option<i64>,
    pub nonce: &'a str,
}

/// What the log's rules check of a message an event concerns.
#[derive(Debug, Clone)]
pub(crate) struct MessageState {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub author: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Inserts new messages, of any rooms, in one statement whose text does
/// not depend on how many there are; returns `(id, room_id, seq, sent_at)`
/// of each.
pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    rows: &[NewMessage<'_>],
) -> Result<Vec<(i64, i64, i64, DateTime<Utc>)>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        room_id: i64,
        #[diesel(sql_type = BigInt)]
        seq: i64,
        #[diesel(sql_type = Timestamptz)]
        sent_at: DateTime<Utc>,
    }
    let column = |f: fn(&NewMessage<'_>) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let text =
        |f: for<'r> fn(&'r NewMessage<'_>) -> &'r str| rows.iter().map(f).collect::<Vec<&str>>();
    // Arrays of arrays do not unnest row by row: each row's mentions
    // travel as an array literal and are cast back.
    let mentions: Vec<String> = rows.iter().map(|r| array_literal(&r.mentions)).collect();
    let replies: Vec<Option<i64>> = rows.iter().map(|r| r.reply_to_id).collect();
    let inserted: Vec<Inserted> = Fixed::new(
        "INSERT INTO messages (room_id, seq, user_id, body, html, mentions, reply_to_id, nonce) \
         SELECT room_id, seq, user_id, body, html, mentions::bigint[], reply_to_id, nonce \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], \
                     $6::text[], $7::bigint[], $8::text[]) \
           AS t(room_id, seq, user_id, body, html, mentions, reply_to_id, nonce) \
         RETURNING id, room_id, seq, sent_at",
    )
    .bind::<Array<BigInt>, _>(column(|r| r.room_id))
    .bind::<Array<BigInt>, _>(column(|r| r.seq))
    .bind::<Array<BigInt>, _>(column(|r| r.user_id))
    .bind::<Array<Text>, _>(text(|r| r.body))
    .bind::<Array<Text>, _>(text(|r| r.html))
    .bind::<Array<Text>, _>(mentions)
    .bind::<Array<Nullable<BigInt>>, _>(replies)
    .bind::<Array<Text>, _>(text(|r| r.nonce))
    .load(conn)
    .await?;
    Ok(inserted
        .into_iter()
        .map(|r| (r.id, r.room_id, r.seq, r.sent_at))
        .collect())
}

/// A Postgres array literal of ids (`{1,2}`).
fn array_literal(ids: &[Option<i64>]) -> String {
    let items: Vec<String> = ids.iter().flatten().map(i64::to_string).collect();
    format!("{{{}}}", items.join(","))
}

/// `MessageState`'s columns, as loaded.
type StateRow = (
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// Deletes a room's messages (their reactions go with them).
pub(crate) async fn delete_in_room(conn: &mut AsyncPgConnection, room_id: i64) -> Result<()> {
    diesel::delete(messages::table.filter(messages::room_id.eq(room_id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` of a room's messages (the newest); returns how
/// many went. Lets a big room be emptied in short statements; newest first
/// (by seq) because a reply comes after what it answers, and the reply key
/// has no `ON DELETE` action (docs/SCALING.md).
pub(crate) async fn delete_some_in_room(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    limit: i64,
) -> Result<usize> {
    let newest: Vec<i64> = messages::table
        .filter(messages::room_id.eq(room_id))
        .select(messages::id)
        .order(messages::seq.desc())
        .limit(limit)
        .load(conn)
        .await?;
    Ok(diesel::delete(
        messages::table
            .filter(messages::room_id.eq(room_id))
            .filter(messages::id.eq_any(&newest)),
    )
    .execute(conn)
    .await?)
}

/// The state of the messages with these ids, of the rooms `room_ids`.
pub(crate) async fn states(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<MessageState>> {
    let rows: Vec<StateRow> = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .select((
            messages::id,
            messages::room_id,
            messages::seq,
            messages::user_id,
            users::username,
            messages::body,
            messages::sent_at,
            messages::deleted_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, room_id, seq, user_id, author, body, sent_at, deleted_at)| MessageState {
                id,
                room_id,
                seq,
                user_id,
                author,
                body,
                sent_at,
                deleted_at,
            },
        )
        .collect())
}

/// Replaces a message's text; returns the edit's time.
pub(crate) async fn edit(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    id: i64,
    body: &MessageBody,
    html: &str,
    mentions: &[i64],
) -> Result<DateTime<Utc>> {
    let mentions: Vec<Option<i64>> = mentions.iter().copied().map(Some).collect();
    Ok(diesel::update(messages::table.find((room_id, id)))
        .set((
            messages::body.eq(body.as_str()),
            messages::html.eq(html),
            messages::mentions.eq(mentions),
            messages::edited_at.eq(diesel::dsl::now),
        ))
        .returning(messages::edited_at.assume_not_null())
        .get_result(conn)
        .await?)
}

/// Deletes a message's text for good; its place in the room stays.
pub(crate) async fn erase(conn: &mut AsyncPgConnection, room_id: i64, id: i64) -> Result<()> {
    diesel::update(messages::table.find((room_id, id)))
        .set((
            messages::body.eq(""),
            messages::html.eq(""),
            messages::mentions.eq(Vec::<Option<i64>>::new()),
            messages::deleted_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The ids of the messages that answer message `id` of room `room_id`.
pub(crate) async fn replies_to(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    id: i64,
) -> Result<Vec<i64>> {
    Ok(messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::reply_to_id.eq(id))
        .select(messages::id)
        .load(conn)
        .await?)
}

/// Up to `limit` messages of a room older than `before_seq` (or the newest),
/// newest first, as `viewer` sees them (reply quotes and reactions): the
/// history pages of the website and API.
pub async fn page_before(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    before_seq: Option<i64>,
    limit: i64,
    viewer: i64,
) -> Result<Vec<ChatMessage>> {
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
    let rows: Vec<(Message, String)> = q.load(conn).await?;
    shown(conn, rows, viewer).await
}

/// One message of a room as `viewer` sees it, or `None` if the room has no
/// message with this id.
pub async fn find(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    id: i64,
    viewer: i64,
) -> Result<Option<ChatMessage>> {
    let rows: Vec<(Message, String)> = messages::table
        .inner_join(users::table)
        .filter(messages::id.eq(id))
        .filter(messages::room_id.eq(room_id))
        .select((Message::as_select(), users::username))
        .load(conn)
        .await?;
    Ok(shown(conn, rows, viewer).await?.pop())
}

/// The live messages among `ids` of the rooms `room_ids`, as `viewer`
/// sees them, in no particular order: a page of search hits. The caller
/// has checked the viewer may read those rooms.
pub async fn live_by_ids(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
    viewer: i64,
) -> Result<Vec<ChatMessage>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Message, String)> = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .select((Message::as_select(), users::username))
        .load(conn)
        .await?;
    shown(conn, rows, viewer).await
}

/// A live message the emotion follower may read, with what decides whether
/// it may.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ToTag {
    pub id: i64,
    pub room_id: i64,
    pub user_id: i64,
    /// The Markdown source.
    pub body: String,
    pub sent_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// Its room's owner allows tags.
    pub room_allows: bool,
    /// Its author allows tags (no preferences saved: the default, yes).
    pub author_allows: Option<bool>,
    /// Its author's account kind (`person`, `bot`).
    pub author_kind: String,
}

impl ToTag {
    /// Whether it may be analysed: its room and its author allow it, and a
    /// person wrote it (the assistant's answers are not anyone's mood).
    pub fn may_tag(&self) -> bool {
        self.room_allows && self.author_allows.unwrap_or(true) && self.author_kind != "bot"
    }

    /// Which text of the message a tag is about: one tag per version.
    pub fn version(&self) -> i64 {
        self.edited_at.unwrap_or(self.sent_at).timestamp_millis()
    }
}

/// The live messages among `ids` of the rooms `room_ids`, for the emotion
/// follower.
pub async fn to_tag(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<ToTag>> {
    use crate::schema::{rooms, user_preferences};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .inner_join(users::table)
        .inner_join(rooms::table.on(rooms::id.eq(messages::room_id)))
        .left_join(user_preferences::table.on(user_preferences::user_id.eq(messages::user_id)))
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .order(messages::id)
        .select((
            messages::id,
            messages::room_id,
            messages::user_id,
            messages::body,
            messages::sent_at,
            messages::edited_at,
            rooms::emotions,
            user_preferences::emotion_tagging.nullable(),
            users::kind,
        ))
        .load(conn)
        .await?)
}

/// The ids among `ids` (of the rooms `room_ids`) of messages not deleted:
/// what a cache of derived data (the worker's vectors) may still hold for
/// an instant after a deletion never leaves it.
pub async fn live_ids(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .select(messages::id)
        .load(conn)
        .await?)
}

/// Messages as a viewer sees them: with quotes of what they answer and the
/// reaction summary.
async fn shown(
    conn: &mut AsyncPgConnection,
    rows: Vec<(Message, String)>,
    viewer: i64,
) -> Result<Vec<ChatMessage>> {
    let mut rooms: Vec<i64> = rows.iter().map(|(m, _)| m.room_id).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let parents: Vec<i64> = rows.iter().filter_map(|(m, _)| m.reply_to_id).collect();
    let quoted: HashMap<i64, ReplyRef> = if parents.is_empty() {
        HashMap::new()
    } else {
        states(conn, &rooms, &parents)
            .await?
            .into_iter()
            .map(|p| {
                let deleted = p.deleted_at.is_some();
                let excerpt = if deleted {
                    String::new()
                } else {
                    crate::markdown::quote_of(&p.body, super::events::EXCERPT_CHARS)
                };
                let quote = ReplyRef {
                    id: p.id,
                    seq: p.seq,
                    user: UserRef {
                        id: p.user_id,
                        name: p.author,
                    },
                    excerpt,
                    deleted,
                };
                (p.id, quote)
            })
            .collect()
    };
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let mut reactions = super::reactions::summaries(conn, &rooms, &ids, viewer).await?;
    let mut annotations = super::annotations::of_messages(conn, &rooms, &ids).await?;
    let mut attachments = super::attachments::of_messages(conn, &rooms, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(m, author)| {
            let mut shown = ChatMessage {
                room: m.room_id,
                seq: m.seq,
                id: m.id,
                user: UserRef {
                    id: m.user_id,
                    name: author,
                },
                body: m.body,
                html: m.html,
                mentions: m.mentions.into_iter().flatten().collect(),
                reply_to: m.reply_to_id.and_then(|p| quoted.get(&p).cloned()),
                sent_at: m.sent_at,
                nonce: m.nonce,
                edited_at: m.edited_at,
                deleted: false,
                reactions: reactions.remove(&m.id).unwrap_or_default(),
                annotations: annotations.remove(&m.id).unwrap_or_default(),
                attachments: attachments.remove(&m.id).unwrap_or_default(),
            };
            if m.deleted_at.is_some() {
                shown.redact();
            }
            shown
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn mentions_travel_as_array_literals() {
        assert_eq!(array_literal(&[]), "{}");
        assert_eq!(array_literal(&[Some(3), None, Some(-1)]), "{3,-1}");
    }
}

/// One of the newest unread messages of a room, for the catch-up view.
#[derive(Debug, Clone, QueryableByName)]
pub struct UnreadLine {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub room_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub seq: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub user_id: i64,
    /// The author's username.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    /// The Markdown source (the view shows a plain excerpt of it).
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub body: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub sent_at: DateTime<Utc>,
    /// It mentions the reader.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub mentions_me: bool,
}

/// The newest (at most `per_room`) unread messages by others of each of
/// `room_ids` that `user_id` is a member of, newest first within a room:
/// the messages after their read mark, not deleted. Rooms they are not a
/// member of give nothing. One statement for all the rooms.
pub async fn newest_unread(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_ids: &[i64],
    per_room: i64,
) -> Result<Vec<UnreadLine>> {
    use diesel::sql_types::{Array, BigInt};
    if room_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint[] AS rooms, $3::bigint AS per) \
         SELECT m.room_id, x.seq, x.user_id, u.username, x.body, x.sent_at, \
                (p.uid = ANY(x.mentions)) AS mentions_me \
         FROM p JOIN room_members m ON m.user_id = p.uid AND m.room_id = ANY(p.rooms), \
           LATERAL (SELECT seq, user_id, body, sent_at, mentions FROM messages \
                    WHERE room_id = m.room_id AND seq > m.last_read_seq \
                      AND user_id <> p.uid AND deleted_at IS NULL \
                    ORDER BY seq DESC LIMIT p.per) x \
           JOIN users u ON u.id = x.user_id \
         ORDER BY m.room_id, x.seq DESC",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Array<BigInt>, _>(room_ids.to_vec())
    .bind::<BigInt, _>(per_room)
    .load(conn)
    .await?)
}
