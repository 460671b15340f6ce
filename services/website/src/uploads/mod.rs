//! The upload path: a multipart body streamed to staged files
//! ([`staging`]), each checked and processed off the async threads
//! ([`prepare`]), then stored as a pending attachment of its uploader: its
//! rows first (which hold its bytes against the sweeper), then its bytes.
//! A message claims pending attachments when it is sent.

pub mod config;
pub mod prepare;
pub mod staging;

use std::sync::Arc;

use files::Files;
use tokio::sync::Semaphore;

pub use config::UploadConfig;

/// The blob store and the work allowed at once, built once per process.
#[derive(Clone)]
pub struct Uploads {
    /// Where the bytes go (and are served from).
    pub files: Files,
    /// Files processed at once (`UPLOAD_CONCURRENCY`).
    pub permits: Arc<Semaphore>,
}

impl Uploads {
    /// The service over `files`, with `config`'s concurrency.
    pub fn new(files: Files, config: &UploadConfig) -> Self {
        Self {
            files,
            permits: Arc::new(Semaphore::new(config.concurrency)),
        }
    }
}
