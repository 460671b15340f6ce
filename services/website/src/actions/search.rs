//! Searching messages: the page and the API ask the same question here.
//! Only rooms the searcher may read are searched (one SQL statement of the
//! access rule, in `store::search`); a `room` filter on a room they may not
//! see answers exactly like a room that does not exist.

use chrono::{DateTime, NaiveDate, Utc};
use common::error::Code;
use common::guard;
use common::protocol::ChatMessage;
use common::search_text::{self, MAX_QUERY_CHARS};
use common::store::search::{self, Filters};
use common::store::{messages, rooms, users};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The most hits one page holds.
pub const MAX_LIMIT: i64 = 50;

/// A search as asked, every field as typed (the page keeps them in its
/// form); empty means "not given".
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The words: `"a phrase"`, `-excluded`, `or`.
    pub q: String,
    /// Only this room.
    pub room: Option<i64>,
    /// Only messages by this username.
    pub from: String,
    /// Only messages sent on or after this date (`YYYY-MM-DD`, UTC) or time
    /// (RFC 3339).
    pub after: String,
    /// Only messages sent before this date or time.
    pub before: String,
    /// `reply`: only messages someone replied to.
    pub has: String,
    /// Hits per page.
    pub limit: i64,
    /// Where the previous page ended (`next_cursor`).
    pub cursor: String,
}

/// One message found.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The message as the searcher sees it now.
    pub message: ChatMessage,
    /// What the searcher calls its room.
    pub room_title: String,
    /// Whether its room is a direct conversation.
    pub room_is_dm: bool,
    /// What its room is (a room, a DM, an assistant chat).
    pub room_kind: common::access::Kind,
    /// Higher is more relevant (reciprocal-rank fusion of the rankings).
    pub rank: f64,
    /// The message's text around what matched, HTML-escaped, the matches
    /// in `<mark>`.
    pub snippet: String,
}

/// A page of hits, best first.
#[derive(Debug, Clone)]
pub struct Found {
    /// This page's hits.
    pub hits: Vec<Hit>,
    /// The cursor of the next page, when there are more hits.
    pub next_cursor: Option<String>,
    /// Whether semantic search took part (the worker answered).
    pub semantic: bool,
}

/// The most semantic hits fused with the words' ranking.
const SEMANTIC_HITS: usize = 100;

/// Runs `ask` for `searcher`.
pub async fn run(state: &AppState, searcher: &Actor, ask: &Ask) -> Result<Found> {
    let q = ask.q.trim();
    if q.is_empty() {
        return Err(Error::invalid("q", Code::BadQuery, "type what to look for"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(
            "q",
            Code::BadQuery,
            format!("a search is at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if q.chars().any(char::is_control) {
        return Err(Error::invalid(
            "q",
            Code::BadQuery,
            "a search may not contain control characters",
        ));
    }
    if !(1..=MAX_LIMIT).contains(&ask.limit) {
        return Err(Error::invalid(
            "limit",
            Code::BadLimit,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let cap = state.config.limits.search_candidates;
    let offset = match ask.cursor.as_str() {
        "" => 0,
        raw => raw
            .parse::<i64>()
            .ok()
            .filter(|o| (1..cap * 2).contains(o))
            .ok_or_else(|| Error::invalid("cursor", Code::BadCursor, "cursor is not valid"))?,
    };
    let mut filters = Filters {
        after: date("after", &ask.after)?,
        before: date("before", &ask.before)?,
        replied: match ask.has.as_str() {
            "" => false,
            "reply" => true,
            _ => {
                return Err(Error::invalid(
                    "has",
                    Code::BadFilter,
                    "has may only be reply (messages someone replied to)",
                ));
            }
        },
        ..Filters::default()
    };
    state
        .limiter
        .hit(&state.config.limits.search, &searcher.user_id.to_string())
        .await?;
    let mut conn = state.pool.get().await?;
    if let Some(room) = ask.room {
        guard::readable(&mut conn, searcher.user_id, room).await?;
        filters.room = Some(room);
    }
    let from = ask.from.trim().trim_start_matches('@');
    if !from.is_empty() {
        let author = users::find_by_username(&mut conn, from)
            .await
            .map_err(|_| {
                Error::invalid(
                    "from",
                    Code::UserNotFound,
                    format!("no one is called {from}"),
                )
            })?;
        filters.author = Some(author.id);
    }
    let terms = search_text::terms(q);
    let lexical = search::lexical(
        &mut conn,
        searcher.user_id,
        q,
        &terms,
        &filters,
        cap,
        state.config.limits.search_timeout,
    )
    .await?;
    // Semantic search (the worker) adds a second ranking when no filter
    // but the room is set (its hits are not filtered by person or date).
    let plain = filters.author.is_none()
        && filters.after.is_none()
        && filters.before.is_none()
        && !filters.replied;
    let nearest = if plain {
        let ask = crate::semantic::SemanticAsk {
            user: searcher.user_id,
            q,
            room: filters.room,
            limit: SEMANTIC_HITS,
        };
        state.semantic.nearest(&ask).await
    } else {
        None
    };
    let lexical_ids = lexical.iter().map(|c| c.message_id);
    let semantic_ids = nearest.iter().flatten().map(|h| h.id);
    let ranked = search_text::fuse(&[lexical_ids.collect(), semantic_ids.collect()]);
    let page: Vec<(i64, f64)> = ranked
        .iter()
        .skip(offset as usize)
        .take(ask.limit as usize)
        .copied()
        .collect();
    let more = ranked.len() > offset as usize + page.len();
    let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
    let mut hit_rooms: Vec<i64> = lexical.iter().map(|c| c.room_id).collect();
    hit_rooms.extend(nearest.iter().flatten().map(|h| h.room));
    hit_rooms.sort_unstable();
    hit_rooms.dedup();
    let mut found = messages::live_by_ids(&mut conn, &hit_rooms, &ids, searcher.user_id).await?;
    let room_ids: Vec<i64> = {
        let mut r: Vec<i64> = found.iter().map(|m| m.room).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let rooms = rooms::by_ids(&mut conn, &room_ids).await?;
    drop(conn);
    let mut hits = Vec::with_capacity(page.len());
    for (id, rank) in page {
        let Some(i) = found.iter().position(|m| m.id == id) else {
            continue; // deleted since it was indexed
        };
        let message = found.swap_remove(i);
        let Some(room) = rooms.iter().find(|r| r.room.id == message.room) else {
            continue; // the room is being deleted
        };
        let text = common::markdown::excerpt(&message.body, common::domain::MessageBody::MAX);
        hits.push(Hit {
            snippet: search_text::snippet(&text, &terms.marks),
            room_title: room.title_for(searcher.user_id),
            room_is_dm: room.is_dm(),
            room_kind: room.room.kind(),
            rank,
            message,
        });
    }
    Ok(Found {
        hits,
        next_cursor: more.then(|| (offset + ask.limit).to_string()),
        semantic: nearest.is_some(),
    })
}

/// A date filter: `YYYY-MM-DD` (the start of that day, UTC) or an RFC 3339
/// time; empty for none.
fn date(field: &'static str, raw: &str) -> Result<Option<DateTime<Utc>>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            Error::invalid(
                field,
                Code::BadDate,
                format!("{field} must be a date like 2026-11-29"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_or_times() {
        let day = date("after", "2026-11-29")
            .ok()
            .flatten()
            .map(|t| t.to_rfc3339());
        assert_eq!(day.as_deref(), Some("2026-11-29T00:00:00+00:00"));
        let time = date("before", "2026-11-29T10:00:00+02:00")
            .ok()
            .flatten()
            .map(|t| t.to_rfc3339());
        assert_eq!(time.as_deref(), Some("2026-11-29T08:00:00+00:00"));
        assert!(matches!(date("after", ""), Ok(None)));
        assert!(date("after", "yesterday").is_err_and(|e| e.field() == Some("after")));
    }
}
