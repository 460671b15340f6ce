//! The cap on one user's open connections, across every instance: a Redis
//! sorted set per user of `instance:conn` entries. Entries are not
//! refreshed one by one: an entry counts while its instance's heartbeat
//! lives ([`crate::instances`]), and taking a slot drops dead instances'
//! entries first. Each instance writes its entries again once per refresh
//! interval (and when Redis lost them), which also keeps the keys alive.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::Result;
use common::redis_client::RedisConn;
use tokio::sync::watch;

use crate::instances::Liveness;
use crate::registry::ConnId;

/// Drops dead instances' entries; adds one unless the user is at the cap.
/// 1 = admitted. ARGV: max, member, key TTL, dead...
const ACQUIRE: &str = r"
local dead = {}
for i = 4, #ARGV do dead[ARGV[i]] = true end
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if dead[string.match(m, '^([^:]*):')] then redis.call('ZREM', KEYS[1], m) end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1";

static ACQUIRE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ACQUIRE));

/// Counts connections per user in Redis.
#[derive(Clone)]
pub struct ConnLimit {
    redis: RedisConn,
    prefix: String,
    instance: String,
    max: usize,
    liveness: watch::Receiver<Arc<Liveness>>,
    /// How often entries are written again; keys expire after three.
    refresh: Duration,
}

impl ConnLimit {
    /// At most `max` connections per user across instances; `instance`
    /// names this process's entries, `liveness` says whose entries count.
    pub fn new(
        redis: RedisConn,
        prefix: String,
        instance: String,
        max: usize,
        liveness: watch::Receiver<Arc<Liveness>>,
        refresh: Duration,
    ) -> Self {
        Self {
            redis,
            prefix,
            instance,
            max,
            liveness,
            refresh,
        }
    }

    fn key(&self, user: i64) -> String {
        format!("{}connections:{user}", self.prefix)
    }

    fn member(&self, conn: ConnId) -> String {
        format!("{}:{conn}", self.instance)
    }

    fn key_ttl_ms(&self) -> i64 {
        self.refresh.as_millis() as i64 * 3
    }

    /// How often [`ConnLimit::refresh`] should run.
    pub fn refresh_every(&self) -> Duration {
        self.refresh
    }

    /// The heartbeats' news (a refresh is due when Redis lost entries).
    pub fn liveness(&self) -> watch::Receiver<Arc<Liveness>> {
        self.liveness.clone()
    }

    /// Takes a slot for `conn`; false when the user already holds the maximum.
    pub async fn acquire(&self, user: i64, conn: ConnId) -> Result<bool> {
        let dead = self.liveness.borrow().dead.clone();
        let admitted: i64 = ACQUIRE_SCRIPT
            .key(self.key(user))
            .arg(self.max)
            .arg(self.member(conn))
            .arg(self.key_ttl_ms())
            .arg(dead)
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

    /// Writes this instance's entries again (Redis may have lost them) and
    /// extends their keys' life.
    pub async fn refresh(&self, conns: &[(ConnId, i64)]) -> Result<()> {
        let mut cmds = Vec::with_capacity(conns.len() * 2);
        for (conn, user) in conns {
            let mut add = redis::cmd("ZADD");
            add.arg(self.key(*user)).arg(0).arg(self.member(*conn));
            let mut expire = redis::cmd("PEXPIRE");
            expire.arg(self.key(*user)).arg(self.key_ttl_ms());
            cmds.extend([add, expire]);
        }
        self.redis.each(cmds).await
    }
}
