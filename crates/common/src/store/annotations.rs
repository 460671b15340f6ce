//! The `message_annotations` table: each message's latest annotation of
//! each kind (an emotion tag today), the current state behind the
//! `annotation` events of the log. History shows it beside each message and
//! a room's mood is read from it. Only the event log (`store::events`)
//! writes it; a deleted message's rows go with its text.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::{Error, Result};
use crate::protocol::{Annotation, ScoredLabel};
use crate::schema::{message_annotations, messages};

/// The kind of an emotion tag.
pub const EMOTION: &str = "emotion";

/// The kind of a voice message's transcript (its `text`; no labels).
pub use crate::protocol::TRANSCRIPT;

/// The row an annotation event leaves.
pub(crate) struct NewAnnotation<'a> {
    pub message_id: i64,
    pub room_id: i64,
    pub user_id: i64,
    pub sent_at: DateTime<Utc>,
    pub annotation: &'a Annotation,
}

/// Makes `a` the message's latest annotation of its kind; one without
/// labels or text removes it.
pub(crate) async fn put(conn: &mut AsyncPgConnection, a: &NewAnnotation<'_>) -> Result<()> {
    if a.annotation.is_withdrawal() {
        return remove(conn, a.room_id, a.message_id, &a.annotation.kind).await;
    }
    let (top, top_score) = a
        .annotation
        .labels
        .as_slice()
        .first()
        .map_or((String::new(), 0.0), |l| (l.label.clone(), l.score.get()));
    let labels = serde_json::to_string(&a.annotation.labels)
        .map_err(|e| Error::internal_from("annotation labels", e))?;
    diesel::insert_into(message_annotations::table)
        .values((
            message_annotations::message_id.eq(a.message_id),
            message_annotations::kind.eq(&a.annotation.kind),
            message_annotations::room_id.eq(a.room_id),
            message_annotations::user_id.eq(a.user_id),
            message_annotations::seq.eq(a.annotation.seq),
            message_annotations::sent_at.eq(a.sent_at),
            message_annotations::labels.eq(&labels),
            message_annotations::top.eq(&top),
            message_annotations::top_score.eq(top_score),
            message_annotations::model.eq(&a.annotation.model),
            message_annotations::text.eq(&a.annotation.text),
        ))
        .on_conflict((
            message_annotations::room_id,
            message_annotations::message_id,
            message_annotations::kind,
        ))
        .do_update()
        .set((
            message_annotations::seq.eq(a.annotation.seq),
            message_annotations::labels.eq(&labels),
            message_annotations::top.eq(&top),
            message_annotations::top_score.eq(top_score),
            message_annotations::model.eq(&a.annotation.model),
            message_annotations::text.eq(&a.annotation.text),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// [`put`] for many annotations at once (the worker's tags of a pass),
/// one statement for those with labels and one for those without; of two
/// for the same message and kind, the later wins.
pub(crate) async fn put_many(
    conn: &mut AsyncPgConnection,
    all: &[NewAnnotation<'_>],
) -> Result<()> {
    use diesel::sql_types::{Array, BigInt, Float4, Text, Timestamptz};
    let mut last: HashMap<(i64, &str), &NewAnnotation<'_>> = HashMap::new();
    for a in all {
        last.insert((a.message_id, a.annotation.kind.as_str()), a);
    }
    let (gone, kept): (Vec<&NewAnnotation<'_>>, Vec<&NewAnnotation<'_>>) = last
        .into_values()
        .partition(|a| a.annotation.is_withdrawal());
    if !gone.is_empty() {
        super::Fixed::new(
            "DELETE FROM message_annotations a \
             USING unnest($1::bigint[], $2::bigint[], $3::text[]) AS g(room_id, message_id, kind) \
             WHERE a.room_id = g.room_id AND a.message_id = g.message_id AND a.kind = g.kind",
        )
        .bind::<Array<BigInt>, _>(gone.iter().map(|a| a.room_id).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(gone.iter().map(|a| a.message_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            gone.iter()
                .map(|a| a.annotation.kind.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(conn)
        .await?;
    }
    if kept.is_empty() {
        return Ok(());
    }
    let mut labels = Vec::with_capacity(kept.len());
    for a in &kept {
        labels.push(
            serde_json::to_string(&a.annotation.labels)
                .map_err(|e| Error::internal_from("annotation labels", e))?,
        );
    }
    let top = |a: &&NewAnnotation<'_>| a.annotation.labels.as_slice().first().cloned();
    super::Fixed::new(
        "INSERT INTO message_annotations \
           (message_id, kind, room_id, user_id, seq, sent_at, labels, top, top_score, model, text) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
                              $6::timestamptz[], $7::text[], $8::text[], $9::real[], $10::text[], \
                              $11::text[]) \
         ON CONFLICT (room_id, message_id, kind) DO UPDATE SET seq = excluded.seq, labels = excluded.labels, \
           top = excluded.top, top_score = excluded.top_score, model = excluded.model, \
           text = excluded.text",
    )
    .bind::<Array<BigInt>, _>(kept.iter().map(|a| a.message_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(kept.iter().map(|a| a.annotation.kind.as_str()).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(kept.iter().map(|a| a.room_id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(kept.iter().map(|a| a.user_id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(kept.iter().map(|a| a.annotation.seq).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(kept.iter().map(|a| a.sent_at).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(labels)
    .bind::<Array<Text>, _>(
        kept.iter()
            .map(|a| top(a).map(|l| l.label).unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Float4>, _>(
        kept.iter()
            .map(|a| top(a).map(|l| l.score.get()).unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(kept.iter().map(|a| a.annotation.model.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(kept.iter().map(|a| a.annotation.text.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn remove(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_id: i64,
    kind: &str,
) -> Result<()> {
    diesel::delete(message_annotations::table.find((room_id, message_id, kind)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets every annotation of deleted messages of room `room_id`.
pub(crate) async fn clear(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_ids: &[i64],
) -> Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        message_annotations::table
            .filter(message_annotations::room_id.eq(room_id))
            .filter(message_annotations::message_id.eq_any(message_ids)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Which of `message_ids` (of the rooms `room_ids`) have an annotation of
/// `kind` now.
pub async fn annotated_among(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    message_ids: &[i64],
    kind: &str,
) -> Result<Vec<i64>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(message_annotations::table
        .filter(message_annotations::room_id.eq_any(room_ids))
        .filter(message_annotations::message_id.eq_any(message_ids))
        .filter(message_annotations::kind.eq(kind))
        .select(message_annotations::message_id)
        .load(conn)
        .await?)
}

/// The latest annotations of each of `message_ids` (of the rooms
/// `room_ids`), for history.
pub async fn of_messages(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    message_ids: &[i64],
) -> Result<HashMap<i64, Vec<Annotation>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64, String, i64, String, String, String)> = message_annotations::table
        .filter(message_annotations::room_id.eq_any(room_ids))
        .filter(message_annotations::message_id.eq_any(message_ids))
        .order((message_annotations::message_id, message_annotations::kind))
        .select((
            message_annotations::room_id,
            message_annotations::message_id,
            message_annotations::kind,
            message_annotations::seq,
            message_annotations::labels,
            message_annotations::model,
            message_annotations::text,
        ))
        .load(conn)
        .await?;
    let mut out: HashMap<i64, Vec<Annotation>> = HashMap::new();
    for (room_id, id, kind, seq, labels, model, text) in rows {
        let labels: Vec<ScoredLabel> = serde_json::from_str(&labels)
            .map_err(|e| Error::internal_from(format!("labels of message {id}"), e))?;
        out.entry(id).or_default().push(Annotation {
            room: room_id,
            seq,
            id,
            kind,
            labels,
            model,
            text,
        });
    }
    Ok(out)
}

/// An annotation that must go: its author turned tagging off, or its
/// room's owner did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawn {
    pub room_id: i64,
    pub message_id: i64,
    /// The seq of the annotation event taken back.
    pub seq: i64,
}

/// Up to `limit` annotations of `kind` by `authors` or in rooms `closed`
/// (who and where tagging was turned off), by room. Two index scans (by
/// author, by room), never a scan of every tag, however often a follower
/// asks.
pub async fn withdrawn(
    conn: &mut AsyncPgConnection,
    kind: &str,
    authors: &[i64],
    closed: &[i64],
    limit: i64,
) -> Result<Vec<Withdrawn>> {
    let columns = (
        message_annotations::room_id,
        message_annotations::message_id,
        message_annotations::seq,
    );
    let mut rows: Vec<(i64, i64, i64)> = Vec::new();
    if !authors.is_empty() {
        rows = message_annotations::table
            .filter(message_annotations::user_id.eq_any(authors))
            .filter(message_annotations::kind.eq(kind))
            .limit(limit)
            .select(columns)
            .load(conn)
            .await?;
    }
    let left = limit - rows.len() as i64;
    if !closed.is_empty() && left > 0 {
        let more: Vec<(i64, i64, i64)> = message_annotations::table
            .filter(message_annotations::room_id.eq_any(closed))
            .filter(message_annotations::kind.eq(kind))
            .limit(left)
            .select(columns)
            .load(conn)
            .await?;
        rows.extend(more);
    }
    rows.sort_unstable();
    rows.dedup();
    Ok(rows
        .into_iter()
        .map(|(room_id, message_id, seq)| Withdrawn {
            room_id,
            message_id,
            seq,
        })
        .collect())
}

/// One message's tag as the mood of a room reads it.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct Tagged {
    pub message_id: i64,
    /// The message's seq (its place in the room).
    pub seq: i64,
    pub sent_at: DateTime<Utc>,
    pub top: String,
    pub top_score: f32,
}

/// How many of a room's tagged messages had each strongest label, per
/// bucket of time.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Count {
    /// The start of the bucket.
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub bucket: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub top: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
}

/// The emotion tags of a room's messages sent in `from..to`, counted by
/// strongest label in buckets of `bucket` starting at `from`: one index
/// range scan, however busy the room, counted by Postgres.
pub async fn counts_between(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: chrono::Duration,
) -> Result<Vec<Count>> {
    use diesel::sql_types::{BigInt, Interval, Text, Timestamptz};
    let step = diesel::pg::data_types::PgInterval::from_microseconds(
        bucket.num_microseconds().unwrap_or(i64::MAX),
    );
    Ok(super::Fixed::new(
        "SELECT date_bin($1, sent_at, $2) AS bucket, top, count(*) AS count \
         FROM message_annotations \
         WHERE room_id = $3 AND kind = $4 AND sent_at >= $5 AND sent_at < $6 \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Interval, _>(step)
    .bind::<Timestamptz, _>(from)
    .bind::<BigInt, _>(room_id)
    .bind::<Text, _>(EMOTION)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await?)
}

/// The `n` tags of a room sent in `from..to` with the strongest emotion
/// other than neutral: the messages that moved its mood most. Lines the
/// short-line rules tagged ("lol", "😭") say little and are left out.
pub async fn strongest_between(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    n: i64,
) -> Result<Vec<Tagged>> {
    Ok(message_annotations::table
        .inner_join(
            messages::table.on(messages::room_id
                .eq(message_annotations::room_id)
                .and(messages::id.eq(message_annotations::message_id))),
        )
        .filter(message_annotations::room_id.eq(room_id))
        .filter(message_annotations::kind.eq(EMOTION))
        .filter(message_annotations::sent_at.ge(from))
        .filter(message_annotations::sent_at.lt(to))
        .filter(message_annotations::top.ne("neutral"))
        .filter(message_annotations::model.ne(crate::emotion::RULES_MODEL))
        .order((
            message_annotations::top_score.desc(),
            message_annotations::sent_at.desc(),
        ))
        .limit(n)
        .select(TAGGED)
        .load(conn)
        .await?)
}

/// The emotion tags of a room's `n` newest tagged messages, newest first:
/// the room's mood now.
pub async fn latest_tags(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    n: i64,
) -> Result<Vec<Tagged>> {
    Ok(message_annotations::table
        .inner_join(
            messages::table.on(messages::room_id
                .eq(message_annotations::room_id)
                .and(messages::id.eq(message_annotations::message_id))),
        )
        .filter(message_annotations::room_id.eq(room_id))
        .filter(message_annotations::kind.eq(EMOTION))
        .order(message_annotations::sent_at.desc())
        .limit(n)
        .select(TAGGED)
        .load(conn)
        .await?)
}

/// The columns of [`Tagged`] (the message's seq, to link to it).
const TAGGED: (
    message_annotations::message_id,
    messages::seq,
    message_annotations::sent_at,
    message_annotations::top,
    message_annotations::top_score,
) = (
    message_annotations::message_id,
    messages::seq,
    message_annotations::sent_at,
    message_annotations::top,
    message_annotations::top_score,
);
