//! Ed25519 token keys as configured: the website holds the signing key (a
//! 32-byte seed), chat only verifying keys (32-byte public keys), all base64.
//! Several verifying keys may be listed, so a key can be rotated without
//! logging everyone out at once; the key id (`kid`) picks one.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Secret};

/// PKCS#8 v1 DER header of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The private half: signs tokens. Only the website has one.
pub struct SigningKeyMaterial {
    pub(crate) pkcs8_der: Secret<Vec<u8>>,
    pub(crate) public: PublicKey,
    seed: Secret<[u8; 32]>,
}

/// A public key with the id that tokens signed by its private half carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub(crate) bytes: [u8; 32],
    pub(crate) kid: String,
}

fn decode_32(name: &'static str, raw: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = STANDARD
        .decode(raw.trim())
        .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim()))
        .map_err(|_| {
            ConfigError::new(name, "must be base64 (generate keys with `website keygen`)")
        })?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ConfigError::new(name, "must decode to exactly 32 bytes (an Ed25519 key)"))?;
    // A key of one repeated byte is a placeholder, not a secret.
    if key.iter().all(|b| *b == key[0]) {
        return Err(ConfigError::new(
            name,
            "is a placeholder, not a real key (generate one with `website keygen`)",
        ));
    }
    Ok(key)
}

impl PublicKey {
    fn from_bytes(name: &'static str, bytes: [u8; 32]) -> Result<Self, ConfigError> {
        VerifyingKey::from_bytes(&bytes)
            .map_err(|_| ConfigError::new(name, "is not a valid Ed25519 public key"))?;
        let digest = Sha256::digest(bytes);
        Ok(Self {
            bytes,
            kid: URL_SAFE_NO_PAD.encode(&digest[..12]),
        })
    }

    /// Parses one base64 public key.
    pub fn parse(name: &'static str, raw: &str) -> Result<Self, ConfigError> {
        Self::from_bytes(name, decode_32(name, raw)?)
    }

    /// Parses a comma-separated list, newest first.
    pub fn parse_list(name: &'static str, raw: &str) -> Result<Vec<Self>, ConfigError> {
        raw.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| Self::parse(name, s))
            .collect()
    }

    /// The key id put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key in base64, as configured.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }
}

impl SigningKeyMaterial {
    /// Parses the base64 seed and derives the matching public key.
    pub fn parse(name: &'static str, raw: &str) -> Result<Self, ConfigError> {
        Self::from_seed(name, decode_32(name, raw)?)
    }

    fn from_seed(name: &'static str, seed: [u8; 32]) -> Result<Self, ConfigError> {
        let public = PublicKey::from_bytes(
            name,
            SigningKey::from_bytes(&seed).verifying_key().to_bytes(),
        )?;
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        Ok(Self {
            pkcs8_der: Secret::new(der),
            public,
            seed: Secret::new(seed),
        })
    }

    /// A new random key pair, for `website keygen`.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut seed);
        match Self::from_seed("generated", seed) {
            Ok(key) => key,
            // A random 32-byte seed is always a valid Ed25519 key; retry on the
            // astronomically unlikely placeholder-looking one.
            Err(_) => Self::generate(),
        }
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The seed in base64, as configured.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.seed.expose())
    }

    /// Key material for other secrets the holder of the signing key derives
    /// (for example the CSRF HMAC key), separated by `purpose`.
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"parley derive v1\0");
        h.update(purpose.as_bytes());
        h.update([0]);
        h.update(self.seed.expose());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_base64() {
        let key = SigningKeyMaterial::generate();
        let again = SigningKeyMaterial::parse("K", &key.to_base64()).map_err(|e| e.to_string());
        assert_eq!(again.map(|k| k.public().clone()), Ok(key.public().clone()));
        let public = PublicKey::parse("P", &key.public().to_base64()).map_err(|e| e.to_string());
        assert_eq!(public, Ok(key.public().clone()));
        assert_ne!(key.derive_secret("a"), key.derive_secret("b"));
    }

    #[test]
    fn weak_or_malformed_keys_are_refused() {
        let zeros = STANDARD.encode([0u8; 32]);
        assert!(SigningKeyMaterial::parse("K", &zeros).is_err());
        assert!(SigningKeyMaterial::parse("K", "not base64!").is_err());
        assert!(SigningKeyMaterial::parse("K", &STANDARD.encode([1u8, 2, 3])).is_err());
        let message = PublicKey::parse("TOKEN_VERIFYING_KEY", "abc")
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.contains("TOKEN_VERIFYING_KEY")));
    }
}
