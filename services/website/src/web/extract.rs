//! Turns extractor failures (bad JSON, bad form, bad query, bad path) into
//! our answers: JSON errors under `/api/`, error pages elsewhere. A user's
//! malformed input is never a 500.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::{HttpRequest, web};
use common::error::{Code, Entity};

use crate::error::{ApiError, Error, PageError};

/// The default of `BODY_LIMIT_BYTES`: the largest request body the website
/// reads (a message of 4,000 characters is at most 16 KB).
pub const BODY_LIMIT: usize = 64 * 1024;

fn answer(req: &HttpRequest, e: Error) -> actix_web::Error {
    if req.path().starts_with("/api/") {
        ApiError(e).into()
    } else {
        PageError(e).into()
    }
}

fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let e = match err {
        JsonPayloadError::ContentType => Error::UnsupportedMediaType("application/json"),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            Error::PayloadTooLarge
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => Error::Core(common::Error::invalid(
            "body",
            Code::InvalidBody,
            format!("the JSON body does not fit: {e}"),
        )),
        JsonPayloadError::Deserialize(e) => {
            Error::bad_request(Code::BadJson, format!("the body is not valid JSON: {e}"))
        }
        other => Error::bad_request(Code::BadBody, format!("could not read the body: {other}")),
    };
    answer(req, e)
}

fn form_error(err: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let e = match err {
        UrlencodedError::ContentType => {
            Error::UnsupportedMediaType("application/x-www-form-urlencoded")
        }
        UrlencodedError::Overflow { .. } => Error::PayloadTooLarge,
        other => Error::bad_request(Code::BadForm, format!("could not read the form: {other}")),
    };
    answer(req, e)
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    answer(
        req,
        Error::bad_request(Code::BadQuery, format!("bad query parameter: {err}")),
    )
}

fn path_error(_: PathError, req: &HttpRequest) -> actix_web::Error {
    // `/rooms/abc` names no room: not found, like any unknown path.
    let e = if req.path().starts_with("/api/") {
        Error::Core(common::Error::NotFound(Entity::Resource))
    } else {
        Error::PageNotFound
    };
    answer(req, e)
}

/// Installs the extractor configurations, reading bodies up to `body_limit`.
pub fn configure(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit)
            .error_handler(json_error),
    )
    .app_data(
        web::FormConfig::default()
            .limit(body_limit)
            .error_handler(form_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::PayloadConfig::default().limit(body_limit));
}
