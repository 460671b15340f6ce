//! Public rooms to suggest to a person, from what they can read: the people
//! who talk in their rooms, and the words of their rooms. Read-only; every
//! signal is joined through the person's memberships at query time (a
//! room they were removed from feeds nothing), and only public rooms of
//! kind `room` that they are not in and not banned from are ever answered.

use diesel::sql_types::{Array, BigInt, Double, Text};
use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;

use super::Fixed;
use crate::error::Result;

/// The person's rooms read for signals: the most recently joined this many.
pub const ROOMS_SAMPLED: i64 = 50;
/// The newest messages of each of their rooms whose authors count as
/// "people you talk with".
pub const AUTHORS_SCANNED: i64 = 100;
/// The newest messages of each of their rooms whose words count.
pub const MESSAGES_SAMPLED: i64 = 20;
/// The most frequent words of their rooms searched for.
pub const TERMS: i64 = 32;

/// A public room where people the person talks with are members.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct PeopleMatch {
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    /// How many of those people are members.
    #[diesel(sql_type = BigInt)]
    pub people: i64,
}

/// Public rooms whose members include the most people who wrote lately in
/// the person's rooms (themselves, people they blocked and the assistant
/// aside), best first, at most `limit`.
pub async fn by_people(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    limit: i64,
) -> Result<Vec<PeopleMatch>> {
    Ok(Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint AS rooms, $3::bigint AS scan, $4::bigint AS lim), \
         mine AS (SELECT m.room_id FROM room_members m, p WHERE m.user_id = p.uid \
                  ORDER BY m.joined_at DESC LIMIT (SELECT rooms FROM p)), \
         talk AS (SELECT DISTINCT x.user_id FROM mine, p, \
                    LATERAL (SELECT user_id FROM messages \
                             WHERE room_id = mine.room_id AND deleted_at IS NULL \
                             ORDER BY seq DESC LIMIT p.scan) x \
                  WHERE x.user_id <> p.uid \
                    AND NOT EXISTS (SELECT 1 FROM user_blocks b \
                                    WHERE b.blocker_id = p.uid AND b.blocked_id = x.user_id) \
                    AND NOT EXISTS (SELECT 1 FROM users u \
                                    WHERE u.id = x.user_id AND u.kind = 'bot')) \
         SELECT r.id AS room_id, count(*) AS people \
         FROM talk JOIN room_members o ON o.user_id = talk.user_id \
              JOIN rooms r ON r.id = o.room_id, p \
         WHERE r.visibility = 'public' AND r.kind = 'room' \
           AND NOT EXISTS (SELECT 1 FROM room_members a WHERE a.room_id = r.id AND a.user_id = p.uid) \
           AND NOT EXISTS (SELECT 1 FROM room_bans b WHERE b.room_id = r.id AND b.user_id = p.uid) \
         GROUP BY r.id ORDER BY people DESC, r.id LIMIT (SELECT lim FROM p)",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(ROOMS_SAMPLED)
    .bind::<BigInt, _>(AUTHORS_SCANNED)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// A public room whose name and topic share words with the person's rooms.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct WordsMatch {
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    /// Postgres's `ts_rank` of the room against the words.
    #[diesel(sql_type = Double)]
    pub rank: f64,
    /// Up to two of the person's named rooms whose name or topic shares a
    /// word with it, by name (for "Like #rust and #cooking").
    #[diesel(sql_type = Array<Text>)]
    pub like: Vec<String>,
}

/// Public rooms whose name or topic holds the most frequent words of the
/// person's named rooms (their names, topics and newest messages; English
/// stemming, stop words left out), best first, at most `limit`. Uses the
/// `rooms_public_search_idx` full-text index. The words are already
/// lexemes: they are joined into one `or` query without a second stemming
/// (`simple`), and whatever they hold cannot make the query fail.
pub async fn by_words(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    limit: i64,
) -> Result<Vec<WordsMatch>> {
    Ok(Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint AS rooms, $3::bigint AS scan, \
                    $4::bigint AS terms, $5::bigint AS lim), \
         mine AS (SELECT r.id, r.name, to_tsvector('english', r.name || ' ' || r.topic) AS doc \
                  FROM room_members m JOIN rooms r ON r.id = m.room_id, p \
                  WHERE m.user_id = p.uid AND r.kind = 'room' \
                  ORDER BY m.joined_at DESC LIMIT (SELECT rooms FROM p)), \
         docs AS (SELECT doc FROM mine \
                  UNION ALL \
                  SELECT to_tsvector('english', x.body) FROM mine, p, \
                    LATERAL (SELECT body FROM messages \
                             WHERE room_id = mine.id AND deleted_at IS NULL \
                             ORDER BY seq DESC LIMIT p.scan) x), \
         words AS (SELECT w.lexeme FROM docs, unnest(docs.doc) w \
                   WHERE char_length(w.lexeme) >= 2 AND w.lexeme !~ '[0-9/:@]' \
                   GROUP BY w.lexeme ORDER BY count(*) DESC, w.lexeme \
                   LIMIT (SELECT terms FROM p)), \
         q AS (SELECT websearch_to_tsquery('simple', string_agg(lexeme, ' or ')) AS query \
               FROM words) \
         SELECT r.id AS room_id, \
           ts_rank(to_tsvector('english', r.name || ' ' || r.topic), q.query)::float8 AS rank, \
           ARRAY(SELECT mine.name FROM mine \
                 WHERE tsvector_to_array(mine.doc) \
                       && tsvector_to_array(to_tsvector('english', r.name || ' ' || r.topic)) \
                 ORDER BY lower(mine.name) LIMIT 2) AS like \
         FROM rooms r, q, p \
         WHERE q.query IS NOT NULL AND numnode(q.query) > 0 \
           AND r.visibility = 'public' AND r.kind = 'room' \
           AND to_tsvector('english', r.name || ' ' || r.topic) @@ q.query \
           AND NOT EXISTS (SELECT 1 FROM room_members a WHERE a.room_id = r.id AND a.user_id = p.uid) \
           AND NOT EXISTS (SELECT 1 FROM room_bans b WHERE b.room_id = r.id AND b.user_id = p.uid) \
         ORDER BY rank DESC, r.id LIMIT (SELECT lim FROM p)",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(ROOMS_SAMPLED)
    .bind::<BigInt, _>(MESSAGES_SAMPLED)
    .bind::<BigInt, _>(TERMS)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}
