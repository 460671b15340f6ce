//! `/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}`: adding
//! (PUT) and taking back (DELETE) one's reaction. Both answer the message's
//! reaction summary; an `Idempotency-Key` header makes a retry safe.

use actix_web::{HttpRequest, HttpResponse, delete, put, web};

use super::messages::idempotency_key;
use super::types::{ErrorBody, ReactionsEnvelope};
use crate::actions;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// Adds the caller's reaction with one emoji (nothing changes if it is there).
#[utoipa::path(put, path = "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path), ("emoji" = String, Path, description = "one emoji, URL-encoded")),
    security(("bearer" = [])),
    responses((status = 200, body = ReactionsEnvelope), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "bad_emoji"), (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[put("/rooms/{id}/messages/{message_id}/reactions/{emoji}")]
pub async fn add(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    react(user, state, path, req, true).await
}

/// Takes the caller's reaction back.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/messages/{message_id}/reactions/{emoji}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path), ("emoji" = String, Path, description = "one emoji, URL-encoded")),
    security(("bearer" = [])),
    responses((status = 200, body = ReactionsEnvelope), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[delete("/rooms/{id}/messages/{message_id}/reactions/{emoji}")]
pub async fn remove(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    react(user, state, path, req, false).await
}

async fn react(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64, String)>,
    req: HttpRequest,
    on: bool,
) -> ApiResult<HttpResponse> {
    let (room, id, emoji) = path.into_inner();
    let nonce = idempotency_key(&req);
    let reactions =
        actions::messages::react(&state, user.actor(), room, id, &emoji, on, &nonce).await?;
    Ok(HttpResponse::Ok().json(ReactionsEnvelope { reactions }))
}
