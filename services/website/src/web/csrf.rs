//! CSRF protection for forms: the signed double-submit cookie, bound to the
//! session. The browser holds a random secret in an HttpOnly cookie; every
//! form carries HMAC(key, session id | secret), which a cross-site page can
//! neither read nor compute, and which another session (a planted cookie, a
//! sign-in since) does not accept. Each response masks the token with fresh
//! random bytes, so a compressed page (BREACH) never repeats it.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::cookies::{self, Name};
use crate::error::Error;

type HmacSha256 = Hmac<Sha256>;

/// The form field every POST form carries.
pub const FIELD: &str = "csrf_token";
/// How long a browser keeps its secret: forms rendered meanwhile still post.
const COOKIE_MAX_AGE_SECS: i64 = 30 * 24 * 3600;
/// Bytes of an HMAC-SHA-256 tag, and of the mask over it.
const TAG: usize = 32;

/// HMAC-SHA-256 of a session and secret under `key`. HMAC pads a short key
/// with zeros to the hash's 64-byte block (RFC 2104), so the padded block is
/// the same key, given to the constructor that takes exactly a block and
/// cannot fail.
fn mac(key: &[u8; 32], sid: Option<Uuid>, secret: &str) -> HmacSha256 {
    let mut block = [0u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
    match sid {
        Some(sid) => mac.update(sid.as_bytes()),
        None => mac.update(b"signed-out"),
    }
    mac.update(b"|");
    mac.update(secret.as_bytes());
    mac
}

fn cookie_secret(req: &HttpRequest, secure: bool) -> Option<String> {
    cookies::read(req, Name::Csrf, secure)
        .map(|c| c.value().to_owned())
        .filter(|v| (16..=128).contains(&v.len()))
}

fn new_secret(req: &HttpRequest, secure: bool) -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    cookies::queue(
        req,
        cookies::build(
            Name::Csrf,
            secret.clone(),
            secure,
            Some(COOKIE_MAX_AGE_SECS),
        ),
    );
    secret
}

/// A token for this browser's forms in session `sid` (`None`: signed out),
/// creating the secret cookie if needed; masked afresh on every call.
pub fn token(req: &HttpRequest, key: &[u8; 32], secure: bool, sid: Option<Uuid>) -> String {
    let secret = cookie_secret(req, secure).unwrap_or_else(|| new_secret(req, secure));
    let tag = mac(key, sid, &secret).finalize().into_bytes();
    let mut mask = [0u8; TAG];
    rand::Rng::fill(&mut rand::rng(), &mut mask);
    let mut masked = [0u8; 2 * TAG];
    masked[..TAG].copy_from_slice(&mask);
    for (i, (m, t)) in mask.iter().zip(tag.iter()).enumerate() {
        masked[TAG + i] = m ^ t;
    }
    URL_SAFE_NO_PAD.encode(masked)
}

/// Gives the browser a new secret on the response (at sign-in, registration
/// and sign-out), so tokens from before no longer post.
pub fn rotate(req: &HttpRequest, secure: bool) {
    new_secret(req, secure);
}

/// Checks a submitted token against the cookie and session, in constant
/// time.
pub fn verify(
    req: &HttpRequest,
    key: &[u8; 32],
    secure: bool,
    sid: Option<Uuid>,
    submitted: &str,
) -> Result<(), Error> {
    let secret = cookie_secret(req, secure).ok_or(Error::Csrf)?;
    let masked = URL_SAFE_NO_PAD
        .decode(submitted.trim())
        .map_err(|_| Error::Csrf)?;
    if masked.len() != 2 * TAG {
        return Err(Error::Csrf);
    }
    let (mask, hidden) = masked.split_at(TAG);
    let tag: Vec<u8> = mask.iter().zip(hidden).map(|(m, h)| m ^ h).collect();
    mac(key, sid, &secret)
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
        reference.update(b"signed-out|secret");
        assert_eq!(
            mac(&key, None, "secret").finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }

    #[test]
    fn sessions_give_different_tags() {
        let key = [7u8; 32];
        let a = mac(&key, Some(Uuid::from_u128(1)), "s")
            .finalize()
            .into_bytes();
        let b = mac(&key, Some(Uuid::from_u128(2)), "s")
            .finalize()
            .into_bytes();
        let none = mac(&key, None, "s").finalize().into_bytes();
        assert_ne!(a, b);
        assert_ne!(a, none);
    }
}
