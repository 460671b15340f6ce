//! Command-line options, parsed by hand (`--name value`). The first word
//! may name a mode; without one the mode is `fanout` (as before modes).

use std::time::Duration;

use crate::procstat::Group;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Senders at offered rates (one or more steps), every member receives.
    Fanout,
    /// Connections joined and idle: memory growth and connect times.
    Idle,
    /// Everyone dropped at once, reconnecting with `since`.
    Storm,
    /// A user, a session and a room with messages, for page benchmarks.
    Seed,
    /// Sign-ins at a fixed rate through the website (real argon2).
    Logins,
    /// One hostile user floods and stalls sockets while two ordinary users
    /// chat: their delivery latency and the server's memory must hold.
    Abuse,
}

/// How many members each room gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// `--connections C` spread over the rooms, round-robin.
    Spread(usize),
    /// `--members LO-HI`: room r gets LO + r mod (HI - LO + 1).
    Range(usize, usize),
}

/// Which latency decides whether a step held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOn {
    /// Send to receipt at every member.
    Delivery,
    /// Send to the sender's own echo (its acknowledgement).
    Ack,
}

#[derive(Debug, Clone)]
pub struct Args {
    pub mode: Mode,
    /// WebSocket URLs (HTTP base URL for `logins`); spread round-robin.
    pub urls: Vec<String>,
    pub rooms: usize,
    pub members: Members,
    /// Senders in all; the first `senders` clients (one per room first).
    pub senders: Option<usize>,
    /// Connections per user (1: one user per client).
    pub per_user: usize,
    /// Offered rates (msgs/s, all senders together), one step each; for
    /// `idle`, cumulative connection counts.
    pub steps: Vec<f64>,
    /// Length of one step.
    pub duration: Duration,
    /// How long to wait for stragglers after a step.
    pub grace: Duration,
    pub stop_on_fail: bool,
    /// With `stop_on_fail`: failing steps in a row before stopping.
    pub fail_limit: usize,
    pub hold_p99_ms: f64,
    pub hold_delivered: f64,
    pub hold_on: HoldOn,
    pub body_bytes: usize,
    /// Process groups whose CPU (and RSS) is reported per step.
    pub groups: Vec<Group>,
    /// Connection attempts in flight at once.
    pub connect_concurrency: usize,
    /// Local addresses 127.0.0.1.. to connect from (each gives ~28k ports).
    pub source_ips: usize,
    /// JSON lines go here (appended); the human report goes to stdout.
    pub json: Option<String>,
    /// Added to every JSON line as "label".
    pub label: String,
    /// Tokio worker threads (0: one per core).
    pub threads: usize,
    /// `storm`: messages each room gets while its members are away.
    pub backlog: usize,
    /// `idle`/`storm`: how long to wait for everyone to be (re)joined.
    pub deadline: Duration,
    /// `idle`: pause before reading memory.
    pub settle: Duration,
    /// `seed`: messages in the room.
    pub messages: usize,
    /// `logins`: sign-ins per second; `abuse`: messages per second of each
    /// ordinary user.
    pub rate: f64,
    /// `abuse`: the hostile user's sockets that never read.
    pub non_readers: usize,
    /// `abuse`: the hostile user's address (`X-Forwarded-For`).
    pub hostile_from: String,
    /// `abuse`: frames per second of each flooding socket (join/leave
    /// churn, typing).
    pub hostile_rate: f64,
    /// `abuse`: the most the process groups' resident memory, together,
    /// may grow (MiB).
    pub max_rss_growth_mib: f64,
    /// `abuse`: the chat instances' /metrics URLs (slow consumers cut off).
    pub metrics: Vec<String>,
}

pub const USAGE: &str = "usage: parley-load [fanout|idle|storm|seed|logins|abuse] [options]
  --url URL ...            ws://127.0.0.1:8080/ws (repeat; spread round-robin); logins: http://127.0.0.1:8080
  --rooms R                10
  --connections C          100 members in all, spread over the rooms   | --members LO-HI  per room
  --senders S              default: one per room (the first client of each room)
  --per-user N             connections sharing one user (1)
  --rate X | --steps X,Y   offered msgs/s of all senders together; idle: connection totals
  --duration S             seconds per step (10)       --grace S   wait for stragglers (5; alias --drain)
  --stop-on-fail           stop after the first step that does not hold
  --fail-limit N           ... after N failing steps in a row (implies --stop-on-fail)
  --hold-p99-ms MS         100   --hold-delivered F  0.99   --hold-on delivery|ack
  --body-bytes N           100   (24..=4000)
  --group NAME=PID,PID     CPU and RSS per step; NAME=tree:PID adds its children (Postgres backends);
                           NAME=main:PID,PID the main threads only, in ns (single-threaded Redis)
  --pid PID                the same as --group server=PID
  --connect-concurrency N  256   --source-ips N  1 (127.0.0.1..N; more than ~28k connections per URL)
  --json FILE              append one JSON object per step/result   --label TEXT
  --threads N              tokio workers (0: one per core)
  storm: --backlog N (20 per room)  --deadline S (60)      idle: --settle S (3)
  seed: --messages N (50)           logins: --rate N (50 per s) --duration S
  abuse: --url (nginx's /ws) --duration S (40) --rate N (2 msg/s per ordinary user)
         --messages N (300 stored, 2-4 KB) --hold-p99-ms MS (1000) --max-rss-growth-mib M (150)
         --non-readers N (16) --hostile-from ADDR (203.0.113.66) --hostile-rate N (200 frames/s)
         --group NAME=PIDS (memory) --metrics URL (a chat instance's /metrics; repeat)
environment: DATABASE_URL and TOKEN_SIGNING_KEY of the stack under test (users, sessions, rooms are made directly)";

fn value<T: std::str::FromStr>(name: &str, raw: Option<String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{name} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{name}: cannot parse {raw:?}"))
}

fn secs(name: &str, raw: Option<String>) -> Result<Duration, String> {
    let s: f64 = value(name, raw)?;
    if !s.is_finite() || s < 0.0 {
        return Err(format!("{name} must be >= 0"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn list(name: &str, raw: Option<String>) -> Result<Vec<f64>, String> {
    let raw: String = value(name, raw)?;
    raw.split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("{name}: {s:?} is not a positive number"))
        })
        .collect()
}

fn members(raw: Option<String>) -> Result<Members, String> {
    let raw: String = value("--members", raw)?;
    let (lo, hi) = raw.split_once('-').unwrap_or((&raw, &raw));
    match (lo.parse::<usize>(), hi.parse::<usize>()) {
        (Ok(lo), Ok(hi)) if lo >= 1 && hi >= lo => Ok(Members::Range(lo, hi)),
        _ => Err(format!(
            "--members: {raw:?} is not N or LO-HI with 1 <= LO <= HI"
        )),
    }
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut a = Args {
            mode: Mode::Fanout,
            urls: Vec::new(),
            rooms: 10,
            members: Members::Spread(100),
            senders: None,
            per_user: 1,
            steps: Vec::new(),
            duration: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            stop_on_fail: false,
            fail_limit: 1,
            hold_p99_ms: 100.0,
            hold_delivered: 0.99,
            hold_on: HoldOn::Delivery,
            body_bytes: 100,
            groups: Vec::new(),
            connect_concurrency: 256,
            source_ips: 1,
            json: None,
            label: String::new(),
            threads: 0,
            backlog: 20,
            deadline: Duration::from_secs(60),
            settle: Duration::from_secs(3),
            messages: 50,
            rate: 50.0,
            non_readers: 16,
            hostile_from: "203.0.113.66".into(),
            hostile_rate: 200.0,
            max_rss_growth_mib: 150.0,
            metrics: Vec::new(),
        };
        // Options whose default depends on the mode, when given.
        let (mut rate, mut duration, mut messages, mut p99) = (None, None, None, None);
        let mut first = true;
        while let Some(flag) = it.next() {
            if std::mem::take(&mut first) && !flag.starts_with('-') {
                a.mode = match flag.as_str() {
                    "fanout" => Mode::Fanout,
                    "idle" => Mode::Idle,
                    "storm" => Mode::Storm,
                    "seed" => Mode::Seed,
                    "logins" => Mode::Logins,
                    "abuse" => Mode::Abuse,
                    other => return Err(format!("unknown mode {other}\n{USAGE}")),
                };
                continue;
            }
            match flag.as_str() {
                "--url" => a.urls.push(value("--url", it.next())?),
                "--connections" => a.members = Members::Spread(value("--connections", it.next())?),
                "--members" => a.members = members(it.next())?,
                "--rooms" => a.rooms = value("--rooms", it.next())?,
                "--senders" => a.senders = Some(value("--senders", it.next())?),
                "--rate" => {
                    let r = value("--rate", it.next())?;
                    rate = Some(r);
                    a.steps = vec![r];
                }
                "--steps" => a.steps = list("--steps", it.next())?,
                "--duration" => duration = Some(secs("--duration", it.next())?),
                "--grace" | "--drain" => a.grace = secs("--grace", it.next())?,
                "--stop-on-fail" => a.stop_on_fail = true,
                "--fail-limit" => {
                    a.fail_limit = value("--fail-limit", it.next())?;
                    a.stop_on_fail = true;
                }
                "--hold-p99-ms" => p99 = Some(value("--hold-p99-ms", it.next())?),
                "--hold-delivered" => a.hold_delivered = value("--hold-delivered", it.next())?,
                "--hold-on" => {
                    a.hold_on = match value::<String>("--hold-on", it.next())?.as_str() {
                        "delivery" => HoldOn::Delivery,
                        "ack" => HoldOn::Ack,
                        other => {
                            return Err(format!("--hold-on: {other:?} is not delivery or ack"));
                        }
                    }
                }
                "--per-user" => a.per_user = value("--per-user", it.next())?,
                "--pid" => a.groups.push(Group::parse(&format!(
                    "server={}",
                    value::<u32>("--pid", it.next())?
                ))?),
                "--group" => a
                    .groups
                    .push(Group::parse(&value::<String>("--group", it.next())?)?),
                "--body-bytes" => a.body_bytes = value("--body-bytes", it.next())?,
                "--connect-concurrency" => {
                    a.connect_concurrency = value("--connect-concurrency", it.next())?
                }
                "--source-ips" => a.source_ips = value("--source-ips", it.next())?,
                "--json" => a.json = Some(value("--json", it.next())?),
                "--label" => a.label = value("--label", it.next())?,
                "--threads" => a.threads = value("--threads", it.next())?,
                "--backlog" => a.backlog = value("--backlog", it.next())?,
                "--deadline" => a.deadline = secs("--deadline", it.next())?,
                "--settle" => a.settle = secs("--settle", it.next())?,
                "--messages" => messages = Some(value("--messages", it.next())?),
                "--non-readers" => a.non_readers = value("--non-readers", it.next())?,
                "--hostile-from" => a.hostile_from = value("--hostile-from", it.next())?,
                "--hostile-rate" => a.hostile_rate = value("--hostile-rate", it.next())?,
                "--max-rss-growth-mib" => {
                    a.max_rss_growth_mib = value("--max-rss-growth-mib", it.next())?
                }
                "--metrics" => a.metrics.push(value("--metrics", it.next())?),
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        let abuse = a.mode == Mode::Abuse;
        a.rate = rate.unwrap_or(if abuse { 2.0 } else { a.rate });
        a.duration = duration.unwrap_or(if abuse {
            Duration::from_secs(40)
        } else {
            a.duration
        });
        a.messages = messages.unwrap_or(if abuse { 300 } else { a.messages });
        a.hold_p99_ms = p99.unwrap_or(if abuse { 1000.0 } else { a.hold_p99_ms });
        if abuse
            && !(a.hostile_rate > 0.0
                && a.hostile_rate.is_finite()
                && a.max_rss_growth_mib > 0.0
                && a.hostile_from.parse::<std::net::IpAddr>().is_ok())
        {
            return Err("abuse: need hostile-rate > 0, max-rss-growth-mib > 0, and an IP address for hostile-from".into());
        }
        if a.urls.is_empty() {
            a.urls.push(match a.mode {
                Mode::Logins => "http://127.0.0.1:8080".into(),
                _ => "ws://127.0.0.1:8080/ws".into(),
            });
        }
        if a.steps.is_empty() {
            a.steps = vec![match a.mode {
                Mode::Idle => a.connections() as f64,
                _ => a.rate,
            }];
        }
        let connections = a.connections();
        let senders = a.senders.unwrap_or(a.rooms);
        if a.rooms == 0 || connections < a.rooms || a.per_user == 0 {
            return Err("need rooms >= 1, connections >= rooms, per-user >= 1".into());
        }
        if a.mode == Mode::Fanout && senders > connections {
            return Err("need senders <= connections".into());
        }
        if a.body_bytes < 24 || a.body_bytes > 4000 || !(a.rate > 0.0 && a.rate.is_finite()) {
            return Err("need rate > 0 and 24 <= body-bytes <= 4000".into());
        }
        if a.connect_concurrency == 0 || a.source_ips == 0 || a.source_ips > 250 {
            return Err("need connect-concurrency >= 1 and 1 <= source-ips <= 250".into());
        }
        Ok(a)
    }

    /// Members of room `r` (0-based).
    pub fn members_of(&self, r: usize) -> usize {
        match self.members {
            Members::Spread(c) => c / self.rooms + usize::from(r < c % self.rooms),
            Members::Range(lo, hi) => lo + r % (hi - lo + 1),
        }
    }

    pub fn connections(&self) -> usize {
        match self.members {
            Members::Spread(c) => c,
            Members::Range(..) => (0..self.rooms).map(|r| self.members_of(r)).sum(),
        }
    }

    pub fn senders(&self) -> usize {
        self.senders.unwrap_or(self.rooms)
    }
}

/// One client of the run: its room (index), rank within the room, URL
/// (index) and whether it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub room: usize,
    pub rank: usize,
    pub url: usize,
    pub sender: bool,
}

/// Every client, rank-major (every room's first member, then every room's
/// second, ...), so the first `senders` clients are one per room first.
/// A room's members alternate over the URLs, and so do the rooms' senders:
/// a message crosses instances through Redis.
pub fn layout(args: &Args) -> Vec<Slot> {
    let sizes: Vec<usize> = (0..args.rooms).map(|r| args.members_of(r)).collect();
    let deepest = sizes.iter().copied().max().unwrap_or(0);
    let mut slots = Vec::with_capacity(args.connections());
    for rank in 0..deepest {
        for (room, size) in sizes.iter().enumerate() {
            if rank < *size {
                slots.push(Slot {
                    room,
                    rank,
                    url: (rank + room) % args.urls.len(),
                    sender: slots.len() < args.senders(),
                });
            }
        }
    }
    slots
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
            matches!(&a, Ok(a) if a.urls.len() == 2 && a.connections() == 40
            && a.groups.len() == 1 && a.mode == Mode::Fanout && a.steps == vec![100.0])
        );
        assert!(parse("--rooms 0").is_err());
        assert!(parse("--senders 500").is_err());
        assert!(parse("--bogus 1").is_err());
        assert!(parse("--rate x").is_err());
        assert!(parse("--steps 5,x").is_err());
        assert!(parse("--members 3-1").is_err());
        assert!(parse("nonsense").is_err());
        assert!(parse("").is_ok_and(|a| a.urls == vec!["ws://127.0.0.1:8080/ws".to_owned()]));
        assert!(parse("logins").is_ok_and(|a| a.urls == vec!["http://127.0.0.1:8080".to_owned()]));
        let idle = parse("idle --connections 500 --rooms 50");
        assert!(idle.is_ok_and(|a| a.mode == Mode::Idle && a.steps == vec![500.0]));
        let abuse = parse("abuse --url ws://x/ws --group chat=1,2 --metrics http://m");
        assert!(abuse.is_ok_and(|a| a.mode == Mode::Abuse
            && a.rate == 2.0
            && a.duration == Duration::from_secs(40)
            && a.messages == 300
            && a.hold_p99_ms == 1000.0
            && a.non_readers == 16
            && a.metrics.len() == 1));
        let given = parse("abuse --rate 1 --duration 5 --hold-p99-ms 500 --messages 10");
        assert!(given.is_ok_and(|a| a.rate == 1.0
            && a.duration == Duration::from_secs(5)
            && a.hold_p99_ms == 500.0
            && a.messages == 10));
        assert!(parse("abuse --hostile-from nowhere").is_err());
        assert!(parse("fanout").is_ok_and(|a| a.hold_p99_ms == 100.0 && a.rate == 50.0));
        let steps = parse("fanout --steps 500,1000,2000 --stop-on-fail --hold-on ack");
        assert!(
            steps.is_ok_and(|a| a.steps.len() == 3 && a.stop_on_fail && a.hold_on == HoldOn::Ack)
        );
    }

    #[test]
    fn members_spread_or_range() {
        let a = parse("--connections 10 --rooms 4").map_err(|e| e.to_string());
        assert!(
            a.is_ok_and(|a| (0..4).map(|r| a.members_of(r)).collect::<Vec<_>>() == [3, 3, 2, 2])
        );
        let b = parse("--members 1-3 --rooms 5").map_err(|e| e.to_string());
        assert!(b.is_ok_and(|b| b.connections() == 1 + 2 + 3 + 1 + 2 && b.senders() == 5));
    }

    #[test]
    fn layout_puts_one_sender_per_room_and_alternates_urls() {
        let a = match parse("--url a --url b --connections 8 --rooms 2") {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        let slots = layout(&a);
        assert_eq!(slots.len(), 8);
        let senders: Vec<usize> = slots.iter().filter(|s| s.sender).map(|s| s.room).collect();
        assert_eq!(senders, vec![0, 1]);
        // Room 0's members go to a, b, a, b; room 1's to b, a, b, a.
        let room0: Vec<usize> = slots
            .iter()
            .filter(|s| s.room == 0)
            .map(|s| s.url)
            .collect();
        assert_eq!(room0, vec![0, 1, 0, 1]);
        assert_eq!(slots[1].url, 1);
        let b = match parse("--members 1-3 --rooms 3") {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let ranks: Vec<(usize, usize)> = layout(&b).iter().map(|s| (s.room, s.rank)).collect();
        assert_eq!(ranks, vec![(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2)]);
    }
}
