//! CSRF protection for forms: the signed double-submit cookie. The browser
//! holds a random secret in an HttpOnly cookie; every form carries
//! HMAC(key, secret), which a cross-site page can neither read nor compute.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookies;
use crate::error::Error;

type HmacSha256 = Hmac<Sha256>;

/// The form field every POST form carries.
pub const FIELD: &str = "csrf_token";
const COOKIE_MAX_AGE_SECS: i64 = 30 * 24 * 3600;

fn mac(key: &[u8; 32], secret: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key size"));
    mac.update(secret.as_bytes());
    mac
}

fn cookie_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(cookies::CSRF)
        .map(|c| c.value().to_owned())
        .filter(|v| (16..=128).contains(&v.len()))
}

/// The token for this browser's forms, creating its secret cookie if needed.
pub fn token(req: &HttpRequest, key: &[u8; 32], secure: bool) -> String {
    let secret = cookie_secret(req).unwrap_or_else(|| {
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        cookies::queue(
            req,
            cookies::build(
                cookies::CSRF,
                secret.clone(),
                secure,
                Some(COOKIE_MAX_AGE_SECS),
            ),
        );
        secret
    });
    URL_SAFE_NO_PAD.encode(mac(key, &secret).finalize().into_bytes())
}

/// Checks a submitted token against the cookie, in constant time.
pub fn verify(req: &HttpRequest, key: &[u8; 32], submitted: &str) -> Result<(), Error> {
    let secret = cookie_secret(req).ok_or(Error::Csrf)?;
    let tag = URL_SAFE_NO_PAD
        .decode(submitted.trim())
        .map_err(|_| Error::Csrf)?;
    mac(key, &secret)
        .verify_slice(&tag)
        .map_err(|_| Error::Csrf)
}
