//! Who is asking: the session token from `Authorization: Bearer` or the
//! session cookie, verified (signature, claims) and checked against the
//! session in the database (revocation, absolute limit). Cookie sessions get
//! a fresh token on activity, which is what makes the idle limit idle.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;
use common::auth::token::{Via, bearer};
use common::store::sessions;
use uuid::Uuid;

use super::cookies;
use crate::actions::Actor;
use crate::actions::accounts::IssuedToken;
use crate::error::{ApiError, Error};
use crate::state::AppState;

/// An authenticated request's user and session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user, as the actions take them.
    pub actor: Actor,
    /// The session the token names: what logging out revokes.
    pub sid: Uuid,
    /// How the token came, which decides the Origin check.
    pub via: Via,
    /// The user's display name as of this request (empty: none), for the
    /// page header.
    pub display_name: String,
}

/// The shared state, for extractors (handlers get it as `web::Data`).
pub(super) fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Core(common::Error::internal("AppState missing")))
}

/// The token a request presents: an `Authorization` header wins, and must
/// then be `Bearer`; else the session cookie. `Ok(None)`: no token at all.
fn presented_token(req: &HttpRequest) -> Result<Option<(String, Via)>, Error> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return match bearer(value.to_str().unwrap_or_default()) {
            Some(token) => Ok(Some((token.to_owned(), Via::Bearer))),
            None => Err(common::Error::Unauthenticated("use Authorization: Bearer <token>").into()),
        };
    }
    let secure = app_state(req)?.config.common.public_origin.is_https();
    Ok(cookies::read(req, cookies::Name::Session, secure)
        .map(|c| (c.value().to_owned(), Via::Cookie))
        .filter(|(t, _)| !t.is_empty()))
}

/// The session cookie carrying `token`, living as long as the token does.
pub fn session_cookie(state: &AppState, token: &IssuedToken) -> actix_web::cookie::Cookie<'static> {
    let max_age = (token.expires_at - Utc::now()).num_seconds();
    cookies::build(
        cookies::Name::Session,
        token.token.clone(),
        state.config.common.public_origin.is_https(),
        Some(max_age),
    )
}

/// Verifies the request's token and session, once per request (the result
/// is cached on it). `Ok(None)`: no token at all.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Option<Session>, Error> {
    if let Some(cached) = req.extensions().get::<Session>() {
        return Ok(Some(cached.clone()));
    }
    let Some((token, via)) = presented_token(req)? else {
        return Ok(None);
    };
    let claims = state.verifier.verify(&token)?;
    let user_id = claims.user_id()?;
    let mut conn = state.pool.get().await.map_err(common::Error::from)?;
    let (session, username, display_name) = sessions::find_active(&mut conn, claims.sid, user_id)
        .await?
        .ok_or(common::Error::Unauthenticated(
            "this session has ended; sign in again",
        ))?;
    if let Err(e) = sessions::seen(&mut conn, &session).await {
        tracing::warn!(error = %e, "could not record when a session was last used");
    }
    drop(conn);
    let now = Utc::now();
    let limits = state.config.session_limits;
    if via == Via::Cookie && limits.should_renew(claims.issued_at(), now) {
        let expires_at = limits.token_expiry(now, session.expires_at);
        let (token, _) = state
            .issuer
            .issue(user_id, &username, session.id, now, expires_at)?;
        cookies::queue(
            req,
            session_cookie(state, &IssuedToken { token, expires_at }),
        );
    }
    let session = Session {
        actor: Actor { user_id, username },
        sid: session.id,
        via,
        display_name,
    };
    req.extensions_mut().insert(session.clone());
    Ok(Some(session))
}

/// Cross-site protection for cookie-authenticated API calls: a state-changing
/// request must come from our own origin; any request naming a foreign origin
/// is refused.
fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    match req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or_default())
    {
        Some(origin) if state.config.common.public_origin.matches(origin) => Ok(()),
        Some(_) => Err(Error::CrossOrigin),
        None if safe => Ok(()),
        None => Err(Error::CrossOrigin),
    }
}

/// Extractor for API handlers that need a user: 401 without a valid session,
/// 403 for a cookie-authenticated call from another origin.
pub struct ApiUser(pub Session);

impl ApiUser {
    /// The user, for the action the handler calls.
    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let session =
                authenticate(&req, &state)
                    .await?
                    .ok_or(common::Error::Unauthenticated(
                        "sign in first: send Authorization: Bearer <token>",
                    ))?;
            if session.via == Via::Cookie {
                check_origin(&req, &state)?;
            }
            Ok(ApiUser(session))
        })
    }
}
