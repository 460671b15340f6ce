//! CPU time and resident memory of process groups, read from /proc.

use std::collections::HashMap;

/// Clock ticks per second of /proc/*/stat times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// A named set of processes: `server=12,34`, `postgres=tree:56` for a
/// process and its children (Postgres's backends), or `redis=main:78` for
/// the main threads only, timed in nanoseconds (`/proc/PID/schedstat`): a
/// single-threaded server such as Redis may use a few ticks in a step, which
/// the 10 ms ticks of `/proc/PID/stat` would round to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub pids: Vec<u32>,
    pub tree: bool,
    /// Only the main threads, from schedstat.
    pub main_thread: bool,
}

impl Group {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad =
            || format!("--group: {raw:?} is not NAME=PID,PID, NAME=tree:PID or NAME=main:PID");
        let (name, rest) = raw.split_once('=').ok_or_else(bad)?;
        let (tree, rest) = match rest.strip_prefix("tree:") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let (main_thread, rest) = match rest.strip_prefix("main:") {
            Some(r) if !tree => (true, r),
            _ => (false, rest),
        };
        let pids = rest
            .split(',')
            .map(|p| p.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        if name.is_empty() || pids.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            name: name.to_owned(),
            pids,
            tree,
            main_thread,
        })
    }
}

/// The fields after the command name of a /proc/PID/stat line.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after = stat.rsplit_once(") ")?.1;
    Some(after.split_whitespace().collect())
}

/// (ppid, own utime+stime, waited-for children's cutime+cstime) in ticks.
fn parse_stat(stat: &str) -> Option<(u32, u64, u64)> {
    let f = stat_fields(stat)?;
    // After the comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((n(1)? as u32, n(11)? + n(12)?, n(13)? + n(14)?))
}

fn read_stat(pid: u32) -> Option<(u32, u64, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds of a process's main thread, to the nanosecond (the first
/// field of /proc/PID/schedstat).
fn main_thread_cpu_s(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Children of each process, by one scan of /proc.
fn children() -> HashMap<u32, Vec<u32>> {
    let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                && let Some((ppid, ..)) = read_stat(pid)
            {
                map.entry(ppid).or_default().push(pid);
            }
        }
    }
    map
}

/// What one sample of a group found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// CPU seconds used so far (children's included for a tree).
    pub cpu_s: f64,
    pub rss_kib: u64,
}

/// Samples every group (one /proc scan when any group is a tree).
pub fn sample(groups: &[Group]) -> Vec<Sample> {
    let kids = if groups.iter().any(|g| g.tree) {
        children()
    } else {
        HashMap::new()
    };
    groups
        .iter()
        .map(|g| {
            if g.main_thread {
                return Sample {
                    cpu_s: g.pids.iter().filter_map(|p| main_thread_cpu_s(*p)).sum(),
                    rss_kib: g.pids.iter().filter_map(|p| rss_kib(*p)).sum(),
                };
            }
            let mut pids = g.pids.clone();
            let mut ticks = 0;
            if g.tree {
                for p in &g.pids {
                    pids.extend(kids.get(p).into_iter().flatten().copied());
                    ticks += read_stat(*p).map(|(_, _, waited)| waited).unwrap_or(0);
                }
            }
            ticks += pids
                .iter()
                .filter_map(|p| read_stat(*p))
                .map(|(_, own, _)| own)
                .sum::<u64>();
            Sample {
                cpu_s: ticks as f64 / TICKS,
                rss_kib: pids.iter().filter_map(|p| rss_kib(*p)).sum(),
            }
        })
        .collect()
}

/// CPU seconds this process has used.
pub fn self_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map(|(_, own, _)| own as f64 / TICKS)
        .unwrap_or(0.0)
}

/// Busy and total CPU time of the whole machine (ticks), from /proc/stat.
pub fn machine_ticks() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = s.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Time the whole machine spent in soft interrupts (ticks), from /proc/stat:
/// on loopback that is where packets are carried, accounted to no process.
pub fn softirq_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            // cpu user nice system idle iowait irq softirq steal ...
            s.lines().next()?.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// `{name}_cores` (CPU cores used between two samples over `secs`) and
/// `{name}_rss_kib` (at the second) for every group.
pub fn usage(
    groups: &[Group],
    before: &[Sample],
    after: &[Sample],
    secs: f64,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for ((g, b), a) in groups.iter().zip(before).zip(after) {
        let cores = (a.cpu_s - b.cpu_s) / secs.max(0.001);
        // Nanosecond times keep their precision: a Redis node may use a
        // hundredth of a core.
        let cores = if g.main_thread {
            (cores * 1e5).round() / 1e5
        } else {
            round2(cores)
        };
        m.insert(format!("{}_cores", g.name), cores.into());
        m.insert(format!("{}_rss_kib", g.name), a.rss_kib.into());
    }
    m
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse() {
        assert_eq!(
            Group::parse("server=1, 2"),
            Ok(Group {
                name: "server".into(),
                pids: vec![1, 2],
                tree: false,
                main_thread: false,
            })
        );
        assert!(
            Group::parse("redis=main:3,4")
                .is_ok_and(|g| g.main_thread && !g.tree && g.pids == vec![3, 4])
        );
        assert!(Group::parse("postgres=tree:9").is_ok_and(|g| g.tree && g.pids == vec![9]));
        assert!(Group::parse("server").is_err());
        assert!(Group::parse("=1").is_err());
        assert!(Group::parse("x=a").is_err());
    }

    #[test]
    fn stat_lines_with_spaces_in_the_name() {
        let line =
            "42 (chat (x) 1) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 9 0 100 1000 50";
        assert_eq!(parse_stat(line), Some((7, 300, 7)));
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id();
        let g = Group {
            name: "me".into(),
            pids: vec![me],
            tree: true,
            main_thread: false,
        };
        let s = sample(std::slice::from_ref(&g));
        assert!(s[0].rss_kib > 0);
        let main = Group {
            main_thread: true,
            tree: false,
            ..g.clone()
        };
        // The main thread has run (it started the tests), so it has time.
        assert!(sample(std::slice::from_ref(&main))[0].cpu_s > 0.0);
        let u = usage(&[g], &s, &s, 1.0);
        assert_eq!(u.get("me_cores"), Some(&serde_json::json!(0.0)));
        assert!(machine_ticks().1 > 0);
        assert!(softirq_ticks() <= machine_ticks().1);
    }
}
