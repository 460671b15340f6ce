//! `/api/v1/rooms/{id}/messages`: history, and sending.

use actix_web::{HttpResponse, get, post, web};
use common::protocol::ChatMessage;
use common::store::{messages, rooms};
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, MessageEnvelope, MessagePage, NewMessageBody};
use crate::actions;
use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

#[derive(Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Only messages with a smaller seq (for paging back).
    before_seq: Option<i64>,
    /// 1..=200, default 50.
    limit: Option<i64>,
}

/// A room's messages, newest first.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/messages", tag = "messages", params(("id" = i64, Path), HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MessagePage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
#[get("/rooms/{id}/messages")]
pub async fn list(
    _user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<HistoryQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::bad_request("bad_limit", "limit must be between 1 and 200").into());
    }
    if query.before_seq.is_some_and(|b| b < 1) {
        return Err(Error::bad_request("bad_before_seq", "before_seq must be at least 1").into());
    }
    let room_id = path.into_inner();
    let mut conn = state.pool.get().await.map_err(common::Error::from)?;
    if !rooms::exists(&mut conn, room_id).await? {
        return Err(common::Error::NotFound("room").into());
    }
    let page = messages::page_before(&mut conn, room_id, query.before_seq, limit).await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        messages: page.iter().map(ChatMessage::from).collect(),
    }))
}

/// Sends a message: stored with the room's next seq and delivered like a
/// WebSocket `send`. Repeating a nonce returns the message stored the first time.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/messages", tag = "messages", params(("id" = i64, Path)),
    request_body = NewMessageBody, security(("bearer" = [])),
    responses((status = 201, body = MessageEnvelope), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[post("/rooms/{id}/messages")]
pub async fn send(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<NewMessageBody>,
) -> ApiResult<HttpResponse> {
    let stored = actions::messages::send(
        &state,
        user.actor(),
        path.into_inner(),
        &body.body,
        &body.nonce,
    )
    .await?;
    Ok(HttpResponse::Created().json(MessageEnvelope {
        message: stored.message,
    }))
}
