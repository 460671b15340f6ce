//! `/api/v1/rooms/{id}/messages`: history, sending, editing, deleting.
//! Every change goes the one path of room events, like a WebSocket frame.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use common::Error as Core;
use common::error::Code;
use common::protocol::ServerFrame;
use common::store::events::Appended;
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{EditBody, ErrorBody, MessageEnvelope, MessagePage, NewMessageBody};
use crate::actions;
use crate::actions::messages::ReadMark;
use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The nonce of a change whose request has no body (DELETE, PUT): the
/// client's `Idempotency-Key` header, so a retried request changes nothing
/// more; without one, a fresh nonce.
pub fn idempotency_key(req: &HttpRequest) -> String {
    req.headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("api-{}", uuid::Uuid::new_v4().simple()))
}

/// The message a send answers; a nonce already used for another kind of
/// change is the client's mistake.
fn message_of(appended: Appended) -> Result<common::protocol::ChatMessage, Core> {
    match appended.frame {
        ServerFrame::Message(m) => Ok(m),
        _ => Err(Core::conflict(
            "nonce",
            Code::NonceReused,
            "this nonce was used for another change",
        )),
    }
}

/// Which page of history.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
        return Err(Error::bad_request(Code::BadLimit, "limit must be between 1 and 200").into());
    }
    if query.before_seq.is_some_and(|b| b < 1) {
        return Err(Error::bad_request(Code::BadBeforeSeq, "before_seq must be at least 1").into());
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
        messages: history.messages,
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
        body.reply_to,
        &body.attachments,
    )
    .await?;
    Ok(HttpResponse::Created().json(MessageEnvelope {
        message: message_of(stored)?,
    }))
}

/// Edits one's own message (within the edit window); answers the message
/// as it is now. The same nonce again changes nothing more.
#[utoipa::path(patch, path = "/api/v1/rooms/{id}/messages/{message_id}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path)), request_body = EditBody, security(("bearer" = [])),
    responses((status = 200, body = MessageEnvelope), (status = 403, body = ErrorBody, description = "not_author"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "edit_window_closed"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[patch("/rooms/{id}/messages/{message_id}")]
pub async fn edit(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Json<EditBody>,
) -> ApiResult<HttpResponse> {
    let (room, id) = path.into_inner();
    actions::messages::edit(&state, user.actor(), room, id, &body.body, &body.nonce).await?;
    let message = actions::messages::find(&state, user.actor(), room, id).await?;
    Ok(HttpResponse::Ok().json(MessageEnvelope { message }))
}

/// Deletes a message for good: its author, the room's owner or a moderator.
/// An `Idempotency-Key` header makes a retry safe.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/messages/{message_id}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[delete("/rooms/{id}/messages/{message_id}")]
pub async fn remove(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let (room, id) = path.into_inner();
    let nonce = idempotency_key(&req);
    actions::messages::delete(&state, user.actor(), room, id, &nonce).await?;
    Ok(HttpResponse::NoContent().finish())
}
