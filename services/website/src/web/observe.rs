//! One middleware that makes every request observable: a request id (the
//! one nginx passes in `X-Request-Id`, else a new one) on a tracing span and
//! on the response, one log line per request, and the request metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The method as a metrics label: anyone can send any method, and each new
/// label value would be a new series kept for good, so the standard ones
/// are named and everything else is `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware: span, log line, metrics, `X-Request-Id`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request.id = %id, http.method = %req.method(), http.path = %path);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status();
    // The route pattern (`/rooms/{id}`) keeps metric labels few; known only after routing.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            http.status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    if let Some(state) = state {
        state
            .metrics
            .requests
            .with_label_values(&[method, &route, status.as_str()])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[method, &route])
            .observe(elapsed.as_secs_f64());
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for name in ["PROPFIND", "BREW", "X-ANYTHING-1"] {
            let Ok(m) = Method::from_bytes(name.as_bytes()) else {
                panic!("{name}")
            };
            assert_eq!(method_label(&m), "OTHER");
        }
    }
}
