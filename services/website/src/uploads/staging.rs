//! Reading a multipart body: its text fields into memory (small, bounded)
//! and each file into a staged temporary file, hashed and counted as it
//! streams, so no file is ever held whole in memory and one over the limit
//! is refused before it is all read. A refused or failed upload leaves no
//! file behind: a staged file is deleted when dropped.

use std::collections::HashMap;
use std::path::Path;

use actix_multipart::Multipart;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::UploadConfig;
use crate::error::Error;
use common::error::Code;

/// The most bytes of one text field (a message is at most 4,000
/// characters: 16 KB of UTF-8, and a little more for CRLFs).
const MAX_FIELD_BYTES: usize = 32 * 1024;
/// The most text fields read; a form has a handful.
const MAX_FIELDS: usize = 16;

/// A file as it arrived, not checked yet.
#[derive(Debug)]
pub struct Staged {
    /// The name the client gave (unsafe until `media::safe_file_name`).
    pub name: String,
    /// The type the client claimed (checked against the content).
    pub client_mime: Option<String>,
    /// Where it is; deleted on drop.
    pub path: tempfile::TempPath,
    /// Its length.
    pub size: u64,
    /// Its sha256, lower-case hex: its name in the blob store.
    pub sha256: String,
    /// Its first bytes, for sniffing.
    pub head: Vec<u8>,
}

/// A multipart form: text fields by name, and the files in order.
#[derive(Debug, Default)]
pub struct Incoming {
    /// Text fields (the last of a repeated name wins).
    pub fields: HashMap<String, String>,
    /// Files, in the order sent.
    pub files: Vec<Staged>,
}

impl Incoming {
    /// A text field, empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Reads a whole multipart body: file parts (those with a file name) to
/// staged files, at most `max_files` of at most `max_bytes` each; other
/// parts as text. An empty file input (no file chosen) is skipped.
pub async fn read(mut body: Multipart, config: &UploadConfig) -> Result<Incoming, Error> {
    let mut incoming = Incoming::default();
    while let Some(mut field) = body.try_next().await.map_err(bad_body)? {
        let (name, file_name) = match field.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_owned(),
                cd.get_filename().map(str::to_owned),
            ),
            None => (String::new(), None),
        };
        match file_name {
            Some(file_name) => {
                let client_mime = field.content_type().map(|m| m.essence_str().to_owned());
                let staged = stage(&mut field, &file_name, client_mime, config).await?;
                if staged.size == 0 && file_name.is_empty() {
                    continue;
                }
                if incoming.files.len() == config.max_files {
                    return Err(too_many(config.max_files));
                }
                incoming.files.push(staged);
            }
            None => {
                if incoming.fields.len() == MAX_FIELDS {
                    return Err(Error::bad_request(
                        Code::BadForm,
                        "the form has too many fields",
                    ));
                }
                let mut text = Vec::new();
                while let Some(chunk) = field.try_next().await.map_err(bad_body)? {
                    if text.len() + chunk.len() > MAX_FIELD_BYTES {
                        return Err(Error::bad_request(
                            Code::BadForm,
                            format!("the form field {name:?} is too long"),
                        ));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).map_err(|_| {
                    Error::bad_request(
                        Code::BadForm,
                        format!("the form field {name:?} is not UTF-8"),
                    )
                })?;
                incoming.fields.insert(name, text);
            }
        }
    }
    Ok(incoming)
}

/// The refusal of more than `max` files.
pub fn too_many(max: usize) -> Error {
    Error::File {
        code: Code::TooManyFiles,
        message: format!("At most {max} files go with one message. Send the others with another."),
    }
}

async fn stage(
    field: &mut actix_multipart::Field,
    name: &str,
    client_mime: Option<String>,
    config: &UploadConfig,
) -> Result<Staged, Error> {
    let staging = staging_file(&config.staging_dir)?;
    let (file, path) = staging.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(media::SNIFF_LEN);
    while let Some(chunk) = field.try_next().await.map_err(bad_body)? {
        size += chunk.len() as u64;
        if size > config.max_bytes {
            // `path` is dropped on return: nothing half-stored remains.
            return Err(Error::File {
                code: Code::FileTooLarge,
                message: media::MediaError::FileTooLarge {
                    max_bytes: config.max_bytes,
                }
                .to_string(),
            });
        }
        if head.len() < media::SNIFF_LEN {
            let take = (media::SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(staging_failed)?;
    }
    file.flush().await.map_err(staging_failed)?;
    Ok(Staged {
        name: name.to_owned(),
        client_mime,
        path,
        size,
        sha256: hex(&hasher.finalize()),
        head,
    })
}

fn staging_file(dir: &Path) -> Result<tempfile::NamedTempFile, Error> {
    tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(dir)
        .map_err(staging_failed)
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn staging_failed(e: std::io::Error) -> Error {
    Error::Core(common::Error::unavailable_from("staging an upload", e))
}

fn bad_body(e: actix_multipart::MultipartError) -> Error {
    Error::bad_request(Code::BadBody, format!("the upload could not be read: {e}"))
}
