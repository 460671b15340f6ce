//! The chat service's configuration: the shared settings plus verifying
//! keys (never the signing key) and the limits of protocol.md.

use std::time::Duration;

use common::auth::keys::PublicKey;
use common::config::{self, CommonConfig, ConfigError, PublicOrigin};

use crate::delivery::QueueLimits;
use crate::room::CATCH_UP_PAGE;

/// Everything chat reads from the environment.
pub struct ChatConfig {
    /// What every Parley service reads (database, Redis, listen address...).
    pub common: CommonConfig,
    /// Public keys tokens may be signed with (several during a rotation).
    pub verifying_keys: Vec<PublicKey>,
    /// Other origins whose pages may open cookie-authenticated sockets.
    pub allowed_origins: Vec<PublicOrigin>,
    /// Connections one user may hold at once, across all instances.
    pub max_connections_per_user: usize,
    /// Rooms one connection may be in at once (`MAX_ROOMS_PER_CONNECTION`).
    pub max_rooms_per_connection: usize,
    /// Frames and bytes waiting for a client before it counts as too slow.
    pub outbound_queue: QueueLimits,
    /// Bytes of replay one user may have read for them per window, across
    /// their connections and instances (`REPLAY_BYTES_PER_USER`): sixteen
    /// sockets re-joining with `since=0` cannot make Postgres and chat
    /// read the same history over and over.
    pub replay_budget: common::ratelimit::Limit,
    /// The most a join replays (frames, bytes); beyond, `joined` says
    /// `truncated` and the client reads the rest over HTTP.
    pub replay: QueueLimits,
    /// How long one write to a socket may take before the client counts as
    /// gone (it stopped reading).
    pub write_timeout: Duration,
    /// Requests of one connection whose outcome may be awaited at once
    /// (changes being stored); beyond, its next frame waits to be read.
    pub requests_in_flight: usize,
    /// Joins and leaves one connection may make per second on average, and
    /// at once (a token bucket): each join may replay up to 1,000 events
    /// and announce presence, so they are not free.
    pub join_rate: Rate,
    /// `typing` frames one connection may publish per second, across all
    /// its rooms, and at once (`TYPING_PER_SEC`, `TYPING_BURST`): beyond,
    /// they are dropped (typing is ephemeral).
    pub typing_rate: Rate,
    /// At most one `typing` per room per connection in this interval
    /// (`TYPING_INTERVAL_MS`).
    pub typing_interval: Duration,
    /// How long an instance's presence entries and connection counts
    /// outlive its last heartbeat (`PRESENCE_TTL_SECS`).
    pub presence_ttl: Duration,
    /// How often each instance writes its presence entries and connection
    /// counts again, in case Redis lost them (`PRESENCE_REFRESH_SECS`);
    /// their keys expire after three of these without a write.
    pub presence_refresh: Duration,
    /// How often rooms ask Postgres for events pub/sub did not bring
    /// (`CATCH_UP_SECS`): the bound on how late a lost publish arrives.
    pub catch_up_every: Duration,
    /// How long a room gathers presence changes before it records and
    /// announces them together: joins cost one Redis round trip and one
    /// write per member per batch, and a leave undone within it (a reload,
    /// a flapping connection) is never announced.
    pub presence_batch: Duration,
    /// How often the server pings each socket.
    pub ping_interval: Duration,
    /// A socket silent this long is closed (no pong, no frame).
    pub idle_timeout: Duration,
    /// How long a room gathers events before telling the connections that
    /// follow it (without joining) their new unread counts: one count per
    /// burst, not one per event.
    pub unread_refresh: Duration,
}

/// A token bucket's settings: `per_sec` on average, `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Tokens added per second.
    pub per_sec: f64,
    /// The bucket's size, and what it starts with.
    pub burst: f64,
}

impl ChatConfig {
    /// Reads and checks every variable; the first bad one is the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env("127.0.0.1:8091")?;
        if config::var("TOKEN_SIGNING_KEY").is_some() {
            return Err(ConfigError::new(
                "TOKEN_SIGNING_KEY",
                "must not be given to chat: it only verifies tokens (give it TOKEN_VERIFYING_KEY)",
            ));
        }
        let verifying_keys = PublicKey::parse_list(
            "TOKEN_VERIFYING_KEY",
            &config::required("TOKEN_VERIFYING_KEY")?,
        )?;
        if verifying_keys.is_empty() {
            return Err(ConfigError::new("TOKEN_VERIFYING_KEY", "lists no key"));
        }
        let allowed_origins = match config::var("ALLOWED_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|o| PublicOrigin::parse(o).map_err(|p| ConfigError::new("ALLOWED_ORIGINS", p)))
                .collect::<Result<_, _>>()?,
        };
        let max_connections_per_user = config::parsed_or("MAX_CONNECTIONS_PER_USER", 16usize)?;
        if max_connections_per_user == 0 {
            return Err(ConfigError::new(
                "MAX_CONNECTIONS_PER_USER",
                "must be at least 1",
            ));
        }
        let outbound_queue = QueueLimits {
            frames: config::parsed_or("OUTBOUND_QUEUE_FRAMES", 4096usize)?,
            bytes: config::parsed_or("OUTBOUND_QUEUE_BYTES", 8usize << 20)?,
        };
        if outbound_queue.frames < 16 {
            return Err(ConfigError::new(
                "OUTBOUND_QUEUE_FRAMES",
                "must be at least 16",
            ));
        }
        if outbound_queue.bytes < 256 << 10 {
            return Err(ConfigError::new(
                "OUTBOUND_QUEUE_BYTES",
                "must be at least 262144 (256 KiB)",
            ));
        }
        // A replay fills at most half the queue, so it never makes a member
        // that just joined look too slow.
        let replay = QueueLimits {
            frames: config::parsed_or("REPLAY_MAX_FRAMES", CATCH_UP_PAGE as usize)?
                .clamp(1, CATCH_UP_PAGE as usize)
                .min(outbound_queue.frames / 2),
            bytes: config::parsed_or("REPLAY_MAX_BYTES", 1usize << 20)?
                .min(outbound_queue.bytes / 2),
        };
        if replay.bytes < 64 << 10 {
            return Err(ConfigError::new(
                "REPLAY_MAX_BYTES",
                "must be at least 65536 (64 KiB)",
            ));
        }
        let ping_interval = config::seconds_or("PING_INTERVAL_SECS", 20, 1, 3600)?;
        let idle_timeout = config::seconds_or("IDLE_TIMEOUT_SECS", 60, 2, 7200)?;
        if idle_timeout <= ping_interval {
            return Err(ConfigError::new(
                "IDLE_TIMEOUT_SECS",
                "must be longer than PING_INTERVAL_SECS",
            ));
        }
        let join_rate = Rate {
            per_sec: config::parsed_or("JOIN_PER_SEC", 2.0f64)?,
            burst: config::parsed_or("JOIN_BURST", 20.0f64)?,
        };
        if !(join_rate.per_sec > 0.0 && join_rate.burst >= 1.0) {
            return Err(ConfigError::new(
                "JOIN_PER_SEC",
                "JOIN_PER_SEC must be above 0 and JOIN_BURST at least 1",
            ));
        }
        let typing_rate = Rate {
            per_sec: config::parsed_or("TYPING_PER_SEC", 5.0f64)?,
            burst: config::parsed_or("TYPING_BURST", 10.0f64)?,
        };
        if !(typing_rate.per_sec > 0.0 && typing_rate.burst >= 1.0) {
            return Err(ConfigError::new(
                "TYPING_PER_SEC",
                "TYPING_PER_SEC must be above 0 and TYPING_BURST at least 1",
            ));
        }
        let requests_in_flight = config::parsed_or("REQUESTS_IN_FLIGHT", 64usize)?;
        if requests_in_flight == 0 {
            return Err(ConfigError::new("REQUESTS_IN_FLIGHT", "must be at least 1"));
        }
        Ok(Self {
            common,
            verifying_keys,
            allowed_origins,
            max_connections_per_user,
            outbound_queue,
            replay_budget: config::limit(
                "REPLAY_BYTES_PER_USER",
                "REPLAY_BYTES_PER_USER_WINDOW_SECS",
                common::ratelimit::Limit {
                    name: "replay-bytes",
                    max: 32 << 20,
                    window: Duration::from_secs(10),
                },
            )?,
            max_rooms_per_connection: match config::parsed_or("MAX_ROOMS_PER_CONNECTION", 100usize)?
            {
                0 => {
                    return Err(ConfigError::new(
                        "MAX_ROOMS_PER_CONNECTION",
                        "must be at least 1",
                    ));
                }
                n => n,
            },
            replay,
            write_timeout: config::seconds_or("WRITE_TIMEOUT_SECS", 20, 1, 600)?,
            requests_in_flight,
            join_rate,
            typing_rate,
            typing_interval: Duration::from_millis(config::parsed_or(
                "TYPING_INTERVAL_MS",
                1000u64,
            )?),
            presence_ttl: config::seconds_or("PRESENCE_TTL_SECS", 30, 3, 600)?,
            presence_refresh: config::seconds_or("PRESENCE_REFRESH_SECS", 3600, 10, 86400)?,
            catch_up_every: config::seconds_or("CATCH_UP_SECS", 5, 1, 300)?,
            presence_batch: Duration::from_millis(config::parsed_or("PRESENCE_BATCH_MS", 250u64)?),
            ping_interval,
            idle_timeout,
            unread_refresh: Duration::from_millis(config::parsed_or("UNREAD_REFRESH_MS", 500u64)?),
        })
    }

    /// Whether a cookie-authenticated upgrade from `origin` is same-site.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.common.public_origin.matches(origin)
            || self.allowed_origins.iter().any(|o| o.matches(origin))
    }
}
