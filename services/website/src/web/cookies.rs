//! Cookies that extractors decide to set (a renewed session, a new CSRF
//! cookie, a consumed flash message) are queued on the request and written
//! onto whatever response the handler produces, by one middleware.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::cell::RefCell;
use std::rc::Rc;

use actix_web::{HttpMessage, HttpRequest};

/// The website's cookies. On an https site their names carry the `__Host-`
/// prefix: browsers then accept them only from a secure origin, for
/// `Path=/` and with no `Domain`, so no subdomain can plant or shadow one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// The session token; chat reads the same cookie, so the name is shared.
    Session,
    /// The CSRF secret the form tokens are derived from.
    Csrf,
    /// A one-shot notice shown on the next page (POST -> 303 -> GET).
    Flash,
}

impl Name {
    /// The name as sent, on an https site (`secure`) or not.
    pub fn as_str(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Self::Session, secure) => common::auth::token::session_cookie(secure),
            (Self::Csrf, false) => "parley_csrf",
            (Self::Csrf, true) => "__Host-parley_csrf",
            (Self::Flash, false) => "parley_flash",
            (Self::Flash, true) => "__Host-parley_flash",
        }
    }
}

/// The request's cookie `name`, under the name this site gives it.
pub fn read(req: &HttpRequest, name: Name, secure: bool) -> Option<Cookie<'static>> {
    req.cookie(name.as_str(secure))
}

/// The queue, shared between the middleware and the request's extensions.
#[derive(Clone, Default)]
struct Pending(Rc<RefCell<Vec<Cookie<'static>>>>);

/// Queues a cookie for the response to this request.
pub fn queue(req: &HttpRequest, cookie: Cookie<'static>) {
    if let Some(pending) = req.extensions().get::<Pending>() {
        pending.0.borrow_mut().push(cookie);
    }
}

/// A cookie with Parley's attributes: `HttpOnly`, `SameSite=Lax`, `Path=/`,
/// and `Secure` when the site is served over https.
pub fn build(
    name: Name,
    value: String,
    secure: bool,
    max_age_secs: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name.as_str(secure), value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .finish();
    if let Some(secs) = max_age_secs {
        c.set_max_age(time::Duration::seconds(secs.max(0)));
    }
    c
}

/// A cookie that deletes `name` in the browser.
pub fn removal(name: Name, secure: bool) -> Cookie<'static> {
    build(name, String::new(), secure, Some(0))
}

/// Middleware: writes the queued cookies onto the response.
pub async fn apply_queued(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let pending = Pending::default();
    req.extensions_mut().insert(pending.clone());
    let mut res = next.call(req).await?;
    let cookies = pending.0.take();
    {
        for c in cookies {
            // A handler that set the same cookie itself (login, logout) wins.
            let set_by_handler = res
                .response()
                .cookies()
                .any(|existing| existing.name() == c.name());
            if !set_by_handler {
                res.response_mut()
                    .add_cookie(&c)
                    .map_err(actix_web::error::ErrorInternalServerError)?;
            }
        }
    }
    Ok(res)
}
