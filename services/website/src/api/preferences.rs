//! `/api/v1/me/preferences` and `/api/v1/me/rooms/{id}/notifications`: my
//! preferences, and a room's notification level apart from my default.

use actix_web::{HttpResponse, delete, get, put, web};
use common::error::Code;
use common::preferences::{self, Patch};
use serde_json::{Map, Value};

use super::types::{
    ErrorBody, PreferencesEnvelope, PreferencesPatchBody, RoomLevelAnswer, RoomLevelBody,
};
use crate::actions::preferences as actions;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// My preferences (the defaults until I change one).
#[utoipa::path(get, path = "/api/v1/me/preferences", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = PreferencesEnvelope), (status = 401, body = ErrorBody)))]
#[get("/me/preferences")]
pub async fn get(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let preferences = actions::get(&state, user.actor()).await?;
    Ok(HttpResponse::Ok().json(PreferencesEnvelope { preferences }))
}

/// Changes the preferences the body names (any subset of the keys; the
/// others keep their value) and answers all of them.
#[utoipa::path(put, path = "/api/v1/me/preferences", tag = "users", security(("bearer" = [])),
    request_body = PreferencesPatchBody,
    responses((status = 200, body = PreferencesEnvelope), (status = 401, body = ErrorBody),
              (status = 400, description = "not JSON", body = ErrorBody),
              (status = 422, description = "a value a preference does not take, or a key that is not one (`bad_preference`, `field` names it)", body = ErrorBody)))]
#[put("/me/preferences")]
pub async fn put(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let patch = Patch::parse(&body)?;
    let preferences = actions::update(&state, user.actor(), &patch).await?;
    Ok(HttpResponse::Ok().json(PreferencesEnvelope { preferences }))
}

/// Sets my notification level for a room I may read (`level: null`: back
/// to my default).
#[utoipa::path(put, path = "/api/v1/me/rooms/{id}/notifications", tag = "rooms", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the room")),
    request_body = RoomLevelBody,
    responses((status = 200, body = RoomLevelAnswer), (status = 401, body = ErrorBody),
              (status = 400, description = "not JSON", body = ErrorBody),
              (status = 404, description = "no such room, or one I may not read", body = ErrorBody),
              (status = 422, description = "not a level (`bad_preference`)", body = ErrorBody)))]
#[put("/me/rooms/{id}/notifications")]
pub async fn put_room_level(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let room_id = path.into_inner();
    if let Some(other) = body.keys().find(|k| k.as_str() != "level") {
        let field: String = other.chars().filter(|c| !c.is_control()).take(64).collect();
        let message = format!("{field} is not a field of this body");
        return Err(common::Error::invalid(field, Code::BadPreference, message).into());
    }
    let level = preferences::parse_level(body.get("level").unwrap_or(&Value::Null))?;
    actions::set_room_level(&state, user.actor(), room_id, level).await?;
    Ok(HttpResponse::Ok().json(RoomLevelAnswer { room_id, level }))
}

/// Puts a room back on my default level.
#[utoipa::path(delete, path = "/api/v1/me/rooms/{id}/notifications", tag = "rooms", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the room")),
    responses((status = 200, body = RoomLevelAnswer), (status = 401, body = ErrorBody),
              (status = 404, description = "no such room, or one I may not read", body = ErrorBody)))]
#[delete("/me/rooms/{id}/notifications")]
pub async fn delete_room_level(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let room_id = path.into_inner();
    actions::set_room_level(&state, user.actor(), room_id, None).await?;
    Ok(HttpResponse::Ok().json(RoomLevelAnswer {
        room_id,
        level: None,
    }))
}
