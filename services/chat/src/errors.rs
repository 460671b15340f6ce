//! Where the chat service's failures become answers: HTTP statuses for a
//! refused upgrade, `error` frames on an open connection.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use bytestring::ByteString;
use common::protocol::ServerFrame;

/// Why an upgrade to WebSocket is refused, before any socket opens.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("cross-site WebSocket refused: the Origin is not this site")]
    CrossOrigin,
    #[error("too many open connections for this user")]
    TooManyConnections,
    #[error("the chat service is unavailable right now")]
    Unavailable,
    #[error("{0}")]
    NotWebSocket(String),
}

impl UpgradeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::CrossOrigin => "cross_origin",
            Self::TooManyConnections => "too_many_connections",
            Self::Unavailable => "unavailable",
            Self::NotWebSocket(_) => "bad_request",
        }
    }
}

impl From<common::Error> for UpgradeError {
    fn from(e: common::Error) -> Self {
        match e {
            common::Error::Unauthenticated(m) => Self::Unauthenticated(m),
            e => {
                tracing::warn!(error = %e, "upgrade failed on a dependency");
                Self::Unavailable
            }
        }
    }
}

impl ResponseError for UpgradeError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::CrossOrigin => StatusCode::FORBIDDEN,
            Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotWebSocket(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}

/// The `error` frame for a failed request; `reference` is its nonce or room.
pub fn error_frame(e: &common::Error, reference: Option<String>) -> ByteString {
    use common::Error as C;
    let (code, message) = match e {
        C::Invalid { code, message, .. } => (*code, message.to_string()),
        C::RateLimited { .. } => ("rate_limited", e.to_string()),
        C::NotFound(_) => ("room_not_found", "there is no such room".to_owned()),
        C::Forbidden(m) | C::Unauthenticated(m) => ("forbidden", (*m).to_owned()),
        C::Conflict { message, .. } => ("bad_request", message.to_string()),
        _ => {
            tracing::warn!(error = %e, "request failed on a dependency");
            ("unavailable", "storage or broker unavailable: the message was not stored; resend it with the same nonce".into())
        }
    };
    ServerFrame::Error {
        code: code.into(),
        message,
        reference,
    }
    .to_json()
    .into()
}

/// An `error` frame for a request the protocol refuses.
pub fn protocol_error(
    code: &str,
    message: impl Into<String>,
    reference: Option<String>,
) -> ByteString {
    ServerFrame::Error {
        code: code.into(),
        message: message.into(),
        reference,
    }
    .to_json()
    .into()
}
