//! Where the store is, from the environment (see the README's settings).

use std::path::PathBuf;

use common::config::{self, ConfigError};

/// Which store holds the bytes.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A directory on local disk (`FILES_DIR`), shared by the website and
    /// the worker of one host.
    Local {
        /// The directory.
        dir: PathBuf,
    },
    /// An S3-compatible bucket (`FILES_S3_BUCKET`), for several hosts.
    /// Credentials are `FILES_S3_ACCESS_KEY_ID` and
    /// `FILES_S3_SECRET_ACCESS_KEY`, else the usual `AWS_*` variables (or
    /// the instance's role).
    S3 {
        /// The bucket.
        bucket: String,
        /// Another service than AWS (MinIO, Ceph, R2...): its URL.
        endpoint: Option<String>,
        /// The bucket's region.
        region: String,
        /// The key pair, when given explicitly.
        credentials: Option<(String, common::config::Secret<String>)>,
    },
}

/// The store's settings.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// Where the bytes go.
    pub backend: Backend,
}

/// The directory used when `FILES_DIR` is unset.
pub const DEFAULT_DIR: &str = ".data/files";

impl FilesConfig {
    /// `FILES_S3_BUCKET` (with `FILES_S3_ENDPOINT`, `FILES_S3_REGION`)
    /// chooses a bucket; otherwise `FILES_DIR`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let backend = match config::var("FILES_S3_BUCKET") {
            Some(bucket) => {
                let endpoint = config::var("FILES_S3_ENDPOINT");
                if let Some(e) = &endpoint
                    && !(e.starts_with("http://") || e.starts_with("https://"))
                {
                    return Err(ConfigError::new(
                        "FILES_S3_ENDPOINT",
                        "must be an http:// or https:// URL",
                    ));
                }
                let credentials = match (
                    config::var("FILES_S3_ACCESS_KEY_ID"),
                    config::var("FILES_S3_SECRET_ACCESS_KEY"),
                ) {
                    (Some(id), Some(secret)) => Some((id, common::config::Secret::new(secret))),
                    (None, None) => None,
                    _ => {
                        return Err(ConfigError::new(
                            "FILES_S3_ACCESS_KEY_ID",
                            "set both FILES_S3_ACCESS_KEY_ID and FILES_S3_SECRET_ACCESS_KEY, or neither",
                        ));
                    }
                };
                Backend::S3 {
                    bucket,
                    endpoint,
                    region: config::var("FILES_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                    credentials,
                }
            }
            None => Backend::Local {
                dir: config::var("FILES_DIR")
                    .unwrap_or_else(|| DEFAULT_DIR.into())
                    .into(),
            },
        };
        Ok(Self { backend })
    }
}
