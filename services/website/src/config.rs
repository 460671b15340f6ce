//! The website's configuration: the shared settings plus the token signing
//! key, session limits and hashing capacity. Built once in `main`.

use std::path::PathBuf;

use common::auth::keys::{PublicKey, SigningKeyMaterial};
use common::auth::password::DEFAULT_NICE;
use common::auth::token::SessionLimits;
use common::config::{self, CommonConfig, ConfigError};

/// Everything the website reads from the environment.
pub struct WebsiteConfig {
    /// The settings both services read (database, Redis, origin, address).
    pub common: CommonConfig,
    /// Signs session tokens; its public half verifies them.
    pub signing_key: SigningKeyMaterial,
    /// Earlier public keys still accepted during a key rotation.
    pub previous_verifying_keys: Vec<PublicKey>,
    /// How long a session lasts idle and at most.
    pub session_limits: SessionLimits,
    /// Password hashes running at once, and how many more may wait.
    pub hash_concurrency: usize,
    /// Hashes allowed to wait for a slot; beyond, a request is told "busy".
    pub hash_queue: usize,
    /// The nice value (0-19) of the hashing threads: sign-ins yield the
    /// cores to requests already being served.
    pub hash_nice: u8,
    /// Where `/static/*` is served from when nginx is not in front.
    pub static_dir: PathBuf,
}

impl WebsiteConfig {
    /// Reads and checks every variable; the first bad one is the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env("127.0.0.1:8081")?;
        let signing_key = SigningKeyMaterial::parse(
            "TOKEN_SIGNING_KEY",
            &config::required("TOKEN_SIGNING_KEY")?,
        )?;
        // TOKEN_VERIFYING_KEY lists the public keys in force; the one matching
        // the signing key is implied, the others are kept from a rotation.
        let previous_verifying_keys = match config::var("TOKEN_VERIFYING_KEY") {
            None => Vec::new(),
            Some(list) => PublicKey::parse_list("TOKEN_VERIFYING_KEY", &list)?
                .into_iter()
                .filter(|k| k != signing_key.public())
                .collect(),
        };
        let idle = config::seconds_or("SESSION_IDLE_SECS", 24 * 3600, 60, 30 * 24 * 3600)?;
        let absolute =
            config::seconds_or("SESSION_ABSOLUTE_SECS", 7 * 24 * 3600, 60, 30 * 24 * 3600)?;
        if absolute < idle {
            return Err(ConfigError::new(
                "SESSION_ABSOLUTE_SECS",
                "must not be shorter than SESSION_IDLE_SECS",
            ));
        }
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        let hash_concurrency = config::parsed_or("PASSWORD_HASH_CONCURRENCY", cores)?;
        if hash_concurrency == 0 {
            return Err(ConfigError::new(
                "PASSWORD_HASH_CONCURRENCY",
                "must be at least 1",
            ));
        }
        Ok(Self {
            common,
            signing_key,
            previous_verifying_keys,
            session_limits: SessionLimits { idle, absolute },
            hash_concurrency,
            hash_queue: config::parsed_or("PASSWORD_HASH_QUEUE", hash_concurrency * 8)?,
            hash_nice: match config::parsed_or("PASSWORD_HASH_NICE", DEFAULT_NICE)? {
                nice @ 0..=19 => nice,
                _ => return Err(ConfigError::new("PASSWORD_HASH_NICE", "must be 0 to 19")),
            },
            static_dir: config::var("STATIC_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))),
        })
    }
}
