//! What `abuse` watches on the server's side: the chat processes'
//! resident memory, sampled all along (the most it grew is what counts),
//! and the chat instances' own counters from their `/metrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::Failure;
use crate::procstat::{self, Group};

/// The groups' resident memory, summed over every process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Before the hostile user started.
    pub before_kib: u64,
    /// The most seen while it ran (and until the ordinary users were done).
    pub max_kib: u64,
    /// At the last sample.
    pub last_kib: u64,
    /// Samples taken.
    pub samples: u64,
    /// Every process was still there at the last sample.
    pub alive: bool,
}

impl Memory {
    /// The most the memory grew over its start, in MiB.
    pub fn growth_mib(&self) -> f64 {
        self.max_kib.saturating_sub(self.before_kib) as f64 / 1024.0
    }
}

/// The summed RSS of `groups` and whether every process is still there.
fn rss(groups: &[Group]) -> (u64, bool) {
    let total = procstat::sample(groups).iter().map(|s| s.rss_kib).sum();
    let alive = groups
        .iter()
        .flat_map(|g| &g.pids)
        .all(|p| procstat::rss_kib(*p).is_some());
    (total, alive)
}

/// Samples the groups' memory now and then every `every` until `stop`
/// says true; the first sample is the baseline.
pub async fn watch_memory(
    groups: Vec<Group>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Memory {
    let (first, alive) = rss(&groups);
    let mut m = Memory {
        before_kib: first,
        max_kib: first,
        last_kib: first,
        samples: 1,
        alive,
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {}
        }
        let (now, alive) = rss(&groups);
        m.max_kib = m.max_kib.max(now);
        m.last_kib = now;
        m.alive = alive;
        m.samples += 1;
        if *stop.borrow() {
            return m;
        }
    }
}

/// Each metric of the Prometheus text format `text`, by name (labels
/// dropped, values of the same name added up).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = name.split('{').next().unwrap_or(name).trim();
        if let Ok(v) = value.trim().parse::<f64>()
            && !name.is_empty()
        {
            *out.entry(name.to_owned()).or_insert(0.0) += v;
        }
    }
    out
}

/// The metrics of every URL, added up by name.
pub async fn scrape(urls: &[String]) -> Result<BTreeMap<String, f64>, Failure> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut total = BTreeMap::new();
    for url in urls {
        let text = client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        for (name, v) in parse_metrics(&text) {
            *total.entry(name).or_insert(0.0) += v;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_by_name() {
        let text = "# HELP parley_chat_slow_consumers_total x\n\
                    # TYPE parley_chat_slow_consumers_total counter\n\
                    parley_chat_slow_consumers_total 3\n\
                    parley_chat_websocket_connections 17\n\
                    http_requests{method=\"GET\"} 2\n\
                    http_requests{method=\"POST\"} 5\n\
                    garbage\n";
        let m = parse_metrics(text);
        assert_eq!(m.get("parley_chat_slow_consumers_total"), Some(&3.0));
        assert_eq!(m.get("parley_chat_websocket_connections"), Some(&17.0));
        assert_eq!(m.get("http_requests"), Some(&7.0));
        assert_eq!(m.len(), 3);
    }

    #[tokio::test]
    async fn memory_of_this_process_is_watched() {
        let g = Group {
            name: "me".into(),
            pids: vec![std::process::id()],
            tree: false,
            main_thread: false,
        };
        let (tx, rx) = watch::channel(false);
        let watching = tokio::spawn(watch_memory(vec![g], Duration::from_millis(5), rx));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let _ = tx.send(true);
        let m = watching.await.unwrap_or_default();
        assert!(m.before_kib > 0 && m.max_kib >= m.before_kib && m.samples >= 2 && m.alive);
    }
}
