//! Server-rendered pages: one module per page, thin handlers.

pub mod account;
pub mod home;
pub mod room;
pub mod rooms;

use actix_web::HttpResponse;
use actix_web::http::header;

/// POST -> 303 -> GET.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A redirect that also sets (or clears) a cookie, such as the session.
pub fn see_other_with_cookie(
    location: &str,
    cookie: actix_web::cookie::Cookie<'static>,
) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .cookie(cookie)
        .finish()
}
