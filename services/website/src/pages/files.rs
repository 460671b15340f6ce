//! `GET /files/{id}/{name}`: an attachment's bytes, to whoever may read its
//! room (checked on every request; a pending upload only to its uploader),
//! with the type found from the content, `nosniff`, a sandboxing CSP, HTTP
//! ranges (players seek with them) and revalidation by ETag. Images and
//! audio show inline; every other file is a download, so an HTML or SVG
//! file never runs as a page of this site.

use std::ops::Range;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use common::error::Code;
use common::guard;
use common::protocol::AttachmentKind;
use common::store::attachments::{self, Variant};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::error::{Error, PageError};
use crate::state::AppState;
use crate::web::auth::authenticate;

/// `?as=thumb|play` picks a variant; `?download` forces a download.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    #[serde(default, rename = "as")]
    variant: Option<String>,
    #[serde(default)]
    download: Option<String>,
}

/// The policy of a served file: nothing in it may run or load anything.
const SANDBOX_CSP: &str =
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

/// A browser may keep a file this long before asking again (it then
/// revalidates by ETag, which checks access anew).
const MAX_AGE_SECS: u32 = 3600;

/// Serves an attachment (see the module doc).
#[get("/files/{token}/{name}")]
pub async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, PageError> {
    let (token, _) = path.into_inner();
    let viewer = authenticate(&req, &state).await.ok().flatten();
    let not_found = || {
        PageError(Error::Core(common::Error::NotFound(
            common::error::Entity::Resource,
        )))
    };
    let stored = {
        let mut conn = state
            .pool
            .get()
            .await
            .map_err(|e| PageError(common::Error::from(e).into()))?;
        let stored = attachments::by_token(&mut conn, &token)
            .await
            .map_err(|e| PageError(e.into()))?
            .ok_or_else(not_found)?;
        let viewer_id = viewer.as_ref().map_or(0, |s| s.actor.user_id);
        match stored.message_id {
            None if viewer_id == stored.user_id => {}
            None => return Err(not_found()),
            Some(_) => {
                if guard::readable(&mut conn, viewer_id, stored.room_id)
                    .await
                    .is_err()
                {
                    return Err(not_found());
                }
            }
        }
        stored
    };
    let variant = match query.variant.as_deref() {
        None => Variant::Original,
        Some("thumb") => Variant::Thumb,
        Some("play") => Variant::Play,
        Some(_) => {
            return Err(PageError(Error::bad_request(
                Code::BadQuery,
                "as must be thumb or play",
            )));
        }
    };
    let (blob, mime) = stored.variant(variant).map_err(|e| PageError(e.into()))?;
    let etag = format!("\"{blob}\"");
    let kind = AttachmentKind::parse(&stored.kind).unwrap_or(AttachmentKind::File);
    let inline = query.download.is_none()
        && matches!(kind, AttachmentKind::Image | AttachmentKind::Audio)
        && (mime.starts_with("image/") || mime.starts_with("audio/") || mime.starts_with("video/"));
    let mut res = HttpResponse::build(StatusCode::OK);
    res.insert_header((header::ETAG, etag.clone()))
        .insert_header((
            header::CACHE_CONTROL,
            format!("private, max-age={MAX_AGE_SECS}"),
        ))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(("Content-Security-Policy", SANDBOX_CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cross-Origin-Resource-Policy", "same-origin"));
    if if_none_match(&req, &etag) {
        return Ok(res.status(StatusCode::NOT_MODIFIED).finish());
    }
    let files = &state.uploads.files;
    let size = files.size(&blob).await.map_err(unavailable)?;
    let range = match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => None,
        Some(spec) => match parse_range(spec, size) {
            Ok(r) => r,
            Err(()) => {
                return Ok(res
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .finish());
            }
        },
    };
    let served_mime = if inline {
        mime.as_str()
    } else {
        "application/octet-stream"
    };
    res.insert_header((header::CONTENT_TYPE, served_mime.to_owned()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition(inline, &stored.name, variant),
        ));
    if size == 0 {
        return Ok(res.body(Vec::<u8>::new()));
    }
    let reading = files
        .read(&blob, range.clone())
        .await
        .map_err(unavailable)?;
    if range.is_some() {
        res.status(StatusCode::PARTIAL_CONTENT).insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                reading.range.start,
                reading.range.end - 1,
                reading.size
            ),
        ));
    }
    let length = reading.range.end - reading.range.start;
    res.no_chunking(length);
    Ok(res.streaming(
        reading.stream.map(|chunk| {
            chunk.map_err(|e| actix_web::error::ErrorServiceUnavailable(e.to_string()))
        }),
    ))
}

fn unavailable(e: files::FilesError) -> PageError {
    PageError(common::Error::unavailable_from("reading the file store", e).into())
}

fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `inline` or `attachment`, with the name in RFC 6266's two forms.
fn disposition(inline: bool, name: &str, variant: Variant) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let name = match variant {
        Variant::Thumb => format!("thumb-{name}"),
        _ => name.to_owned(),
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    let encoded = percent_encoding::utf8_percent_encode(&name, ATTR);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// One range of `Range: bytes=...` within a file of `size` bytes:
/// `Ok(None)` for what is served whole (several ranges, another unit),
/// `Err` for a range that does not overlap the file (416).
fn parse_range(spec: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(ranges) = spec.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if ranges.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = ranges.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let n: u64 = end.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        size.saturating_sub(n)..size
    } else {
        let first: u64 = start.parse().map_err(|_| ())?;
        if first >= size {
            return Err(());
        }
        let last = if end.is_empty() {
            size - 1
        } else {
            let last: u64 = end.parse().map_err(|_| ())?;
            if last < first {
                return Err(());
            }
            last.min(size - 1)
        };
        first..last + 1
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=50-5000", 100), Ok(Some(50..100)));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-3", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=x-1", 100), Err(()));
    }

    #[test]
    fn names_are_quoted_safely() {
        assert_eq!(
            disposition(false, "rapport \"final\".pdf", Variant::Original),
            "attachment; filename=\"rapport _final_.pdf\"; filename*=UTF-8''rapport%20%22final%22.pdf"
        );
        assert_eq!(
            disposition(true, "été.ogg", Variant::Original),
            "inline; filename=\"_t_.ogg\"; filename*=UTF-8''%C3%A9t%C3%A9.ogg"
        );
    }
}
