//! The one error type of the crate.

/// What can go wrong storing or reading bytes. None of it is the user's
/// fault: a request fails with 503 (the store is down) or 500.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A name that is not a sha256 in lower-case hex: a bug of the caller.
    #[error("not a blob name: {0:?}")]
    BadName(String),
    /// The store has no such file (swept, or never written).
    #[error("the file is not in the store")]
    NotFound,
    /// Reading the staged upload failed.
    #[error("reading the staged upload: {0}")]
    Staging(#[source] std::io::Error),
    /// The store could not be opened (configuration, directory).
    #[error("{what}: {source}")]
    Setup {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store failed (disk, network, the bucket's answer).
    #[error("the file store: {0}")]
    Store(#[source] object_store::Error),
    /// The database failed (the sweeper).
    #[error(transparent)]
    Database(#[from] common::Error),
}

impl FilesError {
    pub(crate) fn setup(what: &str, e: object_store::Error) -> Self {
        Self::Setup {
            what: what.to_owned(),
            source: Box::new(e),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for FilesError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Database(e.into())
    }
}

impl From<diesel::result::Error> for FilesError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(e.into())
    }
}

impl From<object_store::Error> for FilesError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            e => Self::Store(e),
        }
    }
}
