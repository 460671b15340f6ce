//! The `attachments` table: files uploaded into a room. An upload is
//! pending (its uploader's alone) until a message claims it under the
//! room's lock; from then on it is the message's, served to whoever may read
//! the room, and deleted with it. Pending uploads nobody sent expire.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::protocol::{Attachment, AttachmentKind, Thumb};
use crate::schema::attachments;

/// What a page needs of a file besides its name and type, kept as JSON
/// beside the row (images: sizes; audio: the player's type, duration and
/// waveform).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<ThumbDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peaks: Vec<u8>,
}

/// A thumbnail's type and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbDetails {
    pub mime: String,
    pub width: i32,
    pub height: i32,
}

/// A file as an upload leaves it, before any message: its blobs must be
/// registered ([`super::blobs::register`]) in the same transaction.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub token: String,
    pub room_id: i64,
    pub user_id: i64,
    pub kind: AttachmentKind,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub blob: String,
    pub thumb_blob: Option<String>,
    pub play_blob: Option<String>,
    pub details: Details,
}

/// A stored attachment, as serving it needs it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct Stored {
    pub token: String,
    pub room_id: i64,
    pub user_id: i64,
    pub message_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub blob: String,
    pub thumb_blob: Option<String>,
    pub play_blob: Option<String>,
    pub details: String,
}

impl Stored {
    /// The page's and the protocol's view of it.
    pub fn shown(&self) -> Result<Attachment> {
        let details: Details = serde_json::from_str(&self.details).map_err(|e| {
            Error::internal_from(format!("details of attachment {}", self.token), e)
        })?;
        let kind = AttachmentKind::parse(&self.kind)
            .ok_or_else(|| Error::internal(format!("attachment kind {}", self.kind)))?;
        let url = url_of(&self.token, &self.name);
        Ok(Attachment {
            id: self.token.clone(),
            kind,
            name: self.name.clone(),
            content_type: self.mime.clone(),
            size: self.size,
            width: details.width,
            height: details.height,
            thumb: details.thumb.as_ref().map(|t| Thumb {
                url: format!("{url}?as=thumb"),
                width: t.width,
                height: t.height,
            }),
            play_url: (kind == AttachmentKind::Audio).then(|| format!("{url}?as=play")),
            duration_ms: details.duration_ms,
            peaks: details.peaks,
            url,
        })
    }

    /// The blob a variant of the file is served from, and its type:
    /// `thumb` and `play` fall back to the file itself.
    pub fn variant(&self, variant: Variant) -> Result<(String, String)> {
        let details: Details = serde_json::from_str(&self.details).map_err(|e| {
            Error::internal_from(format!("details of attachment {}", self.token), e)
        })?;
        Ok(match variant {
            Variant::Thumb => match (&self.thumb_blob, details.thumb) {
                (Some(blob), Some(t)) => (blob.clone(), t.mime),
                _ => (self.blob.clone(), self.mime.clone()),
            },
            Variant::Play => match (&self.play_blob, details.play_mime) {
                (Some(blob), Some(mime)) => (blob.clone(), mime),
                _ => (self.blob.clone(), self.mime.clone()),
            },
            Variant::Original => (self.blob.clone(), self.mime.clone()),
        })
    }
}

/// Which bytes of an attachment a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The file as uploaded (metadata stripped from images).
    Original,
    /// An image's thumbnail.
    Thumb,
    /// Audio as the player plays it.
    Play,
}

/// Where a file is served: its token, then its name (so a saved file keeps
/// it), percent-encoded as one path segment.
pub fn url_of(token: &str, name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    let encoded: String = percent_encoding::utf8_percent_encode(name, SEGMENT).collect();
    format!("/files/{token}/{encoded}")
}

/// Stores a pending upload; returns it as stored.
pub async fn insert_pending(conn: &mut AsyncPgConnection, a: &NewAttachment) -> Result<Stored> {
    let details = serde_json::to_string(&a.details)
        .map_err(|e| Error::internal_from("attachment details", e))?;
    diesel::insert_into(attachments::table)
        .values((
            attachments::token.eq(&a.token),
            attachments::room_id.eq(a.room_id),
            attachments::user_id.eq(a.user_id),
            attachments::kind.eq(a.kind.as_str()),
            attachments::name.eq(&a.name),
            attachments::mime.eq(&a.mime),
            attachments::size.eq(a.size),
            attachments::blob.eq(&a.blob),
            attachments::thumb_blob.eq(&a.thumb_blob),
            attachments::play_blob.eq(&a.play_blob),
            attachments::details.eq(&details),
        ))
        .returning(Stored::as_returning())
        .get_result(conn)
        .await
        .map_err(Into::into)
}

/// How many uploads `user_id` has waiting for a message since `since`:
/// what the pending limit counts.
pub async fn pending_count(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    since: DateTime<Utc>,
) -> Result<i64> {
    Ok(attachments::table
        .filter(attachments::user_id.eq(user_id))
        .filter(attachments::message_id.is_null())
        .filter(attachments::uploaded_at.gt(since))
        .count()
        .get_result(conn)
        .await?)
}

/// The uploader of each of `tokens` still pending in `room_id`: what a send
/// may claim (a token missing here is gone, sent, or of another room).
pub async fn pending_uploaders(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    tokens: &[&str],
) -> Result<HashMap<String, i64>> {
    if tokens.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(attachments::table
        .filter(attachments::token.eq_any(tokens))
        .filter(attachments::room_id.eq(room_id))
        .filter(attachments::message_id.is_null())
        .select((attachments::token, attachments::user_id))
        .load::<(String, i64)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Gives pending uploads to `message_id`, in the order of `tokens`; returns
/// them as the message shows them. Checked before (under the room's lock)
/// with [`pending_uploaders`].
pub async fn claim(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_id: i64,
    user_id: i64,
    tokens: &[String],
) -> Result<Vec<Attachment>> {
    let mut shown = Vec::with_capacity(tokens.len());
    for (position, token) in tokens.iter().enumerate() {
        let row: Stored = diesel::update(
            attachments::table
                .filter(attachments::room_id.eq(room_id))
                .filter(attachments::token.eq(token))
                .filter(attachments::user_id.eq(user_id))
                .filter(attachments::message_id.is_null()),
        )
        .set((
            attachments::message_id.eq(message_id),
            attachments::position.eq(i16::try_from(position).unwrap_or(i16::MAX)),
        ))
        .returning(Stored::as_returning())
        .get_result(conn)
        .await?;
        shown.push(row.shown()?);
    }
    Ok(shown)
}

/// The attachments of each of `ids` (messages of the rooms `room_ids`),
/// in their order.
pub async fn of_messages(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Attachment>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Stored> = attachments::table
        .filter(attachments::room_id.eq_any(room_ids))
        .filter(attachments::message_id.eq_any(ids))
        .order((attachments::message_id, attachments::position))
        .select(Stored::as_select())
        .load(conn)
        .await?;
    let mut out: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for row in rows {
        if let Some(id) = row.message_id {
            out.entry(id).or_default().push(row.shown()?);
        }
    }
    Ok(out)
}

/// The audio attachments of `ids` (messages of the rooms `room_ids`: the
/// transcriber's input), with their message.
pub async fn audio_of_messages(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<(i64, Stored)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Stored> = attachments::table
        .filter(attachments::room_id.eq_any(room_ids))
        .filter(attachments::message_id.eq_any(ids))
        .filter(attachments::kind.eq(AttachmentKind::Audio.as_str()))
        .order((attachments::message_id, attachments::position))
        .select(Stored::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.message_id.map(|id| (id, r)))
        .collect())
}

/// The attachment a file address names. A token is unique within its
/// room by a constraint and across rooms by its 128 random bits; the
/// address does not carry the room, so this reads every room's rows (by
/// index; under Citus, every shard).
pub async fn by_token(conn: &mut AsyncPgConnection, token: &str) -> Result<Option<Stored>> {
    Ok(attachments::table
        .filter(attachments::token.eq(token))
        .select(Stored::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Deletes a deleted message's files (their bytes go at the sweeper's
/// next pass).
pub(crate) async fn remove_of_message(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_id: i64,
) -> Result<()> {
    diesel::delete(
        attachments::table
            .filter(attachments::room_id.eq(room_id))
            .filter(attachments::message_id.eq(message_id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a pending upload of room `room_id` whose bytes could not be
/// stored.
pub async fn remove_pending(conn: &mut AsyncPgConnection, room_id: i64, token: &str) -> Result<()> {
    diesel::delete(
        attachments::table
            .filter(attachments::room_id.eq(room_id))
            .filter(attachments::token.eq(token))
            .filter(attachments::message_id.is_null()),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` uploads no message claimed before `before`; returns
/// how many.
pub async fn expire_pending(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<usize> {
    let keys: Vec<(i64, i64)> = attachments::table
        .filter(attachments::message_id.is_null())
        .filter(attachments::uploaded_at.lt(before))
        .select((attachments::room_id, attachments::id))
        .limit(limit)
        .load(conn)
        .await?;
    if keys.is_empty() {
        return Ok(0);
    }
    let (rooms, ids): (Vec<i64>, Vec<i64>) = keys.into_iter().unzip();
    Ok(diesel::delete(
        attachments::table
            .filter(attachments::room_id.eq_any(&rooms))
            .filter(attachments::id.eq_any(&ids)),
    )
    .execute(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_encoded_segment() {
        assert_eq!(url_of("t0k", "a b/c.png"), "/files/t0k/a%20b%2Fc.png");
        assert_eq!(url_of("t0k", "été.ogg"), "/files/t0k/%C3%A9t%C3%A9.ogg");
    }

    #[test]
    fn details_skip_what_is_absent() {
        let d = Details {
            width: Some(3),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&d).ok().as_deref(),
            Some(r#"{"width":3}"#)
        );
    }
}
