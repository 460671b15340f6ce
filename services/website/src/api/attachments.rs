//! `POST /api/v1/rooms/{id}/attachments`: a file (or several) into a room,
//! each a pending attachment that a message then sends (`attachments` of
//! `POST /api/v1/rooms/{id}/messages`, or of a WebSocket `send`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use common::protocol::Attachment;
use serde::Serialize;
use utoipa::ToSchema;

use super::types::ErrorBody;
use crate::actions;
use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::uploads::staging;
use crate::web::auth::ApiUser;

/// `{attachment, attachments}`.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    /// The (first) file as a message will show it; send its `id`.
    pub attachment: Attachment,
    /// Every file of the request, in order (an extension of the contract:
    /// a request may carry up to `UPLOAD_MAX_FILES` parts).
    pub attachments: Vec<Attachment>,
}

/// A multipart form of one part `file` (or several, up to
/// `UPLOAD_MAX_FILES`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// One or more files.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<u8>,
}

/// Uploads files into a room where I may post. The type is found from the
/// content; images get a thumbnail and lose their metadata (EXIF
/// location); audio is decoded, measured and, when browsers play it badly,
/// converted. Unsent uploads expire after `UPLOAD_PENDING_SECS`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/attachments", tag = "messages", params(("id" = i64, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"), security(("bearer" = [])),
    responses((status = 201, body = Uploaded), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody, description = "file_too_large"),
              (status = 415, body = ErrorBody, description = "file_type"),
              (status = 422, body = ErrorBody, description = "file_invalid, file_name, too_many_files"),
              (status = 429, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[post("/rooms/{id}/attachments")]
pub async fn upload(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = multipart(&req, payload)?;
    let incoming = staging::read(body, &state.config.uploads).await?;
    let attachments =
        actions::uploads::upload(&state, user.actor(), path.into_inner(), incoming.files).await?;
    let attachment = attachments
        .first()
        .cloned()
        .ok_or_else(|| common::Error::internal("an upload stored no file"))?;
    Ok(HttpResponse::Created().json(Uploaded {
        attachment,
        attachments,
    }))
}

/// The body as multipart, or 415 when it is something else.
pub fn multipart(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<actix_multipart::Multipart, Error> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(Error::UnsupportedMediaType("multipart/form-data"));
    }
    Ok(actix_multipart::Multipart::new(req.headers(), payload))
}
