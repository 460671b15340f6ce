//! Sentence vectors of messages (`message_vectors`), for semantic search:
//! written by the worker's `vectors` follower, read by its search, erased
//! with their messages.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::{message_annotations, message_vectors, messages};

/// A message's vector as stored: int8 values and their scale.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = message_vectors)]
pub struct StoredVector {
    pub message_id: i64,
    pub room_id: i64,
    /// Which model made it (`ml::MODEL_ID`).
    pub model: i16,
    pub scale: f32,
    /// 384 bytes, one int8 value each.
    pub v: Vec<u8>,
}

/// The columns of [`StoredVector`].
const STORED: (
    message_vectors::message_id,
    message_vectors::room_id,
    message_vectors::model,
    message_vectors::scale,
    message_vectors::v,
) = (
    message_vectors::message_id,
    message_vectors::room_id,
    message_vectors::model,
    message_vectors::scale,
    message_vectors::v,
);

/// A live message to embed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ToEmbed {
    pub id: i64,
    pub room_id: i64,
    /// The Markdown source.
    pub body: String,
    /// A voice message's transcript, when it has one: embedded after the
    /// text, so the message is found by what was said.
    pub transcript: Option<String>,
}

impl ToEmbed {
    /// What is embedded: the text, then the transcript.
    pub fn text(&self) -> String {
        match self.transcript.as_deref().filter(|t| !t.is_empty()) {
            Some(t) if self.body.is_empty() => t.to_owned(),
            Some(t) => format!("{}\n{t}", self.body),
            None => self.body.clone(),
        }
    }
}

/// The live messages among `ids` (of the rooms `room_ids`), with their
/// transcripts (what a follower embeds).
pub async fn live_among(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<ToEmbed>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .left_join(
            message_annotations::table.on(message_annotations::room_id
                .eq(messages::room_id)
                .and(message_annotations::message_id.eq(messages::id))
                .and(message_annotations::kind.eq(super::annotations::TRANSCRIPT))),
        )
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .select((
            messages::id,
            messages::room_id,
            messages::body,
            message_annotations::text.nullable(),
        ))
        .load(conn)
        .await?)
}

/// Replaces the vectors of these messages (a message edited gets its new
/// one).
pub async fn put(conn: &mut AsyncPgConnection, rows: &[StoredVector]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(message_vectors::table)
        .values(rows)
        .on_conflict((message_vectors::room_id, message_vectors::message_id))
        .do_update()
        .set((
            message_vectors::model.eq(diesel::upsert::excluded(message_vectors::model)),
            message_vectors::scale.eq(diesel::upsert::excluded(message_vectors::scale)),
            message_vectors::v.eq(diesel::upsert::excluded(message_vectors::v)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Erases the vectors of messages `ids` of the rooms `room_ids` (deleted,
/// or missing).
pub async fn forget(conn: &mut AsyncPgConnection, room_ids: &[i64], ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        message_vectors::table
            .filter(message_vectors::room_id.eq_any(room_ids))
            .filter(message_vectors::message_id.eq_any(ids)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases up to `limit` vectors of a deleted room; how many.
pub async fn forget_some_in_room(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    limit: i64,
) -> Result<usize> {
    let some: Vec<i64> = message_vectors::table
        .filter(message_vectors::room_id.eq(room_id))
        .select(message_vectors::message_id)
        .limit(limit)
        .load(conn)
        .await?;
    forget(conn, &[room_id], &some).await?;
    Ok(some.len())
}

/// Every vector of these rooms made by `model`, for a search to scan.
pub async fn of_rooms(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    model: i16,
) -> Result<Vec<StoredVector>> {
    if room_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(message_vectors::table
        .filter(message_vectors::room_id.eq_any(room_ids))
        .filter(message_vectors::model.eq(model))
        .select(STORED)
        .load(conn)
        .await?)
}

/// The vectors of these messages (of the rooms `room_ids`) made by `model`
/// (the emotion follower reads each message's stored vector, not a second
/// embedding).
pub async fn of_messages(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
    model: i16,
) -> Result<Vec<StoredVector>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(message_vectors::table
        .filter(message_vectors::room_id.eq_any(room_ids))
        .filter(message_vectors::message_id.eq_any(ids))
        .filter(message_vectors::model.eq(model))
        .select(STORED)
        .load(conn)
        .await?)
}
