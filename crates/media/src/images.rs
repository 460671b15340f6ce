//! Images: refuse decompression bombs from the header, prove the image
//! decodes, make a thumbnail the right way up, and strip what a camera
//! writes about where and when (EXIF GPS, XMP, comments) from the stored
//! original without re-encoding it.

use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use img_parts::{Bytes, ImageEXIF, ImageICC};

use crate::{Kind, MediaError, Sniffed};

/// Limits on images, mapped to settings by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLimits {
    /// The most pixels (width × height from the header) an image may have:
    /// decoding costs about 4 bytes a pixel, and a 100 KB PNG can claim
    /// 100,000 × 100,000. Default 40,000,000 (a 40-megapixel photo, 160 MB
    /// decoded).
    pub max_pixels: u64,
    /// The longest side of a thumbnail, in pixels; images no larger than
    /// this get no thumbnail (the original is shown). Default 640.
    pub thumb_max_side: u32,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            thumb_max_side: 640,
        }
    }
}

/// What [`process_image`] found and made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedImage {
    /// Width as displayed (after the EXIF orientation), for the page's
    /// `width` attribute so the layout does not jump.
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// The original without its metadata, to store instead of the upload;
    /// `None` when the upload had none (store it as it is). Pixels are not
    /// re-encoded; the colour profile and the orientation tag (alone, in a
    /// new minimal EXIF block) are kept.
    pub cleaned: Option<Vec<u8>>,
    /// A smaller copy to show in the conversation; `None` when the image
    /// fits in [`ImageLimits::thumb_max_side`] already.
    pub thumbnail: Option<Thumbnail>,
}

/// A thumbnail, the right way up, without metadata (except the colour
/// profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// `image/jpeg` (opaque images, quality [`THUMB_JPEG_QUALITY`]) or
    /// `image/png` (images with transparency).
    pub mime: &'static str,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
}

/// JPEG quality of thumbnails: small files, artefacts invisible at
/// thumbnail size.
pub const THUMB_JPEG_QUALITY: u8 = 80;

/// Checks, cleans and thumbnails an uploaded image (PNG, JPEG, GIF or
/// WebP, as [`crate::sniff`] said). The pixel count is checked from the
/// header before anything is decoded, and the decoder's allocations are
/// capped as well, so a lying header cannot make it allocate more. An
/// animated GIF keeps all its frames (GIF has no EXIF); its thumbnail is
/// the first frame.
pub fn process_image(
    path: &Path,
    sniffed: &Sniffed,
    limits: &ImageLimits,
) -> Result<ProcessedImage, MediaError> {
    let format = match (sniffed.kind, sniffed.mime) {
        (Kind::Image, "image/png") => ImageFormat::Png,
        (Kind::Image, "image/jpeg") => ImageFormat::Jpeg,
        (Kind::Image, "image/gif") => ImageFormat::Gif,
        (Kind::Image, "image/webp") => ImageFormat::WebP,
        (_, mime) => {
            return Err(MediaError::Unsupported {
                what: "image",
                detail: mime.to_owned(),
                hint: "a PNG, JPEG, GIF or WebP image",
            });
        }
    };
    let bytes = std::fs::read(path)?;
    let (image, orientation, icc) = decode(&bytes, format, limits)?;
    let (width, height) = displayed(image.width(), image.height(), orientation);
    let cleaned = strip_metadata(&bytes, format, orientation)?;
    let thumbnail = if width.max(height) > limits.thumb_max_side {
        Some(thumbnail(&image, orientation, icc, limits.thumb_max_side)?)
    } else {
        None
    };
    Ok(ProcessedImage {
        width,
        height,
        cleaned,
        thumbnail,
    })
}

/// Decodes the first frame, refusing too many pixels before decoding.
fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<(DynamicImage, Orientation, Option<Vec<u8>>), MediaError> {
    // Four bytes a pixel (RGBA8) for the frame, plus room for the
    // decoder's own tables and buffers.
    let max_alloc = limits
        .max_pixels
        .saturating_mul(4)
        .saturating_add(16 * 1024 * 1024);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > limits.max_pixels || decoder.total_bytes() > max_alloc {
        return Err(MediaError::ImageTooLarge {
            width: w,
            height: h,
            max_pixels: limits.max_pixels,
        });
    }
    if w == 0 || h == 0 {
        return Err(MediaError::CorruptImage("it has no pixels".to_owned()));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // zune-jpeg fills a cut-off scan with grey rather than failing.
        return Err(MediaError::CorruptImage(
            "the JPEG data ends before the image does".to_owned(),
        ));
    }
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok((image, orientation, icc))
}

fn corrupt(e: image::ImageError) -> MediaError {
    match e {
        image::ImageError::Limits(_) => MediaError::CorruptImage(
            "decoding it would need more memory than an image of the allowed size".to_owned(),
        ),
        other => MediaError::CorruptImage(other.to_string()),
    }
}

/// Width and height once the orientation is applied.
fn displayed(w: u32, h: u32, orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}

fn thumbnail(
    image: &DynamicImage,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    side: u32,
) -> Result<Thumbnail, MediaError> {
    // Resize first (the orientation maps a side×side box onto itself),
    // so only the small copy is rotated.
    let mut small = image.thumbnail(side, side);
    small.apply_orientation(orientation);
    let transparent = small.color().has_alpha() && small.to_rgba8().pixels().any(|p| p.0[3] < 255);
    let mut out = Vec::new();
    let mime = if transparent {
        small
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| MediaError::Internal(format!("PNG thumbnail: {e}")))?;
        "image/png"
    } else {
        let rgb = DynamicImage::ImageRgb8(small.to_rgb8());
        let encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, THUMB_JPEG_QUALITY);
        rgb.write_with_encoder(encoder)
            .map_err(|e| MediaError::Internal(format!("JPEG thumbnail: {e}")))?;
        "image/jpeg"
    };
    let bytes = match icc {
        Some(icc) => with_icc(out, mime, icc)?,
        None => out,
    };
    Ok(Thumbnail {
        bytes,
        mime,
        width: small.width(),
        height: small.height(),
    })
}

/// The thumbnail with the original's colour profile, so wide-gamut photos
/// keep their colours.
fn with_icc(encoded: Vec<u8>, mime: &str, icc: Vec<u8>) -> Result<Vec<u8>, MediaError> {
    let internal = |e: img_parts::Error| MediaError::Internal(format!("thumbnail profile: {e}"));
    let encoded = Bytes::from(encoded);
    let icc = Some(Bytes::from(icc));
    let out = if mime == "image/png" {
        let mut png = img_parts::png::Png::from_bytes(encoded).map_err(internal)?;
        png.set_icc_profile(icc);
        png.encoder().bytes()
    } else {
        let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(encoded).map_err(internal)?;
        jpeg.set_icc_profile(icc);
        jpeg.encoder().bytes()
    };
    Ok(out.to_vec())
}

/// The upload without EXIF, XMP, IPTC, text chunks and comments (and,
/// for JPEG, without anything after the image: multi-picture trailers
/// carry their own EXIF), or `None` when there was nothing to remove.
fn strip_metadata(
    bytes: &[u8],
    format: ImageFormat,
    orientation: Orientation,
) -> Result<Option<Vec<u8>>, MediaError> {
    let corrupt = |e: img_parts::Error| MediaError::CorruptImage(e.to_string());
    let input = Bytes::copy_from_slice(bytes);
    let exif = (orientation != Orientation::NoTransforms)
        .then(|| Bytes::from(orientation_exif(orientation.to_exif())));
    let out = match format {
        ImageFormat::Jpeg => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(input).map_err(corrupt)?;
            let before = jpeg.segments().len();
            jpeg.segments_mut()
                .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
            let trailer = jpeg_end_in(bytes).is_some_and(|end| end < bytes.len());
            if jpeg.segments().len() == before && !trailer {
                return Ok(None);
            }
            jpeg.set_exif(exif);
            let mut out = jpeg.encoder().bytes().to_vec();
            if let Some(end) = jpeg_end_in(&out) {
                out.truncate(end);
            }
            out
        }
        ImageFormat::Png => {
            let mut png = img_parts::png::Png::from_bytes(input).map_err(corrupt)?;
            let before = png.chunks().len();
            png.chunks_mut()
                .retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME"));
            if png.chunks().len() == before {
                return Ok(None);
            }
            png.set_exif(exif);
            png.encoder().bytes().to_vec()
        }
        ImageFormat::WebP => {
            let mut webp = img_parts::webp::WebP::from_bytes(input).map_err(corrupt)?;
            let has = |w: &img_parts::webp::WebP| {
                w.has_chunk(img_parts::webp::CHUNK_EXIF) || w.has_chunk(img_parts::webp::CHUNK_XMP)
            };
            if !has(&webp) {
                return Ok(None);
            }
            webp.remove_chunks_by_id(img_parts::webp::CHUNK_XMP);
            // set_exif also fixes the VP8X flags for the removed chunks.
            webp.set_exif(exif);
            webp.encoder().bytes().to_vec()
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Which JPEG marker segments before the scan survive: JFIF (APP0), the
/// ICC profile (APP2 `ICC_PROFILE`), Adobe's colour transform (APP14) and
/// everything that is not an application segment or a comment.
fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        0xE0 | 0xEE => true,
        0xE2 => contents.starts_with(b"ICC_PROFILE\0"),
        0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
        _ => true,
    }
}

/// Whether the JPEG's entropy-coded data reaches its end-of-image marker.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    jpeg_end_in(bytes).is_some()
}

/// Where the first image of a JPEG ends (just past its EOI marker),
/// walking the markers so that bytes inside segments are not mistaken for
/// one; `None` when the data is cut off first.
fn jpeg_end_in(bytes: &[u8]) -> Option<usize> {
    let mut i = 2; // past SOI
    let mut in_scan = false;
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            if !in_scan {
                return None;
            }
            i += 1;
            continue;
        }
        let marker = bytes[i + 1];
        match marker {
            0xD9 => return Some(i + 2),
            // Stuffed byte, restart markers and fill bytes inside a scan.
            0x00 | 0xD0..=0xD7 => i += 2,
            0xFF => i += 1,
            _ => {
                let len_at = i + 2;
                let len = usize::from(u16::from_be_bytes([
                    *bytes.get(len_at)?,
                    *bytes.get(len_at + 1)?,
                ]));
                i = len_at + len;
                in_scan = marker == 0xDA;
            }
        }
    }
    None
}

/// A minimal big-endian TIFF block with one entry, the orientation, so the
/// cleaned original still shows the right way up.
fn orientation_exif(value: u8) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2A"); // big-endian TIFF
    tiff.extend_from_slice(&8u32.to_be_bytes()); // first IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&u16::from(value).to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    tiff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orientation_block_is_read_back_by_image() {
        for value in 1..=8 {
            let tiff = orientation_exif(value);
            assert_eq!(
                Orientation::from_exif_chunk(&tiff).map(Orientation::to_exif),
                Some(value)
            );
        }
    }

    #[test]
    fn jpeg_end_skips_segments_and_stuffed_bytes() {
        // SOI, COM containing FF D9, SOS, entropy with FF 00 and RST0, EOI, trailer.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, 0xFF, 0xD9, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9, 0xAA, 0xBB,
        ];
        assert_eq!(jpeg_end_in(&jpeg), Some(21));
        assert_eq!(jpeg_end_in(&jpeg[..19]), None);
    }
}
