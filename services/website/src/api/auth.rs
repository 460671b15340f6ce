//! `/api/v1/auth/*`: register, login, logout, availability.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{
    AvailabilityAnswer, ErrorBody, LoginAnswer, LoginBody, RegisterBody, UserEnvelope, UserJson,
};
use crate::actions::accounts::{self, Registration};
use common::error::Code;

use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;
use crate::web::client_ip::{client_device, client_key};

/// Creates an account (and a session, whose token the login call returns).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = UserEnvelope), (status = 409, description = "username or e-mail taken", body = ErrorBody),
              (status = 422, description = "invalid field", body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/auth/register")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> ApiResult<HttpResponse> {
    let form = Registration::parse(&body.username, &body.email, &body.password)
        .map_err(Error::first_of)?;
    let device = client_device(&req, &state.config);
    let (user, _) = accounts::register(&state, &device, &form).await?;
    Ok(HttpResponse::Created().json(UserEnvelope {
        user: UserJson::from(&user),
    }))
}

/// Exchanges a username (or e-mail) and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 401, description = "wrong credentials", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> ApiResult<HttpResponse> {
    let device = client_device(&req, &state.config);
    let (user, token) = accounts::login(&state, &device, &body.login, &body.password).await?;
    Ok(HttpResponse::Ok().json(LoginAnswer {
        token: token.token,
        token_type: "Bearer".into(),
        expires_at: token.expires_at,
        user: UserJson::from(&user),
    }))
}

/// Revokes the session of the token used: every token of it stops working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
#[post("/auth/logout")]
pub async fn logout(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    accounts::logout(&state, user.0.sid).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The names to check; at least one.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// A username to check.
    username: Option<String>,
    /// An e-mail to check.
    email: Option<String>,
}

/// Whether a username and/or e-mail is free. Rate-limited per address.
#[utoipa::path(get, path = "/api/v1/auth/available", tag = "auth", params(AvailableQuery),
    responses((status = 200, body = AvailabilityAnswer), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
#[get("/auth/available")]
pub async fn available(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AvailableQuery>,
) -> ApiResult<HttpResponse> {
    if query.username.is_none() && query.email.is_none() {
        return Err(
            Error::bad_request(Code::MissingParameter, "give username= and/or email=").into(),
        );
    }
    let ip = client_key(&req, &state.config);
    let free = accounts::availability(
        &state,
        &ip,
        query.username.as_deref(),
        query.email.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(AvailabilityAnswer {
        username: free.username,
        email: free.email,
    }))
}
