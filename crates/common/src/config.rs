//! Configuration from environment variables (and `.env` if present), read once
//! at start into typed structs that are passed in. A missing or weak setting
//! is a [`ConfigError`] naming the variable, and the service stops with it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// One clear line naming the setting that stops the service.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

/// A value that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads `.env` from the working directory, if there is one. Variables already
/// set in the environment win.
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

/// A set variable, trimmed; empty counts as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A variable that must be set.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or_else(|| ConfigError::new(name, "is not set"))
}

/// A variable parsed with `FromStr`, or `default` when unset.
pub fn parsed_or<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|e| ConfigError::new(name, format!("cannot parse {v:?}: {e}"))),
    }
}

/// A yes/no setting: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`.
pub fn flag_or(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(ConfigError::new(
            name,
            format!("{v:?} is not 1/0, true/false, yes/no or on/off"),
        )),
    }
}

/// A duration given in whole seconds, within `min..=max`.
pub fn seconds_or(
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    let secs: u64 = parsed_or(name, default)?;
    if !(min..=max).contains(&secs) {
        return Err(ConfigError::new(
            name,
            format!("must be between {min} and {max} seconds, got {secs}"),
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// `HTTP_WORKERS`: one per core unless set.
fn http_workers() -> Result<usize, ConfigError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = parsed_or("HTTP_WORKERS", cores)?;
    if !(1..=256).contains(&workers) {
        return Err(ConfigError::new(
            "HTTP_WORKERS",
            "must be between 1 and 256",
        ));
    }
    Ok(workers)
}

fn send_limit() -> Result<crate::ratelimit::Limit, ConfigError> {
    limit(
        "SEND_LIMIT",
        "SEND_LIMIT_WINDOW_SECS",
        crate::ratelimit::SEND_PER_USER,
    )
}

fn writer() -> Result<crate::writer::WriterConfig, ConfigError> {
    let d = crate::writer::WriterConfig::default();
    let at_least_one = |name: &'static str, value: usize| {
        if value == 0 {
            Err(ConfigError::new(name, "must be at least 1"))
        } else {
            Ok(value)
        }
    };
    Ok(crate::writer::WriterConfig {
        shards: at_least_one("WRITER_SHARDS", parsed_or("WRITER_SHARDS", d.shards)?)?,
        queue: at_least_one("WRITER_QUEUE", parsed_or("WRITER_QUEUE", d.queue)?)?,
        deadline: seconds_or("WRITER_DEADLINE_SECS", d.deadline.as_secs(), 1, 600)?,
        slow_lanes: at_least_one(
            "WRITER_SLOW_LANES",
            parsed_or("WRITER_SLOW_LANES", d.slow_lanes)?,
        )?,
    })
}

/// The integer setting `name`, `default` when unset, within `min..=max`.
pub fn int_between(
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let v: i64 = parsed_or(name, default)?;
    if !(min..=max).contains(&v) {
        return Err(ConfigError::new(
            name,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

/// A rate limit read from `max_var` (events) and `window_var` (seconds,
/// at most a day), each `default`'s when unset.
pub fn limit(
    max_var: &'static str,
    window_var: &'static str,
    default: crate::ratelimit::Limit,
) -> Result<crate::ratelimit::Limit, ConfigError> {
    let max: u64 = parsed_or(max_var, default.max)?;
    if max == 0 {
        return Err(ConfigError::new(max_var, "must be at least 1"));
    }
    Ok(crate::ratelimit::Limit {
        max,
        window: seconds_or(window_var, default.window.as_secs(), 1, 24 * 3600)?,
        ..default
    })
}

/// The site's own origin as browsers see it (scheme, host, port): it decides
/// the `Secure` cookie flag, HSTS, and which `Origin` headers are same-site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    origin: String,
}

impl PublicOrigin {
    /// Accepts `http(s)://host[:port]` with no path, query or credentials.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or("must look like https://chat.example.com")?;
        if scheme != "http" && scheme != "https" {
            return Err("the scheme must be http or https".into());
        }
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return Err("must be scheme://host[:port] only, with no path".into());
        }
        Ok(Self {
            origin: format!("{scheme}://{}", rest.to_ascii_lowercase()),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// True for an https origin: cookies get `Secure` and pages get HSTS.
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// Whether a request's `Origin` header is this site.
    pub fn matches(&self, header: &str) -> bool {
        header
            .trim_end_matches('/')
            .eq_ignore_ascii_case(&self.origin)
    }
}

/// An address or a CIDR range of addresses (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                Self::same_prefix(&n.octets(), &a.octets(), self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                Self::same_prefix(&n.octets(), &a.octets(), self.prefix)
            }
            (IpAddr::V6(_), IpAddr::V4(a)) => self.contains(IpAddr::V6(a.to_ipv6_mapped())),
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| self.contains(IpAddr::V4(a))),
        }
    }

    fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
        let (whole, rest) = ((prefix / 8) as usize, prefix % 8);
        a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
    }
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let network: IpAddr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or(format!("bad prefix length in {s:?}"))?,
        };
        Ok(Self { network, prefix })
    }
}

/// Where Redis is: one server, or the seed nodes of a Redis Cluster. A
/// cluster shards room fan-out (`SPUBLISH`) over its masters; unset
/// `REDIS_CLUSTER_NODES` keeps one Redis exactly as before.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// `REDIS_URL`.
    Single(Secret<String>),
    /// `REDIS_CLUSTER_NODES`: seed URLs (any live node is enough to find the rest).
    Cluster {
        seeds: Secret<Vec<String>>,
        /// `REDIS_CLUSTER_CLASSIC_PUBSUB`: fan out with classic `PUBLISH`,
        /// which every node of the cluster carries; only for the benchmark's
        /// control run, never faster.
        classic_pubsub: bool,
    },
}

impl RedisTarget {
    /// Reads `REDIS_CLUSTER_NODES` (comma-separated URLs), else `REDIS_URL`.
    /// Both set is refused unless `REDIS_URL` is one of the seeds, so a
    /// deployment never half-uses another Redis.
    pub fn from_env() -> Result<Self, ConfigError> {
        let url_ok = |u: &str| {
            u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://")
        };
        let single = var("REDIS_URL");
        let Some(nodes) = var("REDIS_CLUSTER_NODES") else {
            let url = single.ok_or_else(|| {
                ConfigError::new(
                    "REDIS_URL",
                    "is required (or REDIS_CLUSTER_NODES for a cluster)",
                )
            })?;
            if !url_ok(&url) {
                return Err(ConfigError::new("REDIS_URL", "must be a redis:// URL"));
            }
            return Ok(Self::Single(Secret::new(url)));
        };
        let seeds: Vec<String> = nodes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if seeds.is_empty() || seeds.iter().any(|s| !url_ok(s) || s.starts_with("unix://")) {
            return Err(ConfigError::new(
                "REDIS_CLUSTER_NODES",
                "must be comma-separated redis:// URLs of cluster nodes",
            ));
        }
        if let Some(url) = single
            && !seeds.contains(&url)
        {
            return Err(ConfigError::new(
                "REDIS_URL",
                "names a Redis outside REDIS_CLUSTER_NODES; set one of them",
            ));
        }
        Ok(Self::Cluster {
            seeds: Secret::new(seeds),
            classic_pubsub: flag_or("REDIS_CLUSTER_CLASSIC_PUBSUB", false)?,
        })
    }
}

/// A read-only replica of the database (a hot standby), and the size of
/// each process's pool of connections to it.
#[derive(Debug, Clone)]
pub struct ReadReplica {
    pub url: Secret<String>,
    pub pool_size: usize,
}

impl ReadReplica {
    /// `DATABASE_READ_URL` and `DATABASE_READ_POOL_SIZE` (default: the
    /// primary pool's size). Unset: no replica, every read goes to the
    /// primary, as before there was one. A pool size without a URL is a
    /// mistake worth stopping for.
    fn from_env(primary_pool_size: usize) -> Result<Option<Self>, ConfigError> {
        let Some(url) = var("DATABASE_READ_URL") else {
            if var("DATABASE_READ_POOL_SIZE").is_some() {
                return Err(ConfigError::new(
                    "DATABASE_READ_POOL_SIZE",
                    "is set without DATABASE_READ_URL",
                ));
            }
            return Ok(None);
        };
        if !is_postgres_url(&url) {
            return Err(ConfigError::new(
                "DATABASE_READ_URL",
                "must be a postgres:// URL",
            ));
        }
        let pool_size = parsed_or("DATABASE_READ_POOL_SIZE", primary_pool_size)?;
        if pool_size == 0 {
            return Err(ConfigError::new(
                "DATABASE_READ_POOL_SIZE",
                "must be at least 1",
            ));
        }
        Ok(Some(Self {
            url: Secret::new(url),
            pool_size,
        }))
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Settings both services read.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub database_url: Secret<String>,
    pub database_pool_size: usize,
    /// Where history, replay and catch-up are read (`None`: the primary);
    /// see `crate::reads` for when the primary answers them anyway.
    pub database_read: Option<ReadReplica>,
    /// Which Redis: one server (`REDIS_URL`) or a cluster (`REDIS_CLUSTER_NODES`).
    pub redis: RedisTarget,
    /// Prepended to every Redis key and channel, so deployments (and tests) can share a Redis.
    pub redis_prefix: String,
    pub public_origin: PublicOrigin,
    pub listen_addr: SocketAddr,
    /// Peers whose `X-Real-IP` is believed (nginx): addresses or CIDR ranges.
    pub trusted_proxies: Vec<IpRange>,
    /// Leave in-flight requests this long on SIGTERM.
    pub shutdown_timeout: Duration,
    /// How long after sending its author may edit a message.
    pub edit_window: Duration,
    /// How many changes to rooms one user may make per window.
    pub send_limit: crate::ratelimit::Limit,
    /// Threads serving HTTP and WebSocket connections (each runs its own
    /// event loop); background work runs on the Tokio runtime's threads
    /// (`TOKIO_WORKER_THREADS`).
    pub http_workers: usize,
    /// How the event writer runs (shards, queue, deadline, slow lanes).
    pub writer: crate::writer::WriterConfig,
}

impl CommonConfig {
    /// Reads the shared variables; `default_listen` differs per service.
    pub fn from_env(default_listen: &str) -> Result<Self, ConfigError> {
        let database_url = required("DATABASE_URL")?;
        if !is_postgres_url(&database_url) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must be a postgres:// URL",
            ));
        }
        let redis = RedisTarget::from_env()?;
        let public_origin = PublicOrigin::parse(&required("PUBLIC_ORIGIN")?)
            .map_err(|p| ConfigError::new("PUBLIC_ORIGIN", p))?;
        let default_listen: SocketAddr = default_listen
            .parse()
            .map_err(|e| ConfigError::new("LISTEN_ADDR", format!("bad default: {e}")))?;
        let trusted_proxies = var("TRUSTED_PROXIES")
            .unwrap_or_else(|| "127.0.0.1,::1".into())
            .split(',')
            .map(str::parse::<IpRange>)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                ConfigError::new(
                    "TRUSTED_PROXIES",
                    format!("addresses or CIDR ranges, comma-separated: {e}"),
                )
            })?;
        let redis_prefix = var("REDIS_KEY_PREFIX").unwrap_or_else(|| "parley:".into());
        if matches!(redis, RedisTarget::Cluster { .. }) && redis_prefix.contains(['{', '}']) {
            return Err(ConfigError::new(
                "REDIS_KEY_PREFIX",
                "may not contain { or } on a Redis Cluster (a hash tag would put every key in one slot)",
            ));
        }
        let database_pool_size = parsed_or("DATABASE_POOL_SIZE", 16usize)?;
        if database_pool_size == 0 {
            return Err(ConfigError::new("DATABASE_POOL_SIZE", "must be at least 1"));
        }
        Ok(Self {
            database_url: Secret::new(database_url),
            database_pool_size,
            database_read: ReadReplica::from_env(database_pool_size)?,
            redis,
            redis_prefix,
            public_origin,
            listen_addr: parsed_or("LISTEN_ADDR", default_listen)?,
            trusted_proxies,
            shutdown_timeout: seconds_or("SHUTDOWN_TIMEOUT_SECS", 10, 0, 300)?,
            edit_window: seconds_or("EDIT_WINDOW_SECS", 24 * 3600, 0, 30 * 24 * 3600)?,
            send_limit: send_limit()?,
            http_workers: http_workers()?,
            writer: writer()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_origin_parses_and_matches() {
        let o = PublicOrigin::parse("https://Chat.Example.com/").map_err(|e| e.to_string());
        let o = o.as_ref().map(|o| (o.as_str().to_owned(), o.is_https()));
        assert_eq!(o, Ok(("https://chat.example.com".to_owned(), true)));
        let local = PublicOrigin::parse("http://127.0.0.1:8080");
        assert!(
            local
                .as_ref()
                .is_ok_and(|o| !o.is_https() && o.matches("http://127.0.0.1:8080"))
        );
        assert!(
            local
                .as_ref()
                .is_ok_and(|o| !o.matches("http://evil.example"))
        );
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://x/path",
            "https://",
            "https://u@x",
        ] {
            assert!(PublicOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_ranges_contain_what_they_should() {
        let r = |s: &str| s.parse::<IpRange>().unwrap_or_else(|e| panic!("{e}"));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{e}"));
        assert!(r("172.16.0.0/12").contains(ip("172.31.255.1")));
        assert!(!r("172.16.0.0/12").contains(ip("172.32.0.1")));
        assert!(
            r("127.0.0.1").contains(ip("127.0.0.1")) && !r("127.0.0.1").contains(ip("127.0.0.2"))
        );
        assert!(r("::1").contains(ip("::1")));
        assert!(
            r("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")),
            "v4-mapped v6 peers"
        );
        assert!(r("0.0.0.0/0").contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
