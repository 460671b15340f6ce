//! The website's error type and the one place it becomes an HTTP answer:
//! JSON `{"error":{code,message}}` for the API, an HTML page for pages.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use common::error::Code;

use crate::actions::rooms::{ListError, MAX_QUERY_CHARS};
use crate::web::layout::render_error_page;
use crate::web::redirect::encode_component;

/// Everything a website handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or the infrastructure refused: mapped by its kind below.
    #[error(transparent)]
    Core(#[from] common::Error),
    /// Malformed request: bad JSON syntax, bad query parameter.
    #[error("{message}")]
    BadRequest {
        /// The stable code clients match on.
        code: Code,
        /// What was wrong, for people.
        message: Cow<'static, str>,
    },
    /// An uploaded file refused: too large (413), of a type that lies or
    /// is not taken (415), broken, a bomb, too long or too many (422).
    #[error("{message}")]
    File {
        /// `file_too_large`, `file_type`, `file_invalid`, `file_name` or
        /// `too_many_files`.
        code: Code,
        /// What was wrong and what to do, for people.
        message: String,
    },
    /// A body over the limit (413).
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A body of another type than the one named (415).
    #[error("the request body must be {0}")]
    UnsupportedMediaType(&'static str),
    /// A form post without this browser's CSRF token (403).
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// A cookie-authenticated API call from another origin (403).
    #[error("cross-site request refused")]
    CrossOrigin,
    /// No route, or a path parameter that names nothing (404).
    #[error("page not found")]
    PageNotFound,
    /// A page that needs an account, visited signed out: 303 to the login page.
    #[error("sign in to continue")]
    LoginRequired {
        /// Where to come back to after signing in.
        next: String,
    },
    /// A template failed to render: our fault (500).
    #[error("rendering a page: {0}")]
    Template(#[from] askama::Error),
}

impl Error {
    /// A malformed request (400) with its stable code.
    pub fn bad_request(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The first of a form's problems, for answers that carry one (the API).
    /// Parsers never give an empty list; if one did, it would still answer.
    pub fn first_of(problems: Vec<common::Error>) -> Self {
        let first = problems.into_iter().next();
        Self::Core(first.unwrap_or(common::Error::internal(
            "a form was refused without a problem",
        )))
    }

    /// Status and stable code: the whole mapping, exhaustively.
    pub fn status_and_code(&self) -> (StatusCode, Code) {
        use common::Error as C;
        match self {
            Self::Core(e) => match e {
                C::Invalid { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
                C::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
                C::NotFound(what) => (StatusCode::NOT_FOUND, what.not_found_code()),
                C::Denied { code, .. } => (StatusCode::FORBIDDEN, *code),
                C::Gone { code, .. } => (StatusCode::GONE, *code),
                C::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, Code::Unauthenticated),
                C::Forbidden(_) => (StatusCode::FORBIDDEN, Code::Forbidden),
                C::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, Code::RateLimited),
                C::Busy => (StatusCode::SERVICE_UNAVAILABLE, Code::Busy),
                C::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable),
                C::Database(diesel::result::Error::NotFound) => {
                    (StatusCode::NOT_FOUND, Code::NotFound)
                }
                C::Database(_) | C::Redis(_) if e.is_unavailable() => {
                    (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable)
                }
                C::Database(_) | C::Redis(_) | C::Internal { .. } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal)
                }
            },
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Self::File { code, .. } => (
                match code {
                    Code::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    Code::FileType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                },
                *code,
            ),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, Code::PayloadTooLarge),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::UnsupportedMediaType,
            ),
            Self::Csrf => (StatusCode::FORBIDDEN, Code::Csrf),
            Self::CrossOrigin => (StatusCode::FORBIDDEN, Code::CrossOrigin),
            Self::PageNotFound => (StatusCode::NOT_FOUND, Code::NotFound),
            Self::LoginRequired { .. } => (StatusCode::SEE_OTHER, Code::LoginRequired),
            Self::Template(_) => (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal),
        }
    }

    /// The message shown to the user: a server fault never shows its cause.
    pub fn public_message(&self) -> String {
        let (status, _) = self.status_and_code();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            "something went wrong on our side; please try again".into()
        } else if status == StatusCode::SERVICE_UNAVAILABLE
            && !matches!(self, Self::Core(common::Error::Busy))
        {
            "the service is temporarily unavailable; please try again shortly".into()
        } else {
            self.to_string()
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Core(common::Error::RateLimited { retry_after_secs }) => Some(*retry_after_secs),
            Self::Core(common::Error::Busy) => Some(1),
            _ => None,
        }
    }

    /// Logs server-side failures once, where they become responses.
    fn log(&self) {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, code = code.as_str(), "request failed");
        }
    }
}

/// A room list's input problems are malformed requests (400), worded for
/// the API; the page words its cursor problem itself.
impl From<ListError> for Error {
    fn from(e: ListError) -> Self {
        match e {
            ListError::BadCursor => Self::bad_request(Code::BadCursor, "cursor is not valid"),
            ListError::QueryTooLong => Self::bad_request(
                Code::BadQuery,
                format!("q is at most {MAX_QUERY_CHARS} characters"),
            ),
            ListError::QueryNotText => {
                Self::bad_request(Code::BadQuery, "q may not contain control characters")
            }
            ListError::Core(e) => Self::Core(e),
        }
    }
}

/// Errors of `/api/*` handlers: answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            // The API never redirects to a login page.
            Error::LoginRequired { .. } => StatusCode::UNAUTHORIZED,
            ref e => e.status_and_code().0,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let (_, code) = self.0.status_and_code();
        let mut error = serde_json::json!({ "code": code, "message": self.0.public_message() });
        if let Error::Core(e) = &self.0
            && let Some(field) = e.field()
        {
            error["field"] = field.into();
        }
        if let Error::File { .. } = &self.0 {
            error["field"] = "file".into();
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Some(secs) = self.0.retry_after() {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status_code() == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"parley\""),
            ));
        }
        res.json(serde_json::json!({ "error": error }))
    }
}

/// Errors of page handlers: answered as an HTML page (or a redirect to log in).
#[derive(Debug)]
pub struct PageError(pub Error);

impl<E: Into<Error>> From<E> for PageError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        if let Error::LoginRequired { next } = &self.0 {
            let location = format!("/login?next={}", encode_component(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let status = self.status_code();
        let mut res = render_error_page(status, &self.0.public_message());
        if let Some(secs) = self.0.retry_after()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Result of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
/// Result of page handlers.
pub type PageResult<T> = Result<T, PageError>;

impl From<media::MediaError> for Error {
    fn from(e: media::MediaError) -> Self {
        use media::MediaError as M;
        let code = match &e {
            M::FileTooLarge { .. } => Code::FileTooLarge,
            M::TypeMismatch { .. } | M::Unsupported { .. } => Code::FileType,
            M::BadFileName(_) => Code::FileName,
            M::Io(_) | M::Internal(_) => {
                return Self::Core(common::Error::internal_from("processing an upload", e));
            }
            _ => Code::FileInvalid,
        };
        Self::File {
            code,
            message: e.to_string(),
        }
    }
}
