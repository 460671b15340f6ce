//! The one error type of the crate: each variant is a reason a person can
//! act on, worded for them, with the HTTP status it deserves
//! ([`MediaError::status_hint`]) and a stable name ([`MediaError::code`]).

/// Why an uploaded file was refused, or (the last two variants) why the
/// server failed to process a file it accepted. The messages are shown to
/// the uploader as they are: they say what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The upload is over the size limit. This crate reads files the
    /// upload handler has already bounded; the variant is here so the
    /// handler's streaming limit speaks with the same voice.
    #[error("The file is larger than the limit of {}. Send a smaller file.", human_bytes(*.max_bytes))]
    FileTooLarge {
        /// The limit in bytes.
        max_bytes: u64,
    },
    /// The file's name or the client's content type says it is one kind
    /// of file (an image, audio, a PDF) and its content is another: a
    /// renamed executable, a text file called `.png`.
    #[error(
        "The file is named or labelled as {claimed}, but its content is {actual}. Send the file as it is, without renaming it."
    )]
    TypeMismatch {
        /// What the name or the content type claimed, e.g. `audio (".webm")`.
        claimed: String,
        /// What the content is, e.g. `application/x-executable`.
        actual: String,
    },
    /// The content is a kind the operation cannot handle (an image format
    /// browsers do not show, an audio codec we cannot decode).
    #[error("This {what} format is not supported ({detail}). Send {hint}.")]
    Unsupported {
        /// "image" or "audio".
        what: &'static str,
        /// What was found.
        detail: String,
        /// What would work.
        hint: &'static str,
    },
    /// The file name is unusable once path parts and invisible characters
    /// are removed.
    #[error("The file name {0}. Rename the file and send it again.")]
    BadFileName(&'static str),
    /// The image has more pixels than the limit: decoding it would take
    /// gigabytes (a "decompression bomb", or a huge scan).
    #[error("The image is {width}×{height} pixels, more than the limit of {} megapixels. Send a smaller image.", max_pixels / 1_000_000)]
    ImageTooLarge {
        /// The width the header declares.
        width: u32,
        /// The height the header declares.
        height: u32,
        /// [`crate::ImageLimits::max_pixels`].
        max_pixels: u64,
    },
    /// The image does not decode: damaged or cut off.
    #[error("The image could not be read: it is damaged or incomplete ({0}). Send the file again.")]
    CorruptImage(String),
    /// The audio does not demux or decode to the end: damaged, cut off,
    /// or not audio at all.
    #[error(
        "The audio could not be decoded: it is damaged or incomplete ({0}). Record or send it again."
    )]
    CorruptAudio(String),
    /// A media container with no audio track in it.
    #[error("The file has no audio track. Send a recording or an audio file.")]
    NoAudioTrack,
    /// The audio plays longer than the limit.
    #[error("The recording is longer than the limit of {}. Send a shorter recording.", human_secs(*.max_secs))]
    AudioTooLong {
        /// [`crate::AudioLimits::max_secs`].
        max_secs: u32,
    },
    /// A zip archive that would expand to more than allowed, expands
    /// suspiciously well, or holds too many entries: a zip bomb, or an
    /// archive too big to be useful to anyone here.
    #[error("The archive {reason}. Send a smaller archive or the files themselves.")]
    ArchiveRefused {
        /// What is wrong, e.g. "would expand to 5.0 GB, more than the limit of 1.0 GB".
        reason: String,
    },
    /// A zip archive whose directory cannot be read.
    #[error(
        "The archive could not be read: it is damaged or incomplete ({0}). Send the file again."
    )]
    CorruptArchive(String),
    /// Reading or writing a file on the server failed (disk full, file
    /// gone): not the uploader's fault.
    #[error("The server could not read or write the file: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding on the server failed (the Opus encoder, an image encoder):
    /// not the uploader's fault.
    #[error("The server could not process the file: {0}")]
    Internal(String),
}

impl MediaError {
    /// The HTTP status this error deserves: 413 too large, 415 a type
    /// that lies or is unsupported, 422 content that is broken, too long,
    /// too big when expanded or badly named, 500 the server's own failure.
    /// The caller maps it once, where it maps its other errors.
    pub fn status_hint(&self) -> u16 {
        match self {
            Self::FileTooLarge { .. } => 413,
            Self::TypeMismatch { .. } | Self::Unsupported { .. } => 415,
            Self::BadFileName(_)
            | Self::ImageTooLarge { .. }
            | Self::CorruptImage(_)
            | Self::CorruptAudio(_)
            | Self::NoAudioTrack
            | Self::AudioTooLong { .. }
            | Self::ArchiveRefused { .. }
            | Self::CorruptArchive(_) => 422,
            Self::Io(_) | Self::Internal(_) => 500,
        }
    }

    /// A stable snake_case name for the reason, for the error body's
    /// `code` (the integrator adds these to `common::Code`); never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FileTooLarge { .. } => "file_too_large",
            Self::TypeMismatch { .. } => "type_mismatch",
            Self::Unsupported { .. } => "unsupported_media",
            Self::BadFileName(_) => "bad_file_name",
            Self::ImageTooLarge { .. } => "image_too_large",
            Self::CorruptImage(_) => "corrupt_image",
            Self::CorruptAudio(_) => "corrupt_audio",
            Self::NoAudioTrack => "no_audio_track",
            Self::AudioTooLong { .. } => "audio_too_long",
            Self::ArchiveRefused { .. } => "archive_refused",
            Self::CorruptArchive(_) => "corrupt_archive",
            Self::Io(_) | Self::Internal(_) => "internal",
        }
    }
}

/// Bytes as a person reads them: "10 MB", "1.0 GB", "512 bytes".
pub(crate) fn human_bytes(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = KB * 1024;
    const GB: u64 = MB * 1024;
    if bytes >= GB {
        format!("{:.1} GB", bytes as f64 / GB as f64)
    } else if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= KB {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Seconds as a person reads them: "5 minutes", "90 seconds", "1 minute".
fn human_secs(secs: u32) -> String {
    match secs {
        60 => "1 minute".to_owned(),
        s if s.is_multiple_of(60) => format!("{} minutes", s / 60),
        1 => "1 second".to_owned(),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences_with_the_limits_spelled_out() {
        let too_long = MediaError::AudioTooLong { max_secs: 300 };
        assert_eq!(
            too_long.to_string(),
            "The recording is longer than the limit of 5 minutes. Send a shorter recording."
        );
        assert_eq!(too_long.status_hint(), 422);
        let big = MediaError::FileTooLarge {
            max_bytes: 10 * 1024 * 1024,
        };
        assert_eq!(
            big.to_string(),
            "The file is larger than the limit of 10 MB. Send a smaller file."
        );
        assert_eq!(big.status_hint(), 413);
        let bomb = MediaError::ImageTooLarge {
            width: 100_000,
            height: 100_000,
            max_pixels: 40_000_000,
        };
        assert!(bomb.to_string().contains("100000×100000"), "{bomb}");
        assert!(bomb.to_string().contains("40 megapixels"), "{bomb}");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(1024 * 1024 * 1024), "1.0 GB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MB");
        assert_eq!(human_bytes(2048), "2 KB");
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_secs(90), "90 seconds");
        assert_eq!(human_secs(60), "1 minute");
    }
}
