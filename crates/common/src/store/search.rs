//! Message search: the `message_search` table the worker keeps from the
//! event log (never written by the send path), and the queries over it.
//! Every query answers only rooms the searcher may read, by one SQL
//! statement of `access::may_read` ([`readable_cte!`]); a test holds the two
//! in agreement for every standing and kind of room.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bool, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use super::Fixed;
use crate::error::{Error, Result};
use crate::schema::message_search;

/// The rooms `p.uid` may read as a CTE named `readable`, for statements
/// whose first CTE is `p` with a column `uid`. It is `access::may_read`
/// said in SQL: a public room, or one they are a member (or the owner) of,
/// and no ban in force. Change both together: the store test
/// `the_readable_set_agrees_with_may_read` compares them.
macro_rules! readable_cte {
    () => {
        "readable AS (SELECT r.id FROM rooms r CROSS JOIN p \
           LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = p.uid \
           WHERE (r.visibility = 'public' OR m.user_id IS NOT NULL OR r.owner_id = p.uid) \
             AND NOT EXISTS (SELECT 1 FROM room_bans b \
                             WHERE b.room_id = r.id AND b.user_id = p.uid \
                               AND (b.until IS NULL OR b.until > now())))"
    };
}

#[derive(QueryableByName)]
struct RoomId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Every room `user_id` may read, by id: the readable set search uses.
pub async fn readable_rooms(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<i64>> {
    let rows: Vec<RoomId> = Fixed::new(concat!(
        "WITH p AS (SELECT $1::bigint AS uid), ",
        readable_cte!(),
        " SELECT id FROM readable ORDER BY id"
    ))
    .bind::<BigInt, _>(user_id)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Makes the search rows of messages `ids` (of the rooms `room_ids`) what
/// the messages are now: a live message's current text, then its
/// transcript (a voice message's words are found like typed ones), nothing
/// for a deleted or missing one. Doing it twice changes nothing.
pub async fn refresh(conn: &mut AsyncPgConnection, room_ids: &[i64], ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    forget(conn, room_ids, ids).await?;
    Fixed::new(
        "INSERT INTO message_search (message_id, room_id, seq, user_id, sent_at, text) \
         SELECT m.id, m.room_id, m.seq, m.user_id, m.sent_at, \
                concat_ws(E'\\n', nullif(m.body, ''), nullif(t.text, '')) \
         FROM messages m \
         LEFT JOIN message_annotations t \
           ON t.room_id = m.room_id AND t.message_id = m.id AND t.kind = $1 \
         WHERE m.room_id = ANY($2::bigint[]) AND m.id = ANY($3::bigint[]) \
           AND m.deleted_at IS NULL",
    )
    .bind::<Text, _>(super::annotations::TRANSCRIPT)
    .bind::<Array<BigInt>, _>(room_ids)
    .bind::<Array<BigInt>, _>(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases the search rows of messages `ids` of the rooms `room_ids` (a
/// deletion does it in its own transaction: deleted text leaves the
/// database at once).
pub async fn forget(conn: &mut AsyncPgConnection, room_ids: &[i64], ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        message_search::table
            .filter(message_search::room_id.eq_any(room_ids))
            .filter(message_search::message_id.eq_any(ids)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases up to `limit` search rows of a deleted room; the number erased.
pub async fn forget_some_in_room(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    limit: i64,
) -> Result<usize> {
    let some: Vec<i64> = message_search::table
        .filter(message_search::room_id.eq(room_id))
        .select(message_search::message_id)
        .limit(limit)
        .load(conn)
        .await?;
    forget(conn, &[room_id], &some).await?;
    Ok(some.len())
}

/// What to look for, and where.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only this room (the caller has checked the searcher may read it).
    pub room: Option<i64>,
    /// Only messages by this person.
    pub author: Option<i64>,
    /// Only messages sent at or after this time.
    pub after: Option<DateTime<Utc>>,
    /// Only messages sent before this time.
    pub before: Option<DateTime<Utc>>,
    /// Only messages someone replied to.
    pub replied: bool,
}

/// A message that matched, in order of relevance.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    #[diesel(sql_type = BigInt)]
    pub message_id: i64,
    /// Postgres's `ts_rank_cd` for whole-word matches; 0 for a match of
    /// parts of words only.
    #[diesel(sql_type = Double)]
    pub score: f64,
    /// It matched whole words (not only parts of words).
    #[diesel(sql_type = Bool)]
    pub words: bool,
}

/// The lexical matches of `query` among the messages `user_id` may read:
/// first the newest `cap` whole-word matches (`websearch_to_tsquery`:
/// quotes, `-word`, `or`) by rank, then the newest `cap` messages holding
/// every one of `terms.parts` inside words (trigram index) and none of
/// `terms.excluded`, newest first (no partial matching unless a part has
/// three characters or more). A search taking longer than `timeout` is
/// cancelled and answers `unavailable`.
pub async fn lexical(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    query: &str,
    terms: &crate::search_text::Terms,
    filters: &Filters,
    cap: i64,
    timeout: std::time::Duration,
) -> Result<Vec<Candidate>> {
    let limit = format!(
        "SET LOCAL statement_timeout = {}",
        timeout.as_millis().max(1)
    );
    let found = conn
        .transaction::<_, Error, _>(async |conn| {
            conn.batch_execute(&limit).await?;
            lexical_now(conn, user_id, query, terms, filters, cap).await
        })
        .await;
    match found {
        Err(Error::Database(DieselError::DatabaseError(_, info)))
            if info.message().contains("statement timeout") =>
        {
            Err(Error::unavailable("the search took too long"))
        }
        found => found,
    }
}

async fn lexical_now(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    query: &str,
    terms: &crate::search_text::Terms,
    filters: &Filters,
    cap: i64,
) -> Result<Vec<Candidate>> {
    let parts = &terms.parts;
    let patterns: Vec<String> = parts.iter().map(|p| super::like_contains(p)).collect();
    let excluded: Vec<String> = terms
        .excluded
        .iter()
        .map(|p| super::like_contains(p))
        .collect();
    // The longest part drives the trigram index; the others filter.
    let main = parts
        .iter()
        .max_by_key(|p| p.chars().count())
        .filter(|p| p.chars().count() >= 3)
        .map(|p| super::like_contains(p));
    Ok(Fixed::new(concat!(
        "WITH p AS (SELECT $1::bigint AS uid, websearch_to_tsquery('simple', $2::text) AS tq, \
                    $3::text AS main, $4::text[] AS patterns, $5::bigint AS room, \
                    $6::bigint AS author, $7::timestamptz AS after, $8::timestamptz AS before, \
                    $9::bool AS replied, $10::bigint AS cap, $11::text[] AS excluded), ",
        readable_cte!(),
        ", candidates AS NOT MATERIALIZED ( \
             SELECT s.* FROM message_search s, p \
             WHERE s.room_id IN (SELECT id FROM readable) \
               AND (p.room IS NULL OR s.room_id = p.room) \
               AND (p.author IS NULL OR s.user_id = p.author) \
               AND (p.after IS NULL OR s.sent_at >= p.after) \
               AND (p.before IS NULL OR s.sent_at < p.before) \
               AND (NOT p.replied OR EXISTS (SELECT 1 FROM messages r \
                    WHERE r.room_id = s.room_id AND r.reply_to_id = s.message_id \
                      AND r.deleted_at IS NULL))), \
         words AS ( \
             SELECT c.room_id, c.message_id, ts_rank_cd(c.words, p.tq)::float8 AS score \
             FROM candidates c, p \
             WHERE numnode(p.tq) > 0 AND c.words @@ p.tq \
             ORDER BY c.message_id DESC LIMIT (SELECT cap FROM p)), \
         parts AS ( \
             SELECT c.room_id, c.message_id FROM candidates c, p \
             WHERE p.main IS NOT NULL AND c.text ILIKE p.main AND c.text ILIKE ALL (p.patterns) \
               AND NOT (c.text ILIKE ANY (p.excluded)) \
               AND c.message_id NOT IN (SELECT message_id FROM words) \
             ORDER BY c.message_id DESC LIMIT (SELECT cap FROM p)) \
         SELECT room_id, message_id, score, words FROM ( \
             SELECT room_id, message_id, score, true AS words FROM words \
             UNION ALL SELECT room_id, message_id, 0::float8, false FROM parts) x \
         ORDER BY words DESC, score DESC, message_id DESC"
    ))
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(query)
    .bind::<Nullable<Text>, _>(main)
    .bind::<Array<Text>, _>(patterns)
    .bind::<Nullable<BigInt>, _>(filters.room)
    .bind::<Nullable<BigInt>, _>(filters.author)
    .bind::<Nullable<Timestamptz>, _>(filters.after)
    .bind::<Nullable<Timestamptz>, _>(filters.before)
    .bind::<Bool, _>(filters.replied)
    .bind::<BigInt, _>(cap)
    .bind::<Array<Text>, _>(excluded)
    .load(conn)
    .await?)
}

/// Which of `ids` (of the rooms `room_ids`) are indexed: for tests and
/// the worker's checks.
pub async fn indexed(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
) -> Result<Vec<(i64, String)>> {
    Ok(message_search::table
        .filter(message_search::room_id.eq_any(room_ids))
        .filter(message_search::message_id.eq_any(ids))
        .select((message_search::message_id, message_search::text))
        .order(message_search::message_id)
        .load(conn)
        .await?)
}
