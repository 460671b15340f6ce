//! The worker's configuration: the shared settings plus how it follows
//! the event log.

use std::time::Duration;

use common::config::{self, CommonConfig, ConfigError};

/// Everything the worker reads from the environment.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// What every Parley service reads (database, Redis, listen address...).
    pub common: CommonConfig,
    /// How the followers of the log pace themselves.
    pub follow: FollowConfig,
}

/// How a follower of the event log reads it.
#[derive(Debug, Clone, Copy)]
pub struct FollowConfig {
    /// The pause between passes when every room is caught up
    /// (`FOLLOW_INTERVAL_MS`): how stale search may be.
    pub interval: Duration,
    /// Rooms taken per pass (`FOLLOW_ROOMS_PER_PASS`), furthest behind first.
    pub rooms_per_pass: i64,
    /// Events read per room per transaction (`FOLLOW_EVENTS_PER_ROOM`).
    pub events_per_room: i64,
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            rooms_per_pass: 256,
            events_per_room: 500,
        }
    }
}

impl WorkerConfig {
    /// Reads the environment; the default listen address is 127.0.0.1:8095.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = FollowConfig::default();
        let interval_ms: u64 = config::parsed_or("FOLLOW_INTERVAL_MS", 500)?;
        if !(10..=60_000).contains(&interval_ms) {
            return Err(ConfigError::new(
                "FOLLOW_INTERVAL_MS",
                "must be between 10 and 60000",
            ));
        }
        Ok(Self {
            common: CommonConfig::from_env("127.0.0.1:8095")?,
            follow: FollowConfig {
                interval: Duration::from_millis(interval_ms),
                rooms_per_pass: config::int_between(
                    "FOLLOW_ROOMS_PER_PASS",
                    d.rooms_per_pass,
                    1,
                    10_000,
                )?,
                events_per_room: config::int_between(
                    "FOLLOW_EVENTS_PER_ROOM",
                    d.events_per_room,
                    1,
                    10_000,
                )?,
            },
        })
    }
}
