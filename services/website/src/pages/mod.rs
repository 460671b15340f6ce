//! Server-rendered pages: one module per page, thin handlers.

pub mod account;
pub mod assistant;
pub mod attachments;
pub mod catch_up;
pub mod dms;
pub mod files;
pub mod home;
pub mod invites;
pub mod message;
pub mod mood;
pub mod mood_chart;
pub mod notice;
pub mod people;
pub mod room;
pub mod rooms;
pub mod search;
pub mod settings;
pub mod users;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

use crate::error::{Error, PageError};

/// A form that carries only its CSRF token (join, leave, delete, block,
/// revoke, accept, decline, sign out).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    /// The session's CSRF token.
    pub csrf_token: String,
}

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

/// A fresh idempotency key for a form: posting the same rendered form twice
/// (a double click, a resubmitted POST) changes nothing the second time.
pub fn new_nonce() -> String {
    format!("f-{}", uuid::Uuid::new_v4().simple())
}

/// The nonce a form carried, or a fresh one for a form without (a page from
/// before nonces, a hand-made form), which then acts once.
pub fn nonce_or_new(submitted: &str) -> String {
    if submitted.is_empty() {
        new_nonce()
    } else {
        submitted.to_owned()
    }
}

/// A refused form action as its page shows it beside the field: the status
/// and the message for the user. A bad value is 400, like every page form
/// (http.md); a refusal keeps its own status (403, 404, 409, 429). A fault
/// of the server is not the user's problem: it goes on to the error page.
pub fn refusal(e: common::Error) -> Result<(StatusCode, String), PageError> {
    let error = Error::Core(e);
    let (status, _) = error.status_and_code();
    if status.is_server_error() {
        return Err(PageError(error));
    }
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    Ok((status, sentence(&error.public_message())))
}

/// `text` with a capital first letter, as a sentence on a page.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The room page at one of its messages: where a form sends the browser
/// back to after acting on it.
pub fn at_message(room_id: i64, seq: i64) -> String {
    format!("/rooms/{room_id}#m{seq}")
}
