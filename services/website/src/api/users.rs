//! `/api/v1/users/me`.

use actix_web::{HttpResponse, get, web};
use common::store::users;

use super::types::{ErrorBody, UserEnvelope, UserJson};
use crate::error::ApiResult;
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
