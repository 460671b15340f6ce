//! The layout every page shares (`base.html`): what it needs to know, and
//! the error page. The error page lives here, apart from the extractors and
//! the template helpers, because every error answer needs it and it must
//! render without knowing who is asking.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

/// The layout's data: who is signed in, the CSRF token for the sign-out
/// form, a notice from the previous POST. Pages get theirs from
/// `Page::context`.
pub struct PageContext {
    /// The signed-in user's name, shown in the header.
    pub username: Option<String>,
    /// For the sign-out form in the header.
    pub csrf_token: String,
    /// A one-shot notice left by the previous POST.
    pub notice: Option<&'static str>,
    /// False on error pages, which do not know who is asking.
    pub knows_user: bool,
}

/// An HTML response: every page is sent with this content type.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The error page's template.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageContext,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// The error page for `status`; never fails (falls back to plain text), so
/// an error always has an answer.
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
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => HttpResponse::build(status).body(message.to_owned()),
    }
}
