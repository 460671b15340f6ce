//! The error type of everything in `common`: a user's mistake carries a stable
//! `code` and a message meant for that user; infrastructure failures keep their
//! cause. Each service maps it to its wire format (HTTP status, `error` frame)
//! in one place.

use std::borrow::Cow;

/// What went wrong, in terms a service can answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not fit the rules (length, characters, syntax).
    #[error("{message}")]
    Invalid {
        /// The input field it concerns, so forms can show it beside the field.
        field: &'static str,
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// A unique name or e-mail already in use.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid session: missing, malformed, forged, expired or revoked token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Not allowed, for a reason with a code of its own (`not_author`).
    #[error("{message}")]
    Denied {
        code: &'static str,
        message: &'static str,
    },
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Shedding load (for example too many password hashes at once).
    #[error("the server is busy; try again shortly")]
    Busy,
    /// A dependency (Postgres, Redis) is unreachable right now.
    #[error("a service this needs is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A validation failure of one field.
    pub fn invalid(
        field: &'static str,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            field,
            code,
            message: message.into(),
        }
    }

    /// A uniqueness conflict on one field.
    pub fn conflict(
        field: &'static str,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Conflict {
            field,
            code,
            message: message.into(),
        }
    }

    /// The field a user's mistake concerns, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The stable code of a user's mistake or a refusal, as both services
    /// answer it (an HTTP error body, an `error` frame); `None` for a
    /// failure of the server or its dependencies.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Invalid { code, .. }
            | Self::Conflict { code, .. }
            | Self::Denied { code, .. } => code,
            Self::NotFound("room") => "room_not_found",
            Self::NotFound("message") => "message_not_found",
            Self::NotFound(_) => "not_found",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            _ => return None,
        })
    }

    /// True when the cause is a dependency being down rather than a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::Busy => true,
            Self::Redis(e) => {
                e.is_connection_dropped()
                    || e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_refusal()
            }
            Self::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                _,
            )) => true,
            _ => false,
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for Error {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(format!("database pool: {e}"))
    }
}

/// Shorthand used throughout `common` and the services.
pub type Result<T, E = Error> = std::result::Result<T, E>;
