//! What the server makes of a staged file, off the async threads: its type
//! from its content (never the name or the client's word), a safe name,
//! and per kind: an image checked against bombs, cleaned of its metadata
//! (EXIF location) and thumbnailed; audio decoded to the end (proving it
//! is audio), measured, drawn as a waveform and, when browsers play it
//! badly, converted to Ogg/Opus; an archive checked against zip bombs.

use common::protocol::AttachmentKind;
use common::store::attachments::{Details, ThumbDetails};
use media::{Kind, MediaError};
use sha2::{Digest, Sha256};

use super::UploadConfig;
use super::staging::{Staged, hex};

/// Bytes to put in the blob store.
#[derive(Debug)]
pub struct Blob {
    /// Their sha256: their name in the store.
    pub sha256: String,
    /// Their length.
    pub size: u64,
    /// Where they are.
    pub source: Source,
}

/// Where a blob's bytes are before they are stored.
#[derive(Debug)]
pub enum Source {
    /// A file in the staging directory, deleted on drop.
    File(tempfile::TempPath),
    /// Bytes made on the server (a thumbnail, a cleaned image).
    Bytes(Vec<u8>),
}

/// A file ready to be stored as a pending attachment.
#[derive(Debug)]
pub struct Prepared {
    /// Image, audio or another file.
    pub kind: AttachmentKind,
    /// The safe name.
    pub name: String,
    /// The type found in the content.
    pub mime: String,
    /// The stored original.
    pub original: Blob,
    /// An image's thumbnail.
    pub thumb: Option<Blob>,
    /// Audio converted for the player.
    pub play: Option<Blob>,
    /// What the page shows.
    pub details: Details,
}

impl Prepared {
    /// Every blob it stores.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.original)
            .chain(self.thumb.as_ref())
            .chain(self.play.as_ref())
    }
}

/// Checks and processes one staged file (blocking: run it with
/// `web::block`).
pub fn prepare(staged: Staged, config: &UploadConfig) -> Result<Prepared, MediaError> {
    let sniffed = media::sniff(&staged.head);
    media::check_claim(&staged.name, staged.client_mime.as_deref(), &sniffed)?;
    let name = media::safe_file_name(&staged.name)?;
    let original = Blob {
        sha256: staged.sha256,
        size: staged.size,
        source: Source::File(staged.path),
    };
    let path = match &original.source {
        Source::File(p) => p.to_path_buf(),
        Source::Bytes(_) => {
            return Err(MediaError::Internal("a staged file without a path".into()));
        }
    };
    let file = |original| Prepared {
        kind: AttachmentKind::File,
        name: name.clone(),
        mime: sniffed.mime.to_owned(),
        original,
        thumb: None,
        play: None,
        details: Details::default(),
    };
    match sniffed.kind {
        Kind::Image => {
            let image = media::process_image(&path, &sniffed, &config.images)?;
            let original = match image.cleaned {
                Some(bytes) => bytes_blob(bytes),
                None => original,
            };
            let mut details = Details {
                width: Some(to_i32(image.width)),
                height: Some(to_i32(image.height)),
                ..Details::default()
            };
            let thumb = image.thumbnail.map(|t| {
                details.thumb = Some(ThumbDetails {
                    mime: t.mime.to_owned(),
                    width: to_i32(t.width),
                    height: to_i32(t.height),
                });
                bytes_blob(t.bytes)
            });
            Ok(Prepared {
                kind: AttachmentKind::Image,
                name,
                mime: sniffed.mime.to_owned(),
                original,
                thumb,
                play: None,
                details,
            })
        }
        Kind::Audio => {
            let info = match media::probe_audio(&path, &config.audio) {
                // A video container without sound (a screen recording) is
                // a file like any other.
                Err(MediaError::NoAudioTrack) if sniffed.mime.starts_with("video/") => {
                    return Ok(file(original));
                }
                other => other?,
            };
            if info.has_video {
                return Ok(file(original));
            }
            let (play, play_mime) = if media::needs_conversion(&sniffed) {
                let out = tempfile::Builder::new()
                    .prefix("converted-")
                    .suffix(".ogg")
                    .tempfile_in(&config.staging_dir)?
                    .into_temp_path();
                media::convert_to_ogg_opus(&path, &out, &config.audio)?;
                let (sha256, size) = sum_file(&out)?;
                let blob = Blob {
                    sha256,
                    size,
                    source: Source::File(out),
                };
                (Some(blob), Some("audio/ogg".to_owned()))
            } else {
                (None, None)
            };
            Ok(Prepared {
                kind: AttachmentKind::Audio,
                name,
                mime: sniffed.mime.to_owned(),
                original,
                thumb: None,
                play,
                details: Details {
                    play_mime,
                    duration_ms: Some(i32::try_from(info.duration_ms).unwrap_or(i32::MAX)),
                    peaks: info.peaks,
                    ..Details::default()
                },
            })
        }
        Kind::File => {
            media::check_archive(&path, &sniffed, &config.archives)?;
            Ok(file(original))
        }
    }
}

fn bytes_blob(bytes: Vec<u8>) -> Blob {
    Blob {
        sha256: hex(&Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        source: Source::Bytes(bytes),
    }
}

fn sum_file(path: &std::path::Path) -> Result<(String, u64), MediaError> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex(&hasher.finalize()), size))
}

fn to_i32(x: u32) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}
