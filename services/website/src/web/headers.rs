//! Security headers on every response (http.md): a strict CSP with no inline
//! script, nosniff, a referrer policy, framing denied, no caching of pages
//! that may show private data, and HSTS when the site is https. `blob:`
//! images and media are the page's own: the composer's previews of files
//! not sent yet and of a voice message just recorded.

use actix_web::middleware::DefaultHeaders;
use common::config::PublicOrigin;

/// The header set for this deployment's origin.
pub fn security_headers(origin: &PublicOrigin) -> DefaultHeaders {
    let ws_origin = origin.as_str().replacen("http", "ws", 1);
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; \
         connect-src 'self' {ws_origin}; form-action 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'"
    );
    let mut headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", csp))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cache-Control", "no-store"));
    if origin.is_https() {
        headers = headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    headers
}
