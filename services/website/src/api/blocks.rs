//! `/api/v1/me/blocks`: the people I blocked; blocking and unblocking
//! (both idempotent).

use actix_web::{HttpResponse, delete, get, put, web};

use super::types::{BlockJson, BlocksPage, ErrorBody, UserJson};
use crate::actions::profiles;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The people I blocked, the newest first.
#[utoipa::path(get, path = "/api/v1/me/blocks", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = BlocksPage), (status = 401, body = ErrorBody)))]
#[get("/me/blocks")]
pub async fn list(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let blocks = profiles::blocks(&state, user.actor()).await?;
    Ok(HttpResponse::Ok().json(BlocksPage {
        blocks: blocks
            .iter()
            .map(|b| BlockJson {
                user: UserJson::from(&b.user),
                created_at: b.created_at,
            })
            .collect(),
    }))
}

/// Blocks someone: their messages are collapsed for me. Blocking again
/// changes nothing.
#[utoipa::path(put, path = "/api/v1/me/blocks/{username}", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path, description = "who, any case")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 404, description = "`user_not_found`", body = ErrorBody),
              (status = 422, description = "`cannot_block_self`", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[put("/me/blocks/{username}")]
pub async fn add(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    profiles::block(&state, user.actor(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lifts a block; lifting one that does not exist changes nothing.
#[utoipa::path(delete, path = "/api/v1/me/blocks/{username}", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path, description = "who, any case")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 404, description = "`user_not_found`", body = ErrorBody),
              (status = 422, description = "`cannot_block_self`", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[delete("/me/blocks/{username}")]
pub async fn remove(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    profiles::unblock(&state, user.actor(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
