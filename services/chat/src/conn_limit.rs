//! The cap on one user's open connections, across every instance: a Redis
//! sorted set per user of `instance:conn` entries scored by expiry. Each
//! instance refreshes its entries, so a dead instance's expire.

use std::time::Duration;

use common::Result;
use common::redis_client::RedisConn;

use crate::registry::ConnId;

/// How long an entry lives without a refresh.
pub const TTL: Duration = Duration::from_secs(30);

/// Drops expired entries; adds one unless the user is at the cap. 1 = admitted.
const ACQUIRE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1";

/// Counts connections per user in Redis.
#[derive(Clone)]
pub struct ConnLimit {
    redis: RedisConn,
    prefix: String,
    instance: String,
    max: usize,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl ConnLimit {
    /// At most `max` connections per user across instances; `instance`
    /// names this process's entries so it can refresh them.
    pub fn new(redis: RedisConn, prefix: String, instance: String, max: usize) -> Self {
        Self {
            redis,
            prefix,
            instance,
            max,
        }
    }

    fn key(&self, user: i64) -> String {
        format!("{}conns:{user}", self.prefix)
    }

    fn member(&self, conn: ConnId) -> String {
        format!("{}:{conn}", self.instance)
    }

    /// Takes a slot for `conn`; false when the user already holds the maximum.
    pub async fn acquire(&self, user: i64, conn: ConnId) -> Result<bool> {
        let now = now_ms();
        let admitted: i64 = redis::Script::new(ACQUIRE)
            .key(self.key(user))
            .arg(now)
            .arg(self.max)
            .arg(now + TTL.as_millis() as i64)
            .arg(self.member(conn))
            .arg(TTL.as_millis() as i64 * 4)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(admitted == 1)
    }

    /// Frees `conn`'s slot.
    pub async fn release(&self, user: i64, conn: ConnId) -> Result<()> {
        let _: i64 = redis::cmd("ZREM")
            .arg(self.key(user))
            .arg(self.member(conn))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Extends (or, after Redis lost them, restores) this instance's entries.
    pub async fn refresh(&self, conns: &[(ConnId, i64)]) -> Result<()> {
        if conns.is_empty() {
            return Ok(());
        }
        let expiry = now_ms() + TTL.as_millis() as i64;
        let mut cmds = Vec::with_capacity(conns.len() * 2);
        for (conn, user) in conns {
            let mut add = redis::cmd("ZADD");
            add.arg(self.key(*user)).arg(expiry).arg(self.member(*conn));
            let mut expire = redis::cmd("PEXPIRE");
            expire.arg(self.key(*user)).arg(TTL.as_millis() as i64 * 4);
            cmds.extend([add, expire]);
        }
        self.redis.each(cmds).await
    }
}
