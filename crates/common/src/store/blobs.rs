//! The `media_blobs` table: which files' bytes the blob store holds, by
//! sha256. A row lives while an attachment uses its bytes; the sweeper
//! deletes the rows nothing references and, in the same transaction, the
//! bytes. An upload registers its rows (and so holds them against the
//! sweeper) before it writes any bytes.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::{attachments, media_blobs};

/// Records that the store holds (or is about to hold) `sha256`; the same
/// bytes uploaded again are one row.
pub async fn register(conn: &mut AsyncPgConnection, sha256: &str, size: i64) -> Result<()> {
    diesel::insert_into(media_blobs::table)
        .values((media_blobs::sha256.eq(sha256), media_blobs::size.eq(size)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` rows no attachment references and returns their
/// sums: the caller deletes the bytes before it commits, so an upload of
/// the same bytes meanwhile waits for the commit and registers them anew.
pub async fn take_unreferenced(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<String>> {
    let candidates: Vec<String> = media_blobs::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            attachments::table.filter(attachments::blob.eq(media_blobs::sha256)),
        )))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            attachments::table.filter(attachments::thumb_blob.eq(media_blobs::sha256.nullable())),
        )))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            attachments::table.filter(attachments::play_blob.eq(media_blobs::sha256.nullable())),
        )))
        .select(media_blobs::sha256)
        .limit(limit)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?;
    if candidates.is_empty() {
        return Ok(candidates);
    }
    Ok(
        diesel::delete(media_blobs::table.filter(media_blobs::sha256.eq_any(&candidates)))
            .returning(media_blobs::sha256)
            .get_results(conn)
            .await?,
    )
}

/// Whether the store is meant to hold `sha256`.
pub async fn exists(conn: &mut AsyncPgConnection, sha256: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        media_blobs::table.filter(media_blobs::sha256.eq(sha256)),
    ))
    .get_result(conn)
    .await?)
}
