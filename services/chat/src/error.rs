//! Where the chat service's failures become answers: HTTP statuses for a
//! refused upgrade, `error` frames on an open connection.

use bytes::Bytes;
use common::error::{Code, Entity};
use common::protocol::ServerFrame;
use hyper::StatusCode;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::server::{HttpResponse, with_type};

/// Why an upgrade to WebSocket is refused, before any socket opens.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// No valid token, or its session has ended: 401.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A cookie-authenticated upgrade from another site: 403.
    #[error("cross-site WebSocket refused: the Origin is not this site")]
    CrossOrigin,
    /// The user holds the maximum of connections already: 429.
    #[error("too many open connections for this user")]
    TooManyConnections,
    /// Postgres or Redis is down: 503.
    #[error("the chat service is unavailable right now")]
    Unavailable,
    /// Not a valid WebSocket handshake: 400.
    #[error("{0}")]
    NotWebSocket(String),
}

impl UpgradeError {
    /// The stable code of the refusal's JSON body.
    pub fn code(&self) -> Code {
        match self {
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::CrossOrigin => Code::CrossOrigin,
            Self::TooManyConnections => Code::TooManyConnections,
            Self::Unavailable => Code::Unavailable,
            Self::NotWebSocket(_) => Code::BadRequest,
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

impl UpgradeError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::CrossOrigin => StatusCode::FORBIDDEN,
            Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotWebSocket(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The refusal as http.md's JSON error body.
    pub fn response(&self) -> HttpResponse {
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        with_type(
            self.status(),
            "application/json",
            Bytes::from(body.to_string()),
        )
    }
}

/// The `error` frame for a failed request; `reference` is its nonce or room.
/// A user's mistake keeps its own code; a dependency being down (or a
/// database error that may pass) becomes `unavailable`, which tells the
/// client to resend; a fault of the server becomes `internal`, which does
/// not. The whole mapping, exhaustively.
pub fn error_frame(e: &common::Error, reference: Option<String>) -> Utf8Bytes {
    use common::Error as C;
    let (code, message) = match e {
        C::Invalid { code, message, .. } | C::Conflict { code, message, .. } => {
            (*code, message.to_string())
        }
        C::RateLimited { retry_after_secs } => {
            return rate_limited(e.to_string(), reference, *retry_after_secs);
        }
        C::NotFound(Entity::Room) => (Code::RoomNotFound, "there is no such room".to_owned()),
        C::NotFound(Entity::Message) => {
            (Code::MessageNotFound, "there is no such message".to_owned())
        }
        // Something else the request named does not exist: the client's mistake.
        C::NotFound(Entity::User | Entity::Resource | Entity::AssistantJob) => {
            (Code::BadRequest, e.to_string())
        }
        C::Forbidden(m) | C::Unauthenticated(m) => (Code::Forbidden, (*m).to_owned()),
        C::Denied { code, message } | C::Gone { code, message } => (*code, (*message).to_owned()),
        C::Database(_) | C::Internal { .. } if e.is_fault() => {
            tracing::error!(error = %e, "request failed on a fault of the server");
            (Code::Internal, "the server failed on this request; it was not done, and resending it will not help".into())
        }
        C::Busy | C::Unavailable { .. } | C::Database(_) | C::Redis(_) | C::Internal { .. } => {
            tracing::warn!(error = %e, "request failed on a dependency");
            (Code::Unavailable, "storage or broker unavailable: the change may not have been stored; resend it with the same nonce (it is stored once)".into())
        }
    };
    protocol_error(code, message, reference)
}

/// A `rate_limited` error frame saying when to try again.
pub fn rate_limited(
    message: String,
    reference: Option<String>,
    retry_after_secs: u64,
) -> Utf8Bytes {
    ServerFrame::Error {
        code: Code::RateLimited.into(),
        message,
        reference,
        retry_after: Some(retry_after_secs.max(1)),
    }
    .to_json()
    .into()
}

/// An `error` frame for a request the protocol refuses, or for a failure
/// whose wording depends on the request (a join that cannot be served).
pub fn protocol_error(
    code: Code,
    message: impl Into<String>,
    reference: Option<String>,
) -> Utf8Bytes {
    ServerFrame::Error {
        code: code.into(),
        message: message.into(),
        reference,
        retry_after: None,
    }
    .to_json()
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(e: common::Error) -> String {
        match serde_json::from_str::<ServerFrame>(&error_frame(&e, None)) {
            Ok(ServerFrame::Error { code, .. }) => code,
            other => panic!("not an error frame: {other:?}"),
        }
    }

    #[test]
    fn a_missing_thing_is_named_by_what_is_missing() {
        assert_eq!(
            code_of(common::Error::NotFound(Entity::Room)),
            "room_not_found"
        );
        assert_eq!(
            code_of(common::Error::NotFound(Entity::Message)),
            "message_not_found"
        );
        assert_eq!(
            code_of(common::Error::NotFound(Entity::User)),
            "bad_request"
        );
    }

    #[test]
    fn a_conflict_keeps_its_own_code() {
        let e = common::Error::conflict("name", Code::NameTaken, "A room with that name exists.");
        assert_eq!(code_of(e), "name_taken");
    }

    #[test]
    fn only_a_dependency_down_asks_for_a_resend() {
        assert_eq!(code_of(common::Error::unavailable("redis")), "unavailable");
        assert_eq!(
            code_of(common::Error::internal("an appended event is missing")),
            "internal"
        );
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        let db = |kind| common::Error::Database(D::DatabaseError(kind, Box::new(String::new())));
        assert_eq!(code_of(db(K::CheckViolation)), "internal");
        assert_eq!(code_of(db(K::ClosedConnection)), "unavailable");
        assert_eq!(code_of(db(K::Unknown)), "unavailable");
        assert_eq!(
            code_of(common::Error::invalid("body", Code::TooLong, "too long")),
            "too_long"
        );
    }
}
