//! Uploading files into a room: each becomes a pending attachment of its
//! uploader, which a message then sends (`messages::send` with its id).

use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use common::access;
use common::error::Code;
use common::guard;
use common::protocol::Attachment;
use common::store::{attachments, blobs};
use diesel_async::AsyncConnection;

use super::Actor;
use crate::error::Error;

type Result<T> = std::result::Result<T, Error>;
use crate::state::AppState;
use crate::uploads::prepare::{self, Prepared, Source};
use crate::uploads::staging::Staged;

/// Checks, processes and stores `files` as `uploader`'s pending uploads in
/// `room_id` (where they must be allowed to post); returns them as a
/// message will show them. All or nothing: a file refused, and none is
/// kept.
pub async fn upload(
    state: &AppState,
    uploader: &Actor,
    room_id: i64,
    files: Vec<Staged>,
) -> Result<Vec<Attachment>> {
    let config = &state.config.uploads;
    if files.is_empty() {
        return Err(Error::File {
            code: Code::FileInvalid,
            message: "Choose a file to send.".into(),
        });
    }
    {
        let mut conn = state.pool.get().await.map_err(common::Error::from)?;
        guard::allowed(&mut conn, uploader.user_id, room_id, access::may_post).await?;
        let since = Utc::now()
            - chrono::Duration::from_std(config.pending_for).unwrap_or(chrono::Duration::MAX);
        let pending = attachments::pending_count(&mut conn, uploader.user_id, since).await?;
        if pending + files.len() as i64 > config.max_pending {
            return Err(Error::File {
                code: Code::TooManyFiles,
                message: format!(
                    "You have {pending} files waiting to be sent (at most {} may wait). Send or drop them first.",
                    config.max_pending
                ),
            });
        }
    }
    state
        .limiter
        .hit(&config.limit, &uploader.user_id.to_string())
        .await?;
    let mut prepared = Vec::with_capacity(files.len());
    for staged in files {
        prepared.push(process(state, staged).await?);
    }
    let mut shown = Vec::with_capacity(prepared.len());
    for p in prepared {
        shown.push(store(state, uploader, room_id, p).await?);
    }
    state.metrics.uploads_stored.inc_by(shown.len() as u64);
    Ok(shown)
}

/// Runs [`prepare::prepare`] on the blocking pool, at most
/// `UPLOAD_CONCURRENCY` at once.
async fn process(state: &AppState, staged: Staged) -> Result<Prepared> {
    let _permit = state
        .uploads
        .permits
        .acquire()
        .await
        .map_err(|e| common::Error::internal_from("the upload permits", e))?;
    let config = state.config.uploads.clone();
    web::block(move || prepare::prepare(staged, &config))
        .await
        .map_err(|e| common::Error::internal_from("processing an upload", e))?
        .map_err(Error::from)
}

/// Stores one prepared file: its rows in one transaction, then its bytes;
/// should the bytes fail, the rows go again.
async fn store(
    state: &AppState,
    uploader: &Actor,
    room_id: i64,
    p: Prepared,
) -> Result<Attachment> {
    let token = new_token();
    let new = attachments::NewAttachment {
        token: token.clone(),
        room_id,
        user_id: uploader.user_id,
        kind: p.kind,
        name: p.name.clone(),
        mime: p.mime.clone(),
        size: p.original.size as i64,
        blob: p.original.sha256.clone(),
        thumb_blob: p.thumb.as_ref().map(|b| b.sha256.clone()),
        play_blob: p.play.as_ref().map(|b| b.sha256.clone()),
        details: p.details.clone(),
    };
    let mut conn = state.pool.get().await.map_err(common::Error::from)?;
    let stored = conn
        .transaction::<_, common::Error, _>(async |conn| {
            for blob in p.blobs() {
                blobs::register(conn, &blob.sha256, blob.size as i64).await?;
            }
            attachments::insert_pending(conn, &new).await
        })
        .await?;
    for blob in p.blobs() {
        let put = match &blob.source {
            Source::File(path) => state.uploads.files.put_file(&blob.sha256, path).await,
            Source::Bytes(bytes) => {
                state
                    .uploads
                    .files
                    .put_bytes(&blob.sha256, bytes.clone())
                    .await
            }
        };
        if let Err(e) = put {
            attachments::remove_pending(&mut conn, new.room_id, &token).await?;
            return Err(common::Error::unavailable_from("storing the file", e).into());
        }
    }
    stored.shown().map_err(Error::from)
}

/// 128 random bits: an attachment's id, which cannot be guessed.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
