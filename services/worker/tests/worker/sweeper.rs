//! The worker's sweeper of the file store: the bytes of a deleted
//! message's file go (and its blob row), an upload nobody sent in time goes
//! with its bytes, and bytes two attachments share stay while one of them
//! is left.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::messaging::Ask;
use common::protocol::AttachmentKind;
use common::store::{attachments, blobs};
use diesel_async::AsyncPgConnection;
use test_support::TestDb;
use test_support::store::*;

use crate::transcripts::{send_files, sha256_hex, upload};

/// Writes `bytes` to a file in `dir`; its path and sum.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    (path, sha256_hex(bytes))
}

/// Whether the blob is both registered and stored.
async fn held(conn: &mut AsyncPgConnection, files: &files::Files, sha: &str) -> (bool, bool) {
    (
        blobs::exists(conn, sha).await.unwrap(),
        files.contains(sha).await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweeper_deletes_unused_bytes_and_expired_uploads_and_keeps_shared_ones() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let ann = user(&mut conn, "ann").await;
    let room = new_room(&mut conn, "files", &ann).await;
    let mut cfg = crate::helpers::config(
        &db,
        &test_support::unique_redis_prefix(),
        Default::default(),
    );
    cfg.sweep.every = Duration::from_millis(100);
    let files = files::Files::open(&cfg.files).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (a, a_sha) = file(scratch.path(), "a.bin", b"the file of a message to delete");
    let (b, b_sha) = file(scratch.path(), "b.bin", b"an upload nobody sends");
    let (z, z_sha) = file(scratch.path(), "z.bin", b"the same bytes uploaded twice");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let worker = worker::Worker::start(&cfg, listener).await.unwrap();
    let me = author(&ann);
    let kind = AttachmentKind::File;
    let a_token = upload(&mut conn, &files, room, ann.id, kind, &a).await;
    let a_msg = send_files(&worker, &me, room, "a", &[a_token]).await;
    let b_token = upload(&mut conn, &files, room, ann.id, kind, &b).await;
    let c_token = upload(&mut conn, &files, room, ann.id, kind, &z).await;
    let c_msg = send_files(&worker, &me, room, "c", &[c_token]).await;
    let d_token = upload(&mut conn, &files, room, ann.id, kind, &z).await;
    let d_msg = send_files(&worker, &me, room, "d", std::slice::from_ref(&d_token)).await;
    // A fresh pending upload survives sweeps: only the old one expires.
    let (fresh, fresh_sha) = file(scratch.path(), "f.bin", b"an upload about to be sent");
    let fresh_token = upload(&mut conn, &files, room, ann.id, kind, &fresh).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for sha in [&a_sha, &b_sha, &z_sha, &fresh_sha] {
        assert_eq!(held(&mut conn, &files, sha).await, (true, true), "{sha}");
    }

    {
        use common::schema::attachments as t;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        diesel::update(t::table.filter(t::token.eq(&b_token)))
            .set(t::uploaded_at.eq(Utc::now() - chrono::Duration::hours(2)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for (id, nonce) in [(a_msg, "del-a"), (c_msg, "del-c")] {
        worker
            .state
            .messenger
            .apply(&me, room, nonce, Ask::Delete { id })
            .await
            .unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while held(&mut conn, &files, &a_sha).await != (false, false)
        || held(&mut conn, &files, &b_sha).await != (false, false)
    {
        assert!(Instant::now() < deadline, "the sweeper never swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        attachments::by_token(&mut conn, &b_token)
            .await
            .unwrap()
            .is_none()
    );
    // Still used by message d, and a pending upload in time.
    assert_eq!(held(&mut conn, &files, &z_sha).await, (true, true));
    assert!(
        attachments::by_token(&mut conn, &d_token)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(held(&mut conn, &files, &fresh_sha).await, (true, true));
    assert!(
        attachments::by_token(&mut conn, &fresh_token)
            .await
            .unwrap()
            .is_some()
    );
    let m = &worker.state.metrics;
    assert_eq!(m.uploads_expired.get(), 1);
    assert_eq!(m.blobs_deleted.get(), 2);
    assert_eq!(m.sweep_errors.get(), 0);

    // Once d goes too, so do the shared bytes.
    worker
        .state
        .messenger
        .apply(&me, room, "del-d", Ask::Delete { id: d_msg })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held(&mut conn, &files, &z_sha).await != (false, false) {
        assert!(
            Instant::now() < deadline,
            "the shared bytes were never swept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
}
