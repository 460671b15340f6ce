//! Command-line options, parsed by hand (`--name value`).

use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct Args {
    /// WebSocket URLs; connections are spread over them round-robin.
    pub urls: Vec<String>,
    pub connections: usize,
    pub rooms: usize,
    pub senders: usize,
    /// Messages per second offered by all senders together.
    pub rate: f64,
    pub duration: Duration,
    /// Connections per user (under the server's per-user cap).
    pub per_user: usize,
    /// Server processes whose memory per connection is reported.
    pub pids: Vec<u32>,
    /// How long to wait for stragglers after the last send.
    pub drain: Duration,
    pub body_bytes: usize,
}

pub const USAGE: &str = "usage: parley-load [--url ws://127.0.0.1:8080/ws]... [--connections 100] [--rooms 10] \
[--senders 10] [--rate 50] [--duration 10] [--per-user 8] [--pid PID]... [--drain 5] [--body-bytes 64]
environment: DATABASE_URL and TOKEN_SIGNING_KEY of the stack under test (users and sessions are made directly)";

fn value<T: std::str::FromStr>(name: &str, raw: Option<String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{name} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{name}: cannot parse {raw:?}"))
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut a = Args {
            urls: Vec::new(),
            connections: 100,
            rooms: 10,
            senders: 10,
            rate: 50.0,
            duration: Duration::from_secs(10),
            per_user: 8,
            pids: Vec::new(),
            drain: Duration::from_secs(5),
            body_bytes: 64,
        };
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--url" => a.urls.push(value("--url", it.next())?),
                "--connections" => a.connections = value("--connections", it.next())?,
                "--rooms" => a.rooms = value("--rooms", it.next())?,
                "--senders" => a.senders = value("--senders", it.next())?,
                "--rate" => a.rate = value("--rate", it.next())?,
                "--duration" => {
                    a.duration = Duration::from_secs_f64(value("--duration", it.next())?)
                }
                "--per-user" => a.per_user = value("--per-user", it.next())?,
                "--pid" => a.pids.push(value("--pid", it.next())?),
                "--drain" => a.drain = Duration::from_secs_f64(value("--drain", it.next())?),
                "--body-bytes" => a.body_bytes = value("--body-bytes", it.next())?,
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        if a.urls.is_empty() {
            a.urls.push("ws://127.0.0.1:8080/ws".into());
        }
        if a.rooms == 0 || a.connections < a.rooms || a.senders > a.connections || a.per_user == 0 {
            return Err(
                "need rooms >= 1, connections >= rooms, senders <= connections, per-user >= 1"
                    .into(),
            );
        }
        if !a.rate.is_finite() || a.rate <= 0.0 || a.body_bytes < 24 || a.body_bytes > 4000 {
            return Err("need rate > 0 and 24 <= body-bytes <= 4000".into());
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn options_parse_and_are_checked() {
        let a = parse(
            "--url ws://a/ws --url ws://b/ws --connections 40 --rooms 4 --senders 8 --rate 100 --pid 7",
        );
        let a = a.map_err(|e| e.to_string());
        assert!(
            matches!(&a, Ok(a) if a.urls.len() == 2 && a.connections == 40 && a.pids == vec![7])
        );
        assert!(parse("--rooms 0").is_err());
        assert!(parse("--senders 500").is_err());
        assert!(parse("--bogus 1").is_err());
        assert!(parse("--rate x").is_err());
        assert!(parse("").is_ok_and(|a| a.urls == vec!["ws://127.0.0.1:8080/ws".to_owned()]));
    }
}
