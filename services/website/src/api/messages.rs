//! `/api/v1/rooms/{id}/messages`: history, and sending.

use actix_web::{HttpResponse, get, post, web};
use common::protocol::ChatMessage;
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, MessageEnvelope, MessagePage, NewMessageBody};
use crate::actions;
use crate::actions::messages::ReadMark;
use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// Which page of history.
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
    user: ApiUser,
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
    let history = actions::messages::history(
        &state,
        user.actor(),
        path.into_inner(),
        query.before_seq,
        limit,
        ReadMark::Keep,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        messages: history.messages.iter().map(ChatMessage::from).collect(),
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
