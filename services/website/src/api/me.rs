//! `/api/v1/me/sessions` and `/api/v1/me/password`: my sessions, signing
//! them out, and changing my password (which signs out the others).

use actix_web::{HttpResponse, delete, get, post, web};
use uuid::Uuid;

use super::types::{ErrorBody, PasswordChangeBody, SessionJson, SessionsAnswer, SignedOut};
use crate::actions::sessions;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// My sessions that still work, most recently used first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = SessionsAnswer), (status = 401, body = ErrorBody)))]
#[get("/me/sessions")]
pub async fn list(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let list = sessions::list(&state, user.actor(), user.0.sid).await?;
    Ok(HttpResponse::Ok().json(SessionsAnswer {
        sessions: list
            .into_iter()
            .map(|s| SessionJson {
                id: s.id,
                device: s.device,
                address: s.address,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                current: s.current,
            })
            .collect(),
    }))
}

/// Signs one of my sessions out (this one too, if named).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the session")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 404, description = "no such session of mine", body = ErrorBody)))]
#[delete("/me/sessions/{id}")]
pub async fn revoke(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    sessions::revoke(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Signs out every session of mine but this one.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = SignedOut), (status = 401, body = ErrorBody)))]
#[delete("/me/sessions")]
pub async fn revoke_others(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let signed_out = sessions::revoke_others(&state, user.actor(), user.0.sid).await?;
    Ok(HttpResponse::Ok().json(SignedOut { signed_out }))
}

/// Changes my password, given the current one; every other session of
/// mine is signed out.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "users", security(("bearer" = [])),
    request_body = PasswordChangeBody,
    responses((status = 200, body = SignedOut), (status = 401, body = ErrorBody),
              (status = 422, description = "wrong current password, or a new one too short, common or weak", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[post("/me/password")]
pub async fn change_password(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<PasswordChangeBody>,
) -> ApiResult<HttpResponse> {
    let signed_out = sessions::change_password(
        &state,
        user.actor(),
        user.0.sid,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(HttpResponse::Ok().json(SignedOut { signed_out }))
}
