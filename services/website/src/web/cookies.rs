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

/// The session token; chat reads the same cookie, so the name is shared.
pub const SESSION: &str = common::auth::token::SESSION_COOKIE;
/// The CSRF secret the form tokens are derived from.
pub const CSRF: &str = "parley_csrf";
/// A one-shot notice shown on the next page (POST -> 303 -> GET).
pub const FLASH: &str = "parley_flash";

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
    name: &'static str,
    value: String,
    secure: bool,
    max_age_secs: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
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
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
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
