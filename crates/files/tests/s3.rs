//! The store on an S3-compatible bucket, against a real server speaking
//! S3 (moto's, from PyPI, which scripts/test starts and names in
//! `TEST_S3_ENDPOINT`): the same bytes in and out as on local disk, by
//! parts and by ranges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use bytes::Bytes;
use files::{Backend, Files, FilesConfig, FilesError};
use futures_util::TryStreamExt;

/// The server, or `None` (loudly) outside scripts/test.
fn endpoint() -> Option<String> {
    let endpoint = std::env::var("TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    if endpoint.is_none() {
        eprintln!(
            "\n*** SKIPPED: TEST_S3_ENDPOINT is not set (scripts/test starts an S3 server and sets it) ***\n"
        );
    }
    endpoint
}

/// Creates `bucket` (S3's `PUT /bucket`; the test server takes any
/// signature for it).
fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_bucket_holds_files_like_the_disk() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = format!("parley-{}", std::process::id());
    create_bucket(&endpoint, &bucket);
    let files = Files::open(&FilesConfig {
        backend: Backend::S3 {
            bucket,
            endpoint: Some(endpoint),
            region: "us-east-1".into(),
            credentials: Some(("test".into(), common::config::Secret::new("test".into()))),
        },
    })
    .unwrap();
    assert_eq!(files.backend(), "s3");

    let sha = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let dir = tempfile::tempdir().unwrap();
    let staged = dir.path().join("staged");
    // More than one part of a multipart upload (5 MB each).
    let bytes: Vec<u8> = (0..(11 << 20)).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(&staged, &bytes).unwrap();
    files.put_file(sha, &staged).await.unwrap();
    assert!(files.contains(sha).await.unwrap());
    assert_eq!(files.size(sha).await.unwrap(), bytes.len() as u64);

    let part = files.read(sha, Some(1000..1100)).await.unwrap();
    assert_eq!(part.range, 1000..1100);
    let got: Vec<Bytes> = part.stream.try_collect().await.unwrap();
    assert_eq!(got.concat(), bytes[1000..1100]);
    let copy = dir.path().join("copy");
    files.copy_to(sha, &copy).await.unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);

    files.put_bytes(sha, b"small".to_vec()).await.unwrap();
    files.copy_to(sha, &copy).await.unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), b"small");
    files.delete(sha).await.unwrap();
    assert!(!files.contains(sha).await.unwrap());
    assert!(matches!(
        files.read(sha, None).await,
        Err(FilesError::NotFound)
    ));
}
