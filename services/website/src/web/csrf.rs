//! CSRF protection for forms: the signed double-submit cookie. The browser
//! holds a random secret in an HttpOnly cookie; every form carries
//! HMAC(key, secret), which a cross-site page can neither read nor compute.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookies;
use crate::error::Error;

type HmacSha256 = Hmac<Sha256>;

/// The form field every POST form carries.
pub const FIELD: &str = "csrf_token";
/// How long a browser keeps its secret: forms rendered meanwhile still post.
const COOKIE_MAX_AGE_SECS: i64 = 30 * 24 * 3600;

/// HMAC-SHA-256 of a secret under `key`. HMAC pads a short key with zeros
/// to the hash's 64-byte block (RFC 2104), so the padded block is the same
/// key, given to the constructor that takes exactly a block and cannot fail.
fn mac(key: &[u8; 32], secret: &str) -> HmacSha256 {
    let mut block = [0u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_padded_key_gives_the_same_tags_as_the_key_itself() {
        let key = [7u8; 32];
        let Ok(mut reference) = <HmacSha256 as Mac>::new_from_slice(&key) else {
            panic!("HMAC takes any key size");
        };
        reference.update(b"secret");
        assert_eq!(
            mac(&key, "secret").finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }
}
