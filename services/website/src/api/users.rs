//! `/api/v1/users/me` and `/api/v1/users/{username}`: people, and my own
//! profile (display name, bio).

use actix_web::{HttpResponse, get, patch, web};
use common::store::users;

use super::types::{ErrorBody, ProfileBody, UserEnvelope, UserJson};
use crate::actions::profiles::{self, ProfileEdit};
use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody)))]
#[get("/users/me")]
pub async fn me(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await.map_err(common::Error::from)?;
    let user = users::find(&mut conn, user.actor().user_id).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserJson::from(&user),
    }))
}

/// Changes my display name and/or bio; a field left out stays as it is.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = ProfileBody,
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody),
              (status = 422, description = "a display name or bio too long or with characters it may not hold (`field` names which)", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[patch("/users/me")]
pub async fn update_me(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<ProfileBody>,
) -> ApiResult<HttpResponse> {
    let edit = ProfileEdit::parse(body.display_name.as_deref(), body.bio.as_deref())
        .map_err(Error::first_of)?;
    let user = profiles::update(&state, user.actor(), &edit).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserJson::from(&user),
    }))
}

/// Someone's profile, by username (ignoring case).
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path, description = "the username, any case")),
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody),
              (status = 404, description = "`user_not_found`", body = ErrorBody)))]
#[get("/users/{username}")]
pub async fn show(
    _user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = profiles::find(&state, &path).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserJson::from(&user),
    }))
}
