//! Images made in the test: a photo with GPS and a rotation in its EXIF,
//! a PNG whose header claims 10 gigapixels, a JPEG cut in half.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::PathBuf;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use img_parts::{Bytes, ImageEXIF};
use media::{ImageLimits, Kind, MediaError, ProcessedImage, process_image, sniff};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("writing {name}: {e}");
    }
    path
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = image.write_to(&mut Cursor::new(&mut out), format) {
        panic!("encoding {format:?}: {e}");
    }
    out
}

/// A landscape photo: red on the left half, blue on the right.
fn landscape(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    }))
}

/// A little-endian EXIF TIFF block with IFD0 {Orientation, GPS pointer}
/// and a GPS IFD holding latitude 48°51'24"N (Paris), the way phones write it.
fn exif_with_gps(orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: 2 entries.
    t.extend_from_slice(&2u16.to_le_bytes());
    // Orientation, SHORT, 1.
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    // GPSInfo pointer, LONG, 1 -> 38.
    t.extend_from_slice(&0x8825u16.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&38u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes()); // next IFD: none (ends at 38)
    // GPS IFD at 38: 2 entries, ends at 38 + 2 + 24 + 4 = 68.
    t.extend_from_slice(&2u16.to_le_bytes());
    // GPSLatitudeRef, ASCII, 2: "N\0".
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&2u32.to_le_bytes());
    t.extend_from_slice(b"N\0\0\0");
    // GPSLatitude, RATIONAL, 3 -> 68.
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&5u16.to_le_bytes());
    t.extend_from_slice(&3u32.to_le_bytes());
    t.extend_from_slice(&68u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    for (num, den) in [(48u32, 1u32), (51, 1), (24, 1)] {
        t.extend_from_slice(&num.to_le_bytes());
        t.extend_from_slice(&den.to_le_bytes());
    }
    t
}

fn process(path: &std::path::Path, limits: &ImageLimits) -> Result<ProcessedImage, MediaError> {
    let head = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    };
    let sniffed = sniff(&head[..head.len().min(media::SNIFF_LEN)]);
    process_image(path, &sniffed, limits)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn gps_is_stripped_and_the_thumbnail_is_upright() {
    let dir = tempfile::tempdir().unwrap();
    let plain = encode(&landscape(1600, 900), ImageFormat::Jpeg);
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(Bytes::from(plain)).unwrap();
    // Orientation 6: the camera was turned, show it rotated 90° clockwise.
    jpeg.set_exif(Some(Bytes::from(exif_with_gps(6))));
    let mut photo = jpeg.encoder().bytes().to_vec();
    // A comment a tool left behind, and a trailer after the image.
    photo.extend_from_slice(b"TRAILER-WITH-SECRETS");
    assert!(contains(&photo, &[48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0]));
    let path = write(&dir, "photo.jpg", &photo);

    let done = process(&path, &ImageLimits::default()).unwrap();
    // Displayed size: rotated.
    assert_eq!((done.width, done.height), (900, 1600));
    let cleaned = done.cleaned.expect("the photo had metadata");
    assert!(
        !contains(&cleaned, &[48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0]),
        "GPS latitude left"
    );
    assert!(!contains(&cleaned, b"TRAILER-WITH-SECRETS"));
    // The orientation survives alone, and the pixels are the same bytes.
    let reread = img_parts::jpeg::Jpeg::from_bytes(Bytes::from(cleaned.clone())).unwrap();
    let exif = reread.exif().expect("orientation kept");
    assert_eq!(exif.len(), 26, "only the orientation entry");
    assert_eq!(
        image::metadata::Orientation::from_exif_chunk(&exif).map(|o| o.to_exif()),
        Some(6)
    );
    let decoded_original = image::load_from_memory(&photo).unwrap();
    let decoded_cleaned = image::load_from_memory(&cleaned).unwrap();
    assert_eq!(decoded_original.as_bytes(), decoded_cleaned.as_bytes());

    // Thumbnail: portrait, red on top (the left turned clockwise), blue below.
    let thumb = done.thumbnail.expect("1600 px needs a thumbnail");
    assert_eq!(thumb.mime, "image/jpeg");
    assert_eq!((thumb.width, thumb.height), (360, 640));
    let t = image::load_from_memory(&thumb.bytes).unwrap().to_rgb8();
    assert_eq!((t.width(), t.height()), (360, 640));
    let top = t.get_pixel(180, 100);
    let bottom = t.get_pixel(180, 540);
    assert!(top[0] > 150 && top[2] < 100, "top should be red: {top:?}");
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "bottom should be blue: {bottom:?}"
    );
    assert!(!contains(&thumb.bytes, b"Exif\0\0"));
}

#[test]
fn a_small_clean_image_is_kept_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let png = encode(&landscape(300, 200), ImageFormat::Png);
    let path = write(&dir, "small.png", &png);
    let done = process(&path, &ImageLimits::default()).unwrap();
    assert_eq!((done.width, done.height), (300, 200));
    assert_eq!(done.cleaned, None);
    assert_eq!(done.thumbnail, None);
}

#[test]
fn transparent_images_get_png_thumbnails_and_lose_text_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let image = DynamicImage::ImageRgba8(RgbaImage::from_fn(1000, 1000, |x, _| {
        Rgba([0, 200, 0, if x < 500 { 0 } else { 255 }])
    }));
    let png = encode(&image, ImageFormat::Png);
    let mut parts = img_parts::png::Png::from_bytes(Bytes::from(png)).unwrap();
    let mut text = b"Comment\0".to_vec();
    text.extend_from_slice(b"taken at 48.8566 N, 2.3522 E");
    parts.chunks_mut().insert(
        1,
        img_parts::png::PngChunk::new(*b"tEXt", Bytes::from(text)),
    );
    let path = write(&dir, "glass.png", &parts.encoder().bytes());
    let done = process(&path, &ImageLimits::default()).unwrap();
    let cleaned = done.cleaned.expect("had a text chunk");
    assert!(!contains(&cleaned, b"48.8566"));
    assert!(image::load_from_memory(&cleaned).is_ok());
    let thumb = done.thumbnail.expect("1000 px");
    assert_eq!(thumb.mime, "image/png");
    assert_eq!((thumb.width, thumb.height), (640, 640));
}

#[test]
fn the_first_frame_of_an_animated_gif_is_its_thumbnail() {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let dir = tempfile::tempdir().unwrap();
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut gif);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = RgbaImage::from_pixel(800, 400, Rgba(colour));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .unwrap();
        }
    }
    let path = write(&dir, "anim.gif", &gif);
    let done = process(&path, &ImageLimits::default()).unwrap();
    assert_eq!(done.cleaned, None, "GIFs are kept as they are");
    let thumb = done.thumbnail.expect("800 px");
    let t = image::load_from_memory(&thumb.bytes).unwrap().to_rgb8();
    assert_eq!((t.width(), t.height()), (640, 320));
    assert!(t.get_pixel(10, 10)[0] > 200, "first frame is red");
}

/// A PNG signature and an IHDR for `w`×`h` RGBA with a correct CRC, one
/// tiny IDAT and IEND: a few dozen bytes that claim any size.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_png_claiming_ten_gigapixels_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "bomb.png", &png_claiming(100_000, 100_000));
    match process(&path, &ImageLimits::default()) {
        Err(
            e @ MediaError::ImageTooLarge {
                width: 100_000,
                height: 100_000,
                ..
            },
        ) => {
            assert_eq!(e.status_hint(), 422);
        }
        other => panic!(
            "expected ImageTooLarge, got {:?}",
            other.map(|p| (p.width, p.height))
        ),
    }
    // Just over the default limit (7000 × 7000 = 49 MP) is refused too.
    let path = write(&dir, "big.png", &png_claiming(7000, 7000));
    assert!(matches!(
        process(&path, &ImageLimits::default()),
        Err(MediaError::ImageTooLarge { .. })
    ));
}

#[test]
fn a_truncated_jpeg_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let noise = DynamicImage::ImageRgb8(RgbImage::from_fn(800, 600, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    }));
    let jpeg = encode(&noise, ImageFormat::Jpeg);
    let path = write(&dir, "cut.jpg", &jpeg[..jpeg.len() / 2]);
    match process(&path, &ImageLimits::default()) {
        Err(e @ MediaError::CorruptImage(_)) => assert_eq!(e.status_hint(), 422),
        other => panic!(
            "expected CorruptImage, got {:?}",
            other.map(|p| (p.width, p.height))
        ),
    }
    let png = encode(&noise, ImageFormat::Png);
    let path = write(&dir, "cut.png", &png[..png.len() / 2]);
    assert!(matches!(
        process(&path, &ImageLimits::default()),
        Err(MediaError::CorruptImage(_))
    ));
}

#[test]
fn a_non_image_is_not_processed_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "x.pdf", b"%PDF-1.7\n");
    let sniffed = sniff(b"%PDF-1.7\n");
    assert_eq!(sniffed.kind, Kind::File);
    match process_image(&path, &sniffed, &ImageLimits::default()) {
        Err(e) => assert_eq!(e.status_hint(), 415),
        Ok(p) => panic!("processed a PDF: {}x{}", p.width, p.height),
    }
}
