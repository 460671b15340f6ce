//! Zip archives made in the test: an ordinary one, a bomb of zeros,
//! one with too many entries, and a file that only looks like a zip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use media::{ArchiveLimits, MediaError, check_archive, sniff};
use zip::write::SimpleFileOptions;

fn make_zip(dir: &Path, name: &str, entries: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (entry, bytes) in entries {
        zip.start_file(*entry, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn check(path: &Path, limits: &ArchiveLimits) -> Result<(), MediaError> {
    let bytes = std::fs::read(path).unwrap();
    check_archive(
        path,
        &sniff(&bytes[..bytes.len().min(media::SNIFF_LEN)]),
        limits,
    )
}

#[test]
fn an_ordinary_archive_passes() {
    let dir = tempfile::tempdir().unwrap();
    let text: Vec<u8> = (0..50_000u32)
        .flat_map(|i| format!("line {i} of the log\n").into_bytes())
        .collect();
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let path = make_zip(
        dir.path(),
        "ok.zip",
        &[("log.txt", text), ("noise.bin", noise)],
    );
    check(&path, &ArchiveLimits::default()).unwrap();
}

#[test]
fn a_bomb_of_zeros_is_refused_by_its_ratio() {
    let dir = tempfile::tempdir().unwrap();
    // 8 MB of zeros deflates about 1000:1.
    let path = make_zip(
        dir.path(),
        "bomb.zip",
        &[("zeros", vec![0u8; 8 * 1024 * 1024])],
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 100_000);
    match check(&path, &ArchiveLimits::default()) {
        Err(e @ MediaError::ArchiveRefused { .. }) => {
            assert_eq!(e.status_hint(), 422);
            assert!(e.to_string().contains("zip bomb"), "{e}");
        }
        other => panic!("expected ArchiveRefused, got {other:?}"),
    }
}

#[test]
fn too_much_expanded_or_too_many_entries_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let noise: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let path = make_zip(dir.path(), "big.zip", &[("noise.bin", noise)]);
    let small = ArchiveLimits {
        max_expanded_bytes: 200_000,
        ..ArchiveLimits::default()
    };
    let e = check(&path, &small).unwrap_err();
    assert!(e.to_string().contains("would expand to"), "{e}");

    let many: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("f{i}.txt"), b"hi".to_vec()))
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let path = make_zip(dir.path(), "many.zip", &refs);
    let few = ArchiveLimits {
        max_entries: 20,
        ..ArchiveLimits::default()
    };
    let e = check(&path, &few).unwrap_err();
    assert!(e.to_string().contains("holds 30 files"), "{e}");
    check(&path, &ArchiveLimits::default()).unwrap();
}

#[test]
fn a_cut_off_zip_is_corrupt_and_other_files_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_zip(dir.path(), "ok.zip", &[("a.txt", b"hello".repeat(1000))]);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    match check(&cut, &ArchiveLimits::default()) {
        Err(e @ MediaError::CorruptArchive(_)) => assert_eq!(e.status_hint(), 422),
        other => panic!("expected CorruptArchive, got {other:?}"),
    }
    let pdf = dir.path().join("x.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n").unwrap();
    check(&pdf, &ArchiveLimits::default()).unwrap();
}
