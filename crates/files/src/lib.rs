//! Where attachments' bytes live. Files are named by their sha256, so the
//! same bytes uploaded twice are stored once, and a name never changes
//! meaning. The store is one small interface over `object_store`: a
//! directory on local disk by default, an S3-compatible bucket for
//! deployments that outgrow one machine (or share files between hosts).
//!
//! Which attachments exist, and who may read them, is the database's
//! (`common::store::attachments`); this crate holds bytes only. The
//! [`sweep`] deletes the bytes no attachment uses any more.

mod config;
mod error;
mod sweep;

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

pub use config::{Backend, FilesConfig};
pub use error::FilesError;
pub use sweep::{SweepReport, sweep};

/// Bytes read from a staged file per part of an upload to the store.
const CHUNK: usize = 1 << 20;

/// The blob store: content-addressed bytes, streamed in and out.
#[derive(Clone)]
pub struct Files {
    inner: Arc<dyn ObjectStore>,
    backend: &'static str,
}

/// A part of a stored file being read: the bytes of `range`, out of
/// `size` in all.
pub struct Reading {
    /// The whole file's length.
    pub size: u64,
    /// The bytes served.
    pub range: Range<u64>,
    /// Them, in chunks.
    pub stream: BoxStream<'static, Result<Bytes, FilesError>>,
}

impl Files {
    /// Opens the store `config` names (creating the local directory).
    pub fn open(config: &FilesConfig) -> Result<Self, FilesError> {
        let (inner, backend): (Arc<dyn ObjectStore>, _) = match &config.backend {
            Backend::Local { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| FilesError::Setup {
                    what: format!("creating {}", dir.display()),
                    source: Box::new(e),
                })?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| FilesError::setup("opening the files directory", e))?;
                (Arc::new(fs), "local")
            }
            Backend::S3 {
                bucket,
                endpoint,
                region,
                credentials,
            } => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some((id, secret)) = credentials {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose());
                }
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                let s3 = builder
                    .build()
                    .map_err(|e| FilesError::setup("configuring the S3 bucket", e))?;
                (Arc::new(s3), "s3")
            }
        };
        Ok(Self { inner, backend })
    }

    /// `local` or `s3`, for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Copies the file at `path` into the store under `sha256`, in parts
    /// (never the whole file in memory). Storing bytes that are there
    /// already rewrites the same bytes.
    pub async fn put_file(&self, sha256: &str, path: &FsPath) -> Result<(), FilesError> {
        let location = location(sha256)?;
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(FilesError::Staging)?;
        let upload = self.inner.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK * 5);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(FilesError::Staging(e));
                }
            };
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Stores small bytes made on the server (a thumbnail).
    pub async fn put_bytes(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        self.inner
            .put(&location(sha256)?, Bytes::from(bytes).into())
            .await?;
        Ok(())
    }

    /// Reads `range` of a stored file (all of it for `None`). The range
    /// must lie within the file: callers check it against [`Files::size`]
    /// (HTTP's 416 is theirs to answer), since stores word a bad range
    /// each their own way.
    pub async fn read(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<Reading, FilesError> {
        let location = location(sha256)?;
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self.inner.get_opts(&location, options).await?;
        let size = got.meta.size;
        let range = got.range.clone();
        let stream = got.into_stream().map_err(FilesError::from).boxed();
        Ok(Reading {
            size,
            range,
            stream,
        })
    }

    /// A stored file's length.
    pub async fn size(&self, sha256: &str) -> Result<u64, FilesError> {
        Ok(self.inner.head(&location(sha256)?).await?.size)
    }

    /// Whether the store holds `sha256`.
    pub async fn contains(&self, sha256: &str) -> Result<bool, FilesError> {
        match self.inner.head(&location(sha256)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies a stored file to `dest` on local disk, in chunks (never the
    /// whole file in memory): for the worker's decoders, which read paths.
    pub async fn copy_to(&self, sha256: &str, dest: &FsPath) -> Result<(), FilesError> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.read(sha256, None).await?.stream;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(FilesError::Staging)?;
        while let Some(chunk) = stream.try_next().await? {
            file.write_all(&chunk).await.map_err(FilesError::Staging)?;
        }
        file.flush().await.map_err(FilesError::Staging)
    }

    /// Deletes a stored file; one that is gone already is no error.
    pub async fn delete(&self, sha256: &str) -> Result<(), FilesError> {
        match self.inner.delete(&location(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Where the bytes of `sha256` live: two levels of directories by its
/// first hex digits, so no directory grows huge on local disk.
fn location(sha256: &str) -> Result<Path, FilesError> {
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(FilesError::BadName(sha256.to_owned()));
    }
    Ok(Path::from(format!(
        "{}/{}/{sha256}",
        &sha256[..2],
        &sha256[2..4]
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn local() -> (tempfile::TempDir, Files) {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::open(&FilesConfig {
            backend: Backend::Local {
                dir: dir.path().join("store"),
            },
        })
        .unwrap();
        (dir, files)
    }

    #[test]
    fn names_are_sums_only() {
        assert!(location(SHA).is_ok());
        assert!(location("../etc/passwd").is_err());
        assert!(location(&SHA.to_uppercase()).is_err());
        assert_eq!(location(SHA).unwrap().as_ref(), format!("9f/86/{SHA}"));
    }

    #[tokio::test]
    async fn a_file_goes_in_in_parts_and_comes_out_by_ranges() {
        let (dir, files) = local();
        let staged = dir.path().join("staged");
        let bytes: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&staged, &bytes).unwrap();
        files.put_file(SHA, &staged).await.unwrap();
        assert_eq!(files.size(SHA).await.unwrap(), bytes.len() as u64);
        assert!(dir.path().join("store/9f/86").join(SHA).exists());

        let part = files.read(SHA, Some(10..20)).await.unwrap();
        assert_eq!(part.size, bytes.len() as u64);
        assert_eq!(part.range, 10..20);
        let got: Vec<Bytes> = part.stream.try_collect().await.unwrap();
        assert_eq!(got.concat(), bytes[10..20]);

        let whole = files.read(SHA, None).await.unwrap();
        let got: Vec<Bytes> = whole.stream.try_collect().await.unwrap();
        assert_eq!(got.concat(), bytes);
        let copy = dir.path().join("copy");
        files.copy_to(SHA, &copy).await.unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), bytes);

        files.delete(SHA).await.unwrap();
        assert!(!files.contains(SHA).await.unwrap());
        files.delete(SHA).await.unwrap();
    }

    #[tokio::test]
    async fn a_missing_file_is_not_found() {
        let (_dir, files) = local();
        assert!(matches!(
            files.read(SHA, None).await,
            Err(FilesError::NotFound)
        ));
    }
}
