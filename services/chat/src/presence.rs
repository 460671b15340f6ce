//! Who is online in which room, across every chat instance, and telling the
//! room when that changes. Kept in Redis: one sorted set per room whose
//! members are `user|instance|name` and whose scores are expiry times.
//! Each instance refreshes its own entries; entries of an instance that
//! died expire, and the next sweep announces those users offline. Updates are Lua scripts, so "became online/offline" is decided
//! atomically and announced once.

use std::time::Duration;

use common::Result;
use common::fanout;
use common::protocol::{ServerFrame, UserRef};
use redis::aio::ConnectionManager;

/// Adds an entry; returns 1 if the user had no live entry before (now online).
const JOIN: &str = r"
local was = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do
  if string.sub(m, 1, #ARGV[4]) == ARGV[4] then was = 1 break end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1 - was";

/// Removes an entry; returns 1 if the user has no live entry left (now offline).
const LEAVE: &str = r"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf')) do
  if string.sub(m, 1, #ARGV[3]) == ARGV[3] then return 0 end
end
return 1";

/// Removes expired entries; returns the members of users left with none.
const SWEEP: &str = r"
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if #expired == 0 then return {} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local live = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
local gone = {}
for _, e in ipairs(expired) do
  local prefix = string.match(e, '^[^|]*|')
  local still = false
  for _, m in ipairs(live) do
    if string.sub(m, 1, #prefix) == prefix then still = true break end
  end
  if not still then
    table.insert(gone, e)
    table.insert(live, e)
  end
end
return gone";

/// Presence in Redis for one deployment (key prefix) and one instance.
#[derive(Clone)]
pub struct Presence {
    redis: ConnectionManager,
    prefix: String,
    instance: String,
    /// How long an entry lives without a refresh.
    ttl: Duration,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn member(user: &UserRef, instance: &str) -> String {
    format!("{}|{instance}|{}", user.id, user.name)
}

/// The user an entry names.
fn parse_member(m: &str) -> Option<UserRef> {
    let mut parts = m.splitn(3, '|');
    let id = parts.next()?.parse().ok()?;
    let _instance = parts.next()?;
    Some(UserRef {
        id,
        name: parts.next()?.to_owned(),
    })
}

impl Presence {
    /// Presence for the deployment whose keys start with `prefix`, as seen
    /// from `instance`; entries live `ttl` without a refresh.
    pub fn new(redis: ConnectionManager, prefix: String, instance: String, ttl: Duration) -> Self {
        Self {
            redis,
            prefix,
            instance,
            ttl,
        }
    }

    /// How often entries are refreshed and expired ones swept: a third of the TTL.
    pub fn refresh_every(&self) -> Duration {
        self.ttl / 3
    }

    fn key(&self, room: i64) -> String {
        format!("{}presence:{room}", self.prefix)
    }

    /// Marks `user` present in `room` from this instance; true if they just came online.
    pub async fn join(&self, room: i64, user: &UserRef) -> Result<bool> {
        let now = now_ms();
        let became: i64 = redis::Script::new(JOIN)
            .key(self.key(room))
            .arg(member(user, &self.instance))
            .arg(now + self.ttl.as_millis() as i64)
            .arg(now)
            .arg(format!("{}|", user.id))
            .arg(self.ttl.as_millis() as i64 * 4)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(became == 1)
    }

    /// Removes this instance's entry; true if the user is now offline in the room.
    pub async fn leave(&self, room: i64, user: &UserRef) -> Result<bool> {
        let gone: i64 = redis::Script::new(LEAVE)
            .key(self.key(room))
            .arg(member(user, &self.instance))
            .arg(now_ms())
            .arg(format!("{}|", user.id))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(gone == 1)
    }

    /// Everyone online in `room`, each user once, ordered by name.
    pub async fn online(&self, room: i64) -> Result<Vec<UserRef>> {
        let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.key(room))
            .arg(now_ms())
            .arg("+inf")
            .query_async(&mut self.redis.clone())
            .await?;
        let mut users: Vec<UserRef> = members.iter().filter_map(|m| parse_member(m)).collect();
        users.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        users.dedup_by_key(|u| u.id);
        Ok(users)
    }

    /// Extends this instance's entries for `users` in `room`, then removes
    /// expired entries of any instance; returns users who went offline.
    pub async fn refresh_and_sweep(&self, room: i64, users: &[UserRef]) -> Result<Vec<UserRef>> {
        let key = self.key(room);
        let expiry = now_ms() + self.ttl.as_millis() as i64;
        if !users.is_empty() {
            let mut pipe = redis::pipe();
            for user in users {
                pipe.cmd("ZADD")
                    .arg(&key)
                    .arg(expiry)
                    .arg(member(user, &self.instance))
                    .ignore();
            }
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(self.ttl.as_millis() as i64 * 4)
                .ignore();
            let _: () = pipe.query_async(&mut self.redis.clone()).await?;
        }
        let gone: Vec<String> = redis::Script::new(SWEEP)
            .key(&key)
            .arg(now_ms())
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(gone.iter().filter_map(|m| parse_member(m)).collect())
    }

    /// Tells the room's members on every instance that `user` came online
    /// or went offline; not the user it is about (`joined` lists them). A
    /// failure is logged: presence is best effort.
    pub async fn announce(&self, room: i64, user: &UserRef, online: bool) {
        let frame = ServerFrame::Presence {
            room,
            user: user.clone(),
            online,
        }
        .to_json();
        if let Err(e) =
            fanout::publish_event(&self.redis, &self.prefix, room, user.id, &frame).await
        {
            tracing::warn!(error = %e, room.id = room, "could not announce presence");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_name_their_user() {
        let ann = UserRef {
            id: 3,
            name: "ann".into(),
        };
        assert_eq!(parse_member(&member(&ann, "i-1")), Some(ann));
        assert_eq!(parse_member("x|i|ann"), None);
    }
}
