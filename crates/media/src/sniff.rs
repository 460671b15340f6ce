//! What a file is, from its first bytes only (`infer`'s magic numbers plus
//! a few we add), and whether its name or the client's content type lie
//! about it. The client's name and header are never used to decide the
//! type: only to catch a lie.

use crate::MediaError;

/// How many leading bytes [`sniff`] wants: enough for every signature it
/// knows (Matroska's doctype lies within the first 256 bytes).
pub const SNIFF_LEN: usize = 8 * 1024;

/// The type of a file as its content says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The type to serve it with, e.g. `image/png`, `audio/webm`,
    /// `application/pdf`, or `application/octet-stream` when unknown.
    pub mime: &'static str,
    /// How the product treats it.
    pub kind: Kind,
    /// The usual extension, without the dot (`png`, `webm`, `bin`), for a
    /// stored file's name or a download's default name.
    pub ext: &'static str,
}

/// How the product treats a file: shown inline, played, or downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image every browser shows inline: PNG, JPEG, GIF, WebP.
    Image,
    /// A container or stream we can decode as audio (WebM/Matroska, Ogg,
    /// MP4/M4A, MP3, WAV, FLAC, AIFF, CAF, AAC). A video container counts
    /// until [`crate::probe_audio`] says there is no audio in it.
    Audio,
    /// Anything else, served only as a download: documents, archives,
    /// executables, SVG and HTML (text that could run script), images
    /// browsers do not show (TIFF, HEIF, BMP).
    File,
}

const OCTET_STREAM: Sniffed = Sniffed {
    mime: "application/octet-stream",
    kind: Kind::File,
    ext: "bin",
};

/// The type of a file from its first bytes (pass up to [`SNIFF_LEN`]; a
/// shorter head is fine for a shorter file). Unknown content, including
/// all plain text, is `application/octet-stream`.
pub fn sniff(head: &[u8]) -> Sniffed {
    if let Some(ours) = sniff_extra(head) {
        return ours;
    }
    let Some(found) = infer::get(head) else {
        return OCTET_STREAM;
    };
    let (mime, kind, ext) = match found.mime_type() {
        "image/png" => ("image/png", Kind::Image, "png"),
        "image/jpeg" => ("image/jpeg", Kind::Image, "jpg"),
        "image/gif" => ("image/gif", Kind::Image, "gif"),
        "image/webp" => ("image/webp", Kind::Image, "webp"),
        // MediaRecorder's WebM is audio unless probing finds otherwise;
        // serving it as audio/* lets the <audio> element play it.
        "video/webm" => ("audio/webm", Kind::Audio, "webm"),
        "video/x-matroska" => ("audio/x-matroska", Kind::Audio, "mka"),
        "video/mp4" | "audio/m4a" => ("audio/mp4", Kind::Audio, "m4a"),
        "audio/ogg" | "audio/opus" => ("audio/ogg", Kind::Audio, "ogg"),
        "audio/mpeg" => ("audio/mpeg", Kind::Audio, "mp3"),
        "audio/x-wav" => ("audio/wav", Kind::Audio, "wav"),
        "audio/x-flac" => ("audio/flac", Kind::Audio, "flac"),
        "audio/x-aiff" => ("audio/aiff", Kind::Audio, "aiff"),
        "audio/aac" => ("audio/aac", Kind::Audio, "aac"),
        other => (other, Kind::File, found.extension()),
    };
    Sniffed { mime, kind, ext }
}

/// Signatures `infer` misses: CAF, and MPEG audio frames without an ID3
/// tag whose header bytes are not among the three `infer` checks.
fn sniff_extra(head: &[u8]) -> Option<Sniffed> {
    if head.starts_with(b"caff") && head.len() >= 8 {
        return Some(Sniffed {
            mime: "audio/x-caf",
            kind: Kind::Audio,
            ext: "caf",
        });
    }
    // An MPEG-1/2/2.5 Layer III frame header: 11 sync bits, a valid
    // version, layer bits 01, a bitrate index neither 0 nor 15 and a valid
    // sample rate index; two such frames in a row, the second where the
    // first's length says, would be stricter, but one header plus the
    // decode that follows is enough to route it.
    if let [0xFF, b1, b2, ..] = *head {
        let sync = b1 & 0xE0 == 0xE0;
        let version_ok = (b1 >> 3) & 0b11 != 0b01;
        let layer3 = (b1 >> 1) & 0b11 == 0b01;
        let bitrate = b2 >> 4;
        let rate_ok = (b2 >> 2) & 0b11 != 0b11;
        if sync && version_ok && layer3 && bitrate != 0 && bitrate != 15 && rate_ok {
            return Some(Sniffed {
                mime: "audio/mpeg",
                kind: Kind::Audio,
                ext: "mp3",
            });
        }
    }
    None
}

/// What a name's extension or a content type claims, when it claims
/// something we can check against the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// A picture format with a magic number.
    Image,
    /// Audio or video (the same containers carry both).
    AudioVideo,
    /// A PDF document.
    Pdf,
}

impl Claim {
    fn from_ext(ext: &str) -> Option<Self> {
        match ext {
            "png" | "jpg" | "jpeg" | "jpe" | "jfif" | "gif" | "webp" | "avif" | "bmp" | "tif"
            | "tiff" | "heic" | "heif" | "ico" | "jxl" | "psd" => Some(Self::Image),
            "webm" | "weba" | "mkv" | "mka" | "ogg" | "oga" | "opus" | "mp3" | "m4a" | "mp4"
            | "m4v" | "mov" | "aac" | "wav" | "flac" | "aif" | "aiff" | "caf" | "avi" | "wmv"
            | "flv" | "mpg" | "mpeg" | "amr" => Some(Self::AudioVideo),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    fn from_mime(mime: &str) -> Option<Self> {
        // SVG is text: nothing in its bytes to check.
        if mime == "image/svg+xml" {
            None
        } else if mime.starts_with("image/") {
            Some(Self::Image)
        } else if mime.starts_with("audio/") || mime.starts_with("video/") {
            Some(Self::AudioVideo)
        } else if mime == "application/pdf" {
            Some(Self::Pdf)
        } else {
            None
        }
    }

    fn holds(self, sniffed: &Sniffed) -> bool {
        match self {
            Self::Image => sniffed.mime.starts_with("image/"),
            Self::AudioVideo => {
                sniffed.kind == Kind::Audio
                    || sniffed.mime.starts_with("audio/")
                    || sniffed.mime.starts_with("video/")
            }
            Self::Pdf => sniffed.mime == "application/pdf",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Image => "an image",
            Self::AudioVideo => "audio or video",
            Self::Pdf => "a PDF",
        }
    }
}

/// Refuses a file whose name (its extension) or the client's content type
/// claims a type we can recognise (an image, audio or video, a PDF) that
/// the content is not: an executable named `song.webm` or sent as
/// `audio/webm`. A claim of the same family passes (a PNG named `.jpg`),
/// and so do extensions and types we cannot check (`.txt`, `.svg`,
/// `application/octet-stream`). The type to use is still `sniffed`.
pub fn check_claim(
    name: &str,
    client_mime: Option<&str>,
    sniffed: &Sniffed,
) -> Result<(), MediaError> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(claim) = Claim::from_ext(&ext)
        && !claim.holds(sniffed)
    {
        return Err(MediaError::TypeMismatch {
            claimed: format!("{} (\".{ext}\")", claim.describe()),
            actual: describe_actual(sniffed),
        });
    }
    let mime = client_mime
        .and_then(|m| m.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(claim) = Claim::from_mime(&mime)
        && !claim.holds(sniffed)
    {
        return Err(MediaError::TypeMismatch {
            claimed: format!("{} ({mime})", claim.describe()),
            actual: describe_actual(sniffed),
        });
    }
    Ok(())
}

fn describe_actual(sniffed: &Sniffed) -> String {
    match sniffed.mime {
        "application/octet-stream" => "not of a type we recognise".to_owned(),
        "application/x-executable" | "application/vnd.microsoft.portable-executable" => {
            format!("a program ({})", sniffed.mime)
        }
        mime => mime.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_head() -> Vec<u8> {
        let mut head = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        head.resize(64, 0);
        head
    }

    #[test]
    fn images_browsers_show_are_images() {
        let png = sniff(&png_head());
        assert_eq!(
            (png.mime, png.kind, png.ext),
            ("image/png", Kind::Image, "png")
        );
        let jpeg = sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0");
        assert_eq!(jpeg.kind, Kind::Image);
        assert_eq!(jpeg.mime, "image/jpeg");
    }

    #[test]
    fn svg_html_pdf_zip_and_programs_are_files() {
        for head in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..],
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            b"%PDF-1.7\n",
            b"PK\x03\x04\x14\0\0\0\0\0",
            b"plain text, no magic",
        ] {
            assert_eq!(
                sniff(head).kind,
                Kind::File,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(sniff(b"%PDF-1.7\n").mime, "application/pdf");
        assert_eq!(sniff(b"plain text").mime, "application/octet-stream");
        let mut elf = b"\x7FELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert_eq!(sniff(&elf).kind, Kind::File);
        assert_eq!(sniff(&elf).mime, "application/x-executable");
    }

    #[test]
    fn mp3_frames_without_id3_are_audio() {
        // MPEG-1 Layer III with CRC (0xFFFA), which infer does not list.
        let s = sniff(&[0xFF, 0xFA, 0x90, 0x64, 0, 0, 0, 0]);
        assert_eq!((s.mime, s.kind), ("audio/mpeg", Kind::Audio));
        // A JPEG is not mistaken for one (0xFFD8: layer bits 00).
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").mime, "image/jpeg");
    }

    #[test]
    fn a_png_named_jpg_passes_but_not_as_audio() {
        let png = sniff(&png_head());
        assert!(check_claim("photo.JPG", Some("image/jpeg"), &png).is_ok());
        assert!(check_claim("notes", None, &png).is_ok());
        assert!(check_claim("weird.xyz", Some("application/octet-stream"), &png).is_ok());
        let err = match check_claim("song.webm", None, &png) {
            Err(e) => e,
            Ok(()) => panic!("a PNG named .webm passed"),
        };
        assert_eq!(err.status_hint(), 415);
        assert!(check_claim("x.png", Some("audio/webm;codecs=opus"), &png).is_err());
    }

    #[test]
    fn text_claiming_to_be_an_image_or_pdf_is_refused() {
        let text = sniff(b"hello");
        assert!(check_claim("a.png", None, &text).is_err());
        assert!(check_claim("a.pdf", None, &text).is_err());
        assert!(check_claim("a.txt", Some("image/png"), &text).is_err());
        assert!(check_claim("a.svg", Some("image/svg+xml"), &text).is_ok());
        assert!(check_claim("a.txt", Some("text/plain"), &text).is_ok());
    }
}
