//! Session tokens: EdDSA (Ed25519) JWTs. The website issues them; both
//! services verify them with the algorithm, `typ`, issuer and audience pinned,
//! every time claim required, and 5 s of clock leeway. A token names its
//! session (`sid`): revocation is a property of the session, checked in the
//! database by the caller (see `store::sessions`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{PublicKey, SigningKeyMaterial};
use crate::error::{Error, Result};

/// Who issues tokens, and who they are for.
pub const ISSUER: &str = "parley";
/// Who tokens are for: both services, which accept each other's users.
pub const AUDIENCE: &str = "parley";
/// The only `typ` accepted in a token header.
pub const TYP: &str = "JWT";
/// Clock skew tolerated between the services, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The cookie that carries a browser's session token over http. The website
/// sets it and chat reads it on the WebSocket upgrade, so both name it from
/// here ([`session_cookie`]).
pub const SESSION_COOKIE: &str = "parley_session";

/// The session cookie's name: on an https site `__Host-` prefixed, which
/// browsers accept only from a secure origin, for `Path=/` and with no
/// `Domain`, so a sibling subdomain can neither set nor shadow it.
pub fn session_cookie(https: bool) -> &'static str {
    if https {
        "__Host-parley_session"
    } else {
        SESSION_COOKIE
    }
}

/// How a request presented its token. Both services ask, because only a
/// cookie is sent by the browser on its own: cookie-authenticated requests
/// get an Origin check that Bearer requests do not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The session cookie ([`session_cookie`]).
    Cookie,
    /// An `Authorization: Bearer <token>` header.
    Bearer,
}

/// The token of an `Authorization` header value `Bearer <token>` (scheme in
/// any case, token trimmed). `None` for any other scheme or an empty token,
/// which both services refuse rather than fall back to the cookie.
pub fn bearer(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a decimal string (JWT `sub` is a string).
    pub sub: String,
    /// The username when the token was issued, for display without a query.
    pub name: String,
    /// The session this token belongs to; logout revokes it.
    pub sid: Uuid,
    /// This token's own id.
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// The user id in `sub`.
    pub fn user_id(&self) -> Result<i64> {
        self.sub
            .parse()
            .map_err(|_| Error::Unauthenticated("invalid session token"))
    }

    /// When this token stops being accepted.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }

    /// When this token was issued.
    pub fn issued_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.iat, 0).unwrap_or_default()
    }
}

/// Signs tokens; only the website builds one.
pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
}

impl TokenIssuer {
    pub fn new(key: &SigningKeyMaterial) -> Self {
        Self {
            key: EncodingKey::from_ed_der(key.pkcs8_der.expose()),
            kid: key.public.kid.clone(),
        }
    }

    /// A token for `user_id`'s session `sid`, valid from `now` until `expires_at`.
    pub fn issue(
        &self,
        user_id: i64,
        username: &str,
        sid: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(String, Claims)> {
        let claims = Claims {
            sub: user_id.to_string(),
            name: username.to_owned(),
            sid,
            jti: Uuid::new_v4(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TYP.to_owned());
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::internal_from("signing a token", e))?;
        Ok((token, claims))
    }
}

/// Checks tokens against one or more public keys (several during a key rotation).
pub struct TokenVerifier {
    keys: Vec<(String, DecodingKey)>,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(keys: &[PublicKey]) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "jti", "sub", "iss", "aud"]);
        let keys = keys
            .iter()
            .map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.bytes)))
            .collect();
        Self { keys, validation }
    }

    /// The claims of a well-formed, correctly signed, current token. Whether
    /// its session is still open is the caller's second check.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        const INVALID: Error = Error::Unauthenticated("invalid session token");
        if token.len() > 4096 {
            return Err(INVALID);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TYP) {
            return Err(INVALID);
        }
        let kid = header.kid.ok_or(INVALID)?;
        let (_, key) = self.keys.iter().find(|(k, _)| *k == kid).ok_or(INVALID)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        Error::Unauthenticated("session expired; sign in again")
                    }
                    _ => INVALID,
                }
            })?;
        let claims = data.claims;
        // `iat` is required by the struct; a token from the future is forged or skewed.
        if claims.iat > Utc::now().timestamp() + LEEWAY_SECS as i64 {
            return Err(INVALID);
        }
        claims.user_id()?;
        Ok(claims)
    }
}

/// How long sessions last: the idle limit is each token's lifetime (a fresh
/// token is issued on activity), the absolute limit caps the session itself.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionLimits {
    /// When a token issued at `now` for a session ending at `session_end` expires.
    pub fn token_expiry(&self, now: DateTime<Utc>, session_end: DateTime<Utc>) -> DateTime<Utc> {
        let idle = chrono::Duration::from_std(self.idle).unwrap_or(chrono::Duration::zero());
        (now + idle).min(session_end)
    }

    /// Whether a token issued at `issued_at` is old enough to be replaced on
    /// activity: after a tenth of the idle limit, so busy pages do not re-sign
    /// a token on every request.
    pub fn should_renew(&self, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let tenth = chrono::Duration::from_std(self.idle / 10).unwrap_or(chrono::Duration::zero());
        now - issued_at >= tenth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn pair() -> (TokenIssuer, TokenVerifier, SigningKeyMaterial) {
        let key = SigningKeyMaterial::generate();
        (
            TokenIssuer::new(&key),
            TokenVerifier::new(&[key.public().clone()]),
            key,
        )
    }

    fn issue(issuer: &TokenIssuer, now: DateTime<Utc>, ttl: i64) -> String {
        let sid = Uuid::new_v4();
        match issuer.issue(7, "ann", sid, now, now + chrono::Duration::seconds(ttl)) {
            Ok((token, _)) => token,
            Err(e) => panic!("issue failed: {e}"),
        }
    }

    fn forge(
        claims: &serde_json::Value,
        header: &serde_json::Value,
        key: &SigningKeyMaterial,
    ) -> String {
        let mut h: Header = serde_json::from_value(header.clone()).unwrap_or_default();
        h.kid = Some(key.public().kid().to_owned());
        let enc = EncodingKey::from_ed_der(key.pkcs8_der.expose());
        jsonwebtoken::encode(&h, claims, &enc).unwrap_or_default()
    }

    #[test]
    fn a_fresh_token_verifies() {
        let (issuer, verifier, _) = pair();
        let token = issue(&issuer, Utc::now(), 60);
        let claims = verifier.verify(&token);
        assert!(
            matches!(claims, Ok(ref c) if c.sub == "7" && c.name == "ann" && c.user_id().ok() == Some(7))
        );
    }

    #[test]
    fn expired_tokens_are_refused_past_the_leeway() {
        let (issuer, verifier, _) = pair();
        let long_ago = Utc::now() - chrono::Duration::seconds(120);
        assert!(verifier.verify(&issue(&issuer, long_ago, 60)).is_err());
        // Expired 2 s ago: within the 5 s leeway.
        assert!(verifier.verify(&issue(&issuer, long_ago, 118)).is_ok());
    }

    #[test]
    fn tokens_from_another_key_are_refused() {
        let (issuer, _, _) = pair();
        let (_, other_verifier, _) = pair();
        assert!(
            other_verifier
                .verify(&issue(&issuer, Utc::now(), 60))
                .is_err()
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let (issuer, verifier, _) = pair();
        let token = issue(&issuer, Utc::now(), 60);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload =
            String::from_utf8(b64.decode(&parts[1]).unwrap_or_default()).unwrap_or_default();
        parts[1] = b64.encode(payload.replace("\"sub\":\"7\"", "\"sub\":\"1\""));
        assert!(verifier.verify(&parts.join(".")).is_err());
        assert!(verifier.verify("not.a.token").is_err());
        assert!(verifier.verify("").is_err());
    }

    #[test]
    fn missing_claims_wrong_typ_or_audience_are_refused() {
        let (_, verifier, key) = pair();
        let now = Utc::now().timestamp();
        let good = serde_json::json!({"sub":"7","name":"ann","sid":Uuid::new_v4(),"jti":Uuid::new_v4(),
            "iat":now,"nbf":now,"exp":now+60,"iss":ISSUER,"aud":AUDIENCE});
        let header = serde_json::json!({"alg":"EdDSA","typ":"JWT"});
        assert!(verifier.verify(&forge(&good, &header, &key)).is_ok());
        for claim in ["exp", "nbf", "iat", "jti", "sub", "iss", "aud", "sid"] {
            let mut c = good.clone();
            c.as_object_mut().map(|o| o.remove(claim));
            assert!(
                verifier.verify(&forge(&c, &header, &key)).is_err(),
                "missing {claim} accepted"
            );
        }
        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = "other".into();
        assert!(verifier.verify(&forge(&wrong_aud, &header, &key)).is_err());
        let mut future = good.clone();
        future["nbf"] = (now + 60).into();
        assert!(verifier.verify(&forge(&future, &header, &key)).is_err());
        let bad_typ = serde_json::json!({"alg":"EdDSA","typ":"at+jwt"});
        assert!(verifier.verify(&forge(&good, &bad_typ, &key)).is_err());
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let (issuer, verifier, _) = pair();
        let token = issue(&issuer, Utc::now(), 60);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = token.split('.').nth(1).unwrap_or_default();
        let none = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(verifier.verify(&none).is_err());
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub":"7"}),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap_or_default();
        assert!(verifier.verify(&hs).is_err());
    }

    #[test]
    fn bearer_takes_the_token_of_a_bearer_header_only() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("BEARER abc"), Some("abc"));
        for refused in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer   ",
            "Basic abc",
            "Bearerabc",
            "abc",
        ] {
            assert_eq!(bearer(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn limits_cap_token_expiry_and_pace_renewal() {
        let limits = SessionLimits {
            idle: Duration::from_secs(1000),
            absolute: Duration::from_secs(5000),
        };
        let now = Utc::now();
        let end = now + chrono::Duration::seconds(500);
        assert_eq!(limits.token_expiry(now, end), end);
        let far = now + chrono::Duration::seconds(5000);
        assert_eq!(
            limits.token_expiry(now, far),
            now + chrono::Duration::seconds(1000)
        );
        assert!(!limits.should_renew(now, now + chrono::Duration::seconds(99)));
        assert!(limits.should_renew(now, now + chrono::Duration::seconds(100)));
    }
}
