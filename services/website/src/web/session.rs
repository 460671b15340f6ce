//! Who is asking: the session token from `Authorization: Bearer` or the
//! `parley_session` cookie, verified (signature, claims) and checked against
//! the session in the database (revocation, absolute limit). Cookie sessions
//! get a fresh token on activity, which is what makes the idle limit idle.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use common::store::sessions;
use uuid::Uuid;

use super::layout::PageContext;
use super::{cookies, csrf};
use crate::error::{ApiError, Error, PageError};
use crate::state::AppState;

/// How the token arrived; cookie-authenticated API calls get an Origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// An authenticated request's user and session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub sid: Uuid,
    pub via: Via,
}

/// A freshly issued token, for a cookie or the API login answer.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Core(common::Error::Internal("AppState missing".into())))
}

fn presented_token(req: &HttpRequest) -> Result<Option<(String, Via)>, Error> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(Some((token.trim().to_owned(), Via::Bearer)))
            }
            _ => Err(common::Error::Unauthenticated("use Authorization: Bearer <token>").into()),
        };
    }
    Ok(req
        .cookie(cookies::SESSION)
        .map(|c| (c.value().to_owned(), Via::Cookie))
        .filter(|(t, _)| !t.is_empty()))
}

/// The session cookie carrying `token`.
pub fn session_cookie(state: &AppState, token: &IssuedToken) -> actix_web::cookie::Cookie<'static> {
    let max_age = (token.expires_at - Utc::now()).num_seconds();
    cookies::build(
        cookies::SESSION,
        token.token.clone(),
        state.config.common.public_origin.is_https(),
        Some(max_age),
    )
}

/// Verifies the request's token and session. `Ok(None)`: no token at all.
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
    let (session, username) = sessions::find_active(&mut conn, claims.sid, user_id)
        .await?
        .ok_or(common::Error::Unauthenticated(
            "this session has ended; sign in again",
        ))?;
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
        user_id,
        username,
        sid: session.id,
        via,
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

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
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

/// What every page needs: the signed-in user (if any), the CSRF token for
/// its forms, and a one-shot notice from the previous POST.
pub struct Page {
    pub user: Option<Session>,
    pub csrf_token: String,
    pub notice: Option<&'static str>,
    req: HttpRequest,
}

/// Notices a POST can leave for the next page, by code.
const NOTICES: &[(&str, &str)] = &[
    ("welcome", "Welcome to Parley! Your account is ready."),
    ("signed_in", "You are signed in."),
    ("signed_out", "You are signed out."),
    ("room_deleted", "The room was deleted."),
];

impl Page {
    /// The signed-in user, or a redirect to the login page that comes back here.
    /// After a form POST it comes back to the page the form was on (a POST
    /// path cannot be visited), else to the rooms.
    pub fn require_user(&self) -> Result<&Session, PageError> {
        self.user.as_ref().ok_or_else(|| {
            let next = if self.req.method() == Method::GET {
                match self.req.query_string() {
                    "" => self.req.path().to_owned(),
                    q => format!("{}?{q}", self.req.path()),
                }
            } else {
                self.form_page().unwrap_or_else(|| "/rooms".to_owned())
            };
            PageError(Error::LoginRequired { next })
        })
    }

    /// The same-site page a form was submitted from, from `Referer`.
    fn form_page(&self) -> Option<String> {
        let state = state(&self.req).ok()?;
        let referer = self.req.headers().get(header::REFERER)?.to_str().ok()?;
        let path = referer.strip_prefix(state.config.common.public_origin.as_str())?;
        super::redirect::safe_next(path)
    }

    /// Refuses a POST whose CSRF token does not match this browser's cookie.
    pub fn verify_csrf(&self, submitted: &str) -> Result<(), PageError> {
        let state = state(&self.req)?;
        csrf::verify(&self.req, &state.csrf_key, submitted).map_err(PageError)
    }

    /// Leaves a notice for the page the browser is redirected to.
    pub fn set_notice(&self, code: &'static str) {
        let secure = state(&self.req)
            .map(|s| s.config.common.public_origin.is_https())
            .unwrap_or(true);
        cookies::queue(
            &self.req,
            cookies::build(cookies::FLASH, code.to_owned(), secure, Some(60)),
        );
    }

    pub fn request(&self) -> &HttpRequest {
        &self.req
    }

    /// What the layout shows around this page.
    pub fn context(&self) -> PageContext {
        PageContext {
            username: self.user.as_ref().map(|u| u.username.clone()),
            csrf_token: self.csrf_token.clone(),
            notice: self.notice,
            knows_user: true,
        }
    }
}

impl FromRequest for Page {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let secure = state.config.common.public_origin.is_https();
            let user = match authenticate(&req, &state).await {
                Ok(user) => user,
                // A stale or revoked cookie just means "signed out" on pages.
                Err(Error::Core(common::Error::Unauthenticated(_))) => {
                    if req.cookie(cookies::SESSION).is_some() {
                        cookies::queue(&req, cookies::removal(cookies::SESSION, secure));
                    }
                    None
                }
                Err(e) => return Err(PageError(e)),
            };
            let notice = req.cookie(cookies::FLASH).and_then(|c| {
                NOTICES
                    .iter()
                    .find(|(code, _)| *code == c.value())
                    .map(|(_, text)| *text)
            });
            if req.cookie(cookies::FLASH).is_some() {
                cookies::queue(&req, cookies::removal(cookies::FLASH, secure));
            }
            let csrf_token = csrf::token(&req, &state.csrf_key, secure);
            Ok(Page {
                user,
                csrf_token,
                notice,
                req,
            })
        })
    }
}
