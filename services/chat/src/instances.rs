//! Which chat instances are alive, from one heartbeat per instance.
//!
//! Presence entries and connection counts name the instance that holds
//! them. Rather than each instance refreshing every entry it holds (a write
//! per socket and room every few seconds, which at a million sockets is most
//! of Redis's load), each instance writes one heartbeat: its score in one
//! sorted set (`{prefix}instances`, instance → expiry). An instance whose
//! heartbeat expired is dead: its entries stop counting at once, and are
//! swept (and its users announced offline) by the instances that notice.
//! Redis load then follows messages and joins, not idle people.
//!
//! A heartbeat that finds its own entry gone means Redis lost data (a
//! failover, a flush): [`Liveness::lost`] moves on, and the instance writes
//! its entries again.

use std::sync::Arc;
use std::time::Duration;

use common::Result;
use common::redis_client::RedisConn;
use tokio::sync::watch;

/// How long a dead instance stays listed (so its leftover entries keep
/// being ignored), long past the time presence keys expire.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What the heartbeats tell the rest of the instance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// Instances whose heartbeat expired, sorted.
    pub dead: Vec<String>,
    /// Moves on each time Redis turned out to have lost this instance's
    /// heartbeat (and so, perhaps, its entries).
    pub lost: u64,
}

impl Liveness {
    /// Whether entries of `instance` no longer count.
    pub fn is_dead(&self, instance: &str) -> bool {
        self.dead
            .binary_search_by(|d| d.as_str().cmp(instance))
            .is_ok()
    }
}

/// This instance's heartbeat.
pub struct Heartbeat {
    redis: RedisConn,
    key: String,
    instance: String,
    ttl: Duration,
    tx: watch::Sender<Arc<Liveness>>,
}

impl Heartbeat {
    /// The heartbeat of `instance` under `prefix`; it is dead `ttl` after
    /// its last beat. Returns the receiver everyone else reads.
    pub fn new(
        redis: RedisConn,
        prefix: &str,
        instance: String,
        ttl: Duration,
    ) -> (Self, watch::Receiver<Arc<Liveness>>) {
        let (tx, rx) = watch::channel(Arc::new(Liveness::default()));
        let beat = Self {
            redis,
            key: format!("{prefix}instances"),
            instance,
            ttl,
            tx,
        };
        (beat, rx)
    }

    /// How often it beats: three times per TTL, so one lost beat is harmless.
    pub fn every(&self) -> Duration {
        self.ttl / 3
    }

    /// Beats once: extends this instance's expiry, forgets long-dead
    /// instances and reads the dead ones, in one round trip on one key.
    /// `first` says whether this is the first beat (its entry is new then).
    pub async fn beat(&self, first: bool) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let (added, dead): (i64, Vec<String>) = redis::pipe()
            .cmd("ZADD")
            .arg(&self.key)
            .arg(now + self.ttl.as_millis() as i64)
            .arg(&self.instance)
            .cmd("ZREMRANGEBYSCORE")
            .arg(&self.key)
            .arg("-inf")
            .arg(now - FORGET_AFTER.as_millis() as i64)
            .ignore()
            .cmd("ZRANGEBYSCORE")
            .arg(&self.key)
            .arg("-inf")
            .arg(format!("({now}"))
            .query_async(&mut self.redis.clone())
            .await?;
        let lost = added == 1 && !first;
        let mut dead = dead;
        dead.sort();
        self.tx.send_if_modified(|current| {
            if current.dead == dead && !lost {
                return false;
            }
            if lost {
                tracing::warn!("redis lost this instance's heartbeat; writing its entries again");
            }
            *current = Arc::new(Liveness {
                dead: std::mem::take(&mut dead),
                lost: current.lost + u64::from(lost),
            });
            true
        });
        Ok(())
    }

    /// Beats until the process ends, from one interval after start-up.
    /// `beaten`: the start-up beat went through, so the next one is not
    /// the first (and the interval's immediate tick is skipped).
    pub async fn run(self, beaten: bool) {
        let mut tick = tokio::time::interval(self.every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut first = !beaten;
        loop {
            tick.tick().await;
            match self.beat(first).await {
                Ok(()) => first = false,
                Err(e) => tracing::warn!(error = %e, "could not write the instance heartbeat"),
            }
        }
    }
}

/// The instance a presence entry (`user|instance|name`) or a connection
/// entry (`instance:conn`) names.
pub fn instance_of(entry: &str) -> Option<&str> {
    match entry.split_once('|') {
        Some((_, rest)) => rest.split('|').next(),
        None => entry.split(':').next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_their_instance_and_dead_ones_are_found() {
        assert_eq!(instance_of("7|abc123|ann"), Some("abc123"));
        assert_eq!(instance_of("7|abc123|a|b"), Some("abc123"));
        assert_eq!(instance_of("abc123:42"), Some("abc123"));
        let live = Liveness {
            dead: vec!["a".into(), "c".into()],
            lost: 0,
        };
        assert!(live.is_dead("c"));
        assert!(!live.is_dead("b"));
    }
}
