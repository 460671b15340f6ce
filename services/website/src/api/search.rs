//! `/api/v1/search`: messages the caller may read, ranked.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::types::ErrorBody;
use crate::actions;
use crate::actions::search::{Ask, Hit};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// What to look for, and where.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words (`"a phrase"`, `-excluded`, `or`); parts of words, URLs and
    /// ids match too. 1..=256 characters.
    q: Option<String>,
    /// Only this room (404 `room_not_found` if the caller may not read it).
    room: Option<i64>,
    /// Only messages by this username.
    from: Option<String>,
    /// Only messages sent on or after: `YYYY-MM-DD` (UTC) or RFC 3339.
    after: Option<String>,
    /// Only messages sent before: `YYYY-MM-DD` (UTC) or RFC 3339.
    before: Option<String>,
    /// `reply`: only messages someone replied to.
    has: Option<String>,
    /// 1..=50, default 20.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The room a hit is in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HitRoom {
    /// The room's id.
    pub id: i64,
    /// What the caller calls it: a room's name, a DM's other people.
    pub title: String,
    /// `room`, `dm` or `assistant` (an assistant chat).
    pub kind: String,
}

/// One message found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// The message as the caller sees it now.
    pub message: common::protocol::ChatMessage,
    /// Its room.
    pub room: HitRoom,
    /// Higher is more relevant.
    pub rank: f64,
    /// The text around the match as HTML: escaped, matches in `<mark>`.
    pub snippet: String,
}

/// A page of hits, best first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    /// Best first.
    pub results: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Whether messages near in meaning were searched too (false when the
    /// worker did not answer in time, or a filter other than `room` is set).
    pub semantic: bool,
}

impl From<Hit> for SearchHit {
    fn from(h: Hit) -> Self {
        Self {
            room: HitRoom {
                id: h.message.room,
                title: h.room_title,
                kind: h.room_kind.as_str().to_owned(),
            },
            message: h.message,
            rank: h.rank,
            snippet: h.snippet,
        }
    }
}

/// Searches the messages of every room the caller may read (public rooms,
/// their private rooms and DMs); deleted messages never, edited ones as
/// they read now.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery), security(("bearer" = [])),
    responses((status = 200, body = SearchPage), (status = 404, body = ErrorBody, description = "room_not_found"),
              (status = 422, body = ErrorBody, description = "bad_query, bad_date, bad_filter, bad_limit, bad_cursor, user_not_found"),
              (status = 429, body = ErrorBody, description = "over SEARCH_LIMIT"),
              (status = 503, body = ErrorBody, description = "the search took longer than SEARCH_TIMEOUT_MS"),
              (status = 401, body = ErrorBody)))]
#[get("/search")]
pub async fn search(
    user: ApiUser,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let ask = Ask {
        q: query.q.unwrap_or_default(),
        room: query.room,
        from: query.from.unwrap_or_default(),
        after: query.after.unwrap_or_default(),
        before: query.before.unwrap_or_default(),
        has: query.has.unwrap_or_default(),
        limit: query.limit.unwrap_or(20),
        cursor: query.cursor.unwrap_or_default(),
    };
    let found = actions::search::run(&state, user.actor(), &ask).await?;
    Ok(HttpResponse::Ok().json(SearchPage {
        results: found.hits.into_iter().map(SearchHit::from).collect(),
        next_cursor: found.next_cursor,
        semantic: found.semantic,
    }))
}
