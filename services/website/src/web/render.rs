//! Turning templates into responses, and what every template gets.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::session::Page;
use crate::error::Error;

/// The layout's data: who is signed in, the CSRF token for the sign-out
/// form, a notice from the previous POST.
pub struct PageContext {
    pub username: Option<String>,
    pub csrf_token: String,
    pub notice: Option<&'static str>,
    /// False on error pages, which do not know who is asking.
    pub knows_user: bool,
}

impl PageContext {
    pub fn of(page: &Page) -> Self {
        Self {
            username: page.user.as_ref().map(|u| u.username.clone()),
            csrf_token: page.csrf_token.clone(),
            notice: page.notice,
            knows_user: true,
        }
    }
}

/// Problems with a submitted form, by field, shown beside each field.
#[derive(Default, Debug)]
pub struct FieldErrors {
    by_field: HashMap<&'static str, String>,
    /// A name or e-mail was taken: the form answers 409 rather than 400.
    conflict: bool,
}

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.by_field.entry(field).or_insert_with(|| message.into());
    }

    /// Records a user's mistake; returns infrastructure errors to propagate.
    pub fn absorb(&mut self, e: common::Error) -> Result<(), common::Error> {
        self.conflict |= matches!(e, common::Error::Conflict { .. });
        match e.field() {
            Some(field) => {
                self.add(field, e.to_string());
                Ok(())
            }
            None => Err(e),
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty()
    }

    /// 409 when a name is taken, 400 for any other bad input.
    pub fn status(&self) -> StatusCode {
        if self.conflict {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// Renders `template` with `status` as an HTML response.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, Error> {
    let html = template.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageContext,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// The error page for `status`; never fails (falls back to plain text).
pub fn render_error_page(status: StatusCode, message: &str) -> HttpResponse {
    let page = ErrorPage {
        ctx: PageContext {
            username: None,
            csrf_token: String::new(),
            notice: None,
            knows_user: false,
        },
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    render(status, &page).unwrap_or_else(|_| HttpResponse::build(status).body(message.to_owned()))
}
