//! `/api/v1/rooms`: list and search, create, read, delete.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, NewRoomBody, RoomEnvelope, RoomJson, RoomPage};
use crate::actions;
use crate::actions::rooms::NewRoom;
use common::error::Code;

use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The list's search and paging parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Part of a room's name or topic, ignoring case.
    q: Option<String>,
    /// 1..=100, default 20.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Rooms ordered by name, optionally searched, a page at a time.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = RoomPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/rooms")]
pub async fn list(
    _user: ApiUser,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::bad_request(Code::BadLimit, "limit must be between 1 and 100").into());
    }
    let q = query.q.as_deref().unwrap_or("");
    let found = actions::rooms::list(&state, q, query.cursor.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(RoomPage {
        rooms: found.rooms.iter().map(RoomJson::from).collect(),
        next_cursor: found.next_cursor,
    }))
}

/// Creates a room owned by the caller.
#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms", request_body = NewRoomBody, security(("bearer" = [])),
    responses((status = 201, body = RoomEnvelope),
              (status = 409, description = "name taken, or room_quota: the caller owns MAX_ROOMS_PER_USER rooms", body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 429, description = "over ROOM_CREATE_LIMIT", body = ErrorBody)))]
#[post("/rooms")]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<NewRoomBody>,
) -> ApiResult<HttpResponse> {
    let new = NewRoom::parse(&body.name, &body.topic, body.visibility.as_deref())
        .map_err(Error::first_of)?;
    let view = actions::rooms::create(&state, user.actor(), &new).await?;
    let owner = common::access::Standing::member(user.actor().user_id, common::access::Role::Owner);
    Ok(HttpResponse::Created().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &owner),
    }))
}

/// One room.
#[utoipa::path(get, path = "/api/v1/rooms/{id}", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/rooms/{id}")]
pub async fn get(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let (view, standing) = actions::rooms::get(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &standing),
    }))
}

/// Deletes a room and its messages; only its owner may.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, description = "not the owner", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[delete("/rooms/{id}")]
pub async fn delete(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::rooms::delete(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Joins a public room: it appears among my rooms, with unread counts.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/membership", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[post("/rooms/{id}/membership")]
pub async fn join(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::rooms::join(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Leaves a room (its owner cannot: 409 `owner_cannot_leave`).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/membership", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[delete("/rooms/{id}/membership")]
pub async fn leave(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::rooms::leave(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
