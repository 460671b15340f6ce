//! The website's configuration: the shared settings plus the token signing
//! key, session limits and hashing capacity. Built once in `main`.

use std::path::PathBuf;

use common::auth::keys::{PublicKey, SigningKeyMaterial};
use common::auth::password::DEFAULT_NICE;
use common::auth::token::SessionLimits;
use common::config::{self, CommonConfig, ConfigError};
use common::passwords::PasswordPolicy;
use common::ratelimit::{self, Limit};

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
    /// The largest request body read (`BODY_LIMIT_BYTES`); nginx's
    /// `NGINX_BODY_MAX` should match it.
    pub body_limit: usize,
    /// What a new password must be.
    pub password_policy: PasswordPolicy,
    /// Rate limits and quotas on accounts, rooms and reads.
    pub limits: Limits,
    /// Where semantic search is asked (the worker).
    pub semantic: crate::semantic::SemanticConfig,
    /// What an upload may be (sizes, counts, audio length, image pixels).
    pub uploads: crate::uploads::UploadConfig,
    /// Where uploaded files' bytes are kept.
    pub files: files::FilesConfig,
}

/// The website's rate limits and quotas, each a setting (see the README).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `LOGIN_PER_ADDRESS`: login attempts from one address.
    pub login_per_address: Limit,
    /// `LOGIN_PER_ACCOUNT_ADDRESS`: attempts at one account from one address.
    pub login_per_account_address: Limit,
    /// `REGISTER_PER_ADDRESS`: registrations from one address.
    pub register_per_address: Limit,
    /// `REGISTER_TOTAL`: registrations on the whole site.
    pub register_total: Limit,
    /// `AVAILABLE_PER_ADDRESS`: "is this name free?" look-ups.
    pub available_per_address: Limit,
    /// `ROOM_CREATE_LIMIT`: rooms one user may create per window.
    pub room_create: Limit,
    /// `MAX_ROOMS_PER_USER`: rooms one user may own at once.
    pub rooms_per_user: i64,
    /// `ASSISTANT_CHATS_PER_USER`: assistant chats one user may have at once.
    pub chats_per_user: i64,
    /// `DM_CREATE_LIMIT`: new direct conversations one user may start per
    /// window.
    pub dm_create: Limit,
    /// `PASSWORD_CHANGE_LIMIT`: password changes (each checks a password)
    /// one user may try per window.
    pub password_change: Limit,
    /// `READ_LIMIT`: history, event and search reads by one user.
    pub reads: Limit,
    /// `PROFILE_CHANGE_LIMIT`: profile edits, blocks and unblocks by one
    /// user per window.
    pub profile_change: Limit,
    /// `SEARCH_LIMIT`: message searches by one user.
    pub search: Limit,
    /// `SEARCH_CANDIDATES`: the newest matches of each kind (whole words,
    /// parts of words) a search ranks; a query matching more ranks these.
    pub search_candidates: i64,
    /// `SEARCH_TIMEOUT_MS`: a search running longer is cancelled (503).
    pub search_timeout: std::time::Duration,
    /// `MOOD_WINDOW`: how many of a room's newest tagged messages make its
    /// mood now.
    pub mood_window: i64,
    /// `RATE_LIMIT_IPV6_PREFIX`: the bits of an IPv6 address that make one
    /// client (64: a subscriber gets a whole /64).
    pub ipv6_prefix: u8,
    /// `USAGE_WRITE_INTERVAL_SECS`: a person's use of a room (a page open, a
    /// read-mark move) is written at most this often per room, for
    /// personalization (0: every use).
    pub usage_write_interval: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_address: ratelimit::LOGIN_PER_ADDRESS,
            login_per_account_address: ratelimit::LOGIN_PER_ACCOUNT_ADDRESS,
            register_per_address: ratelimit::REGISTER_PER_ADDRESS,
            register_total: ratelimit::REGISTER_TOTAL,
            available_per_address: ratelimit::AVAILABLE_PER_ADDRESS,
            room_create: ratelimit::ROOM_CREATE_PER_USER,
            rooms_per_user: 50,
            chats_per_user: 100,
            dm_create: ratelimit::DM_CREATE_PER_USER,
            password_change: ratelimit::PASSWORD_CHANGE_PER_USER,
            reads: ratelimit::READS_PER_USER,
            profile_change: ratelimit::PROFILE_CHANGE_PER_USER,
            search: ratelimit::SEARCH_PER_USER,
            search_candidates: 2000,
            search_timeout: std::time::Duration::from_millis(2000),
            mood_window: 50,
            ipv6_prefix: 64,
            usage_write_interval: std::time::Duration::from_secs(300),
        }
    }
}

impl Limits {
    fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let rooms_per_user = config::parsed_or("MAX_ROOMS_PER_USER", d.rooms_per_user)?;
        if rooms_per_user < 1 {
            return Err(ConfigError::new("MAX_ROOMS_PER_USER", "must be at least 1"));
        }
        let chats_per_user = config::parsed_or("ASSISTANT_CHATS_PER_USER", d.chats_per_user)?;
        if chats_per_user < 1 {
            return Err(ConfigError::new(
                "ASSISTANT_CHATS_PER_USER",
                "must be at least 1",
            ));
        }
        let ipv6_prefix = config::parsed_or("RATE_LIMIT_IPV6_PREFIX", d.ipv6_prefix)?;
        if !(16..=128).contains(&ipv6_prefix) {
            return Err(ConfigError::new(
                "RATE_LIMIT_IPV6_PREFIX",
                "must be between 16 and 128",
            ));
        }
        Ok(Self {
            login_per_address: config::limit(
                "LOGIN_PER_ADDRESS",
                "LOGIN_PER_ADDRESS_WINDOW_SECS",
                d.login_per_address,
            )?,
            login_per_account_address: config::limit(
                "LOGIN_PER_ACCOUNT_ADDRESS",
                "LOGIN_PER_ACCOUNT_ADDRESS_WINDOW_SECS",
                d.login_per_account_address,
            )?,
            register_per_address: config::limit(
                "REGISTER_PER_ADDRESS",
                "REGISTER_PER_ADDRESS_WINDOW_SECS",
                d.register_per_address,
            )?,
            register_total: config::limit(
                "REGISTER_TOTAL",
                "REGISTER_TOTAL_WINDOW_SECS",
                d.register_total,
            )?,
            available_per_address: config::limit(
                "AVAILABLE_PER_ADDRESS",
                "AVAILABLE_PER_ADDRESS_WINDOW_SECS",
                d.available_per_address,
            )?,
            room_create: config::limit(
                "ROOM_CREATE_LIMIT",
                "ROOM_CREATE_LIMIT_WINDOW_SECS",
                d.room_create,
            )?,
            rooms_per_user,
            chats_per_user,
            dm_create: config::limit(
                "DM_CREATE_LIMIT",
                "DM_CREATE_LIMIT_WINDOW_SECS",
                d.dm_create,
            )?,
            password_change: config::limit(
                "PASSWORD_CHANGE_LIMIT",
                "PASSWORD_CHANGE_LIMIT_WINDOW_SECS",
                d.password_change,
            )?,
            reads: config::limit("READ_LIMIT", "READ_LIMIT_WINDOW_SECS", d.reads)?,
            profile_change: config::limit(
                "PROFILE_CHANGE_LIMIT",
                "PROFILE_CHANGE_LIMIT_WINDOW_SECS",
                d.profile_change,
            )?,
            search: config::limit("SEARCH_LIMIT", "SEARCH_LIMIT_WINDOW_SECS", d.search)?,
            search_candidates: config::int_between(
                "SEARCH_CANDIDATES",
                d.search_candidates,
                10,
                100_000,
            )?,
            search_timeout: std::time::Duration::from_millis(config::int_between(
                "SEARCH_TIMEOUT_MS",
                d.search_timeout.as_millis() as i64,
                50,
                60_000,
            )? as u64),
            mood_window: config::int_between("MOOD_WINDOW", d.mood_window, 5, 1000)?,
            ipv6_prefix,
            usage_write_interval: config::seconds_or(
                "USAGE_WRITE_INTERVAL_SECS",
                d.usage_write_interval.as_secs(),
                0,
                24 * 3600,
            )?,
        })
    }
}

fn password_policy() -> Result<PasswordPolicy, ConfigError> {
    let d = PasswordPolicy::default();
    let min_length = config::parsed_or("PASSWORD_MIN_LENGTH", d.min_length)?;
    if !(8..=64).contains(&min_length) {
        return Err(ConfigError::new(
            "PASSWORD_MIN_LENGTH",
            "must be between 8 and 64",
        ));
    }
    let min_score = config::parsed_or("PASSWORD_MIN_SCORE", d.min_score)?;
    if min_score > 4 {
        return Err(ConfigError::new("PASSWORD_MIN_SCORE", "must be 0 to 4"));
    }
    Ok(PasswordPolicy {
        min_length,
        min_score,
    })
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
            body_limit: match config::parsed_or(
                "BODY_LIMIT_BYTES",
                crate::web::extract::BODY_LIMIT,
            )? {
                n if n >= 16 * 1024 => n,
                _ => {
                    return Err(ConfigError::new(
                        "BODY_LIMIT_BYTES",
                        "must be at least 16384 (a message of 4,000 characters)",
                    ));
                }
            },
            password_policy: password_policy()?,
            limits: Limits::from_env()?,
            semantic: crate::semantic::SemanticConfig {
                worker_url: config::var("WORKER_URL").filter(|u| !u.trim().is_empty()),
                timeout: std::time::Duration::from_millis(config::int_between(
                    "SEMANTIC_TIMEOUT_MS",
                    300,
                    10,
                    10_000,
                )? as u64),
            },
            uploads: crate::uploads::UploadConfig::from_env()?,
            files: files::FilesConfig::from_env()?,
        })
    }
}
