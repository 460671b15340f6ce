//! Who is online in which room, across every chat instance, and telling the
//! room when that changes. Kept in Redis: one sorted set per room whose
//! members are `user|instance|name` and whose scores are expiry times.
//! Each instance refreshes its own entries; entries of an instance that
//! died expire, and the next sweep announces those users offline. Updates are Lua scripts, so "became online/offline" is decided
//! atomically and announced once.

use std::sync::LazyLock;
use std::time::Duration;

use common::Result;
use common::fanout;
use common::protocol::{ServerFrame, UserRef};
use common::redis_client::RedisConn;

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

static JOIN_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(JOIN));
static LEAVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(LEAVE));

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
    redis: RedisConn,
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
    pub fn new(redis: RedisConn, prefix: String, instance: String, ttl: Duration) -> Self {
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

    /// Records that `user` has a connection in `room` here and reads who is
    /// online there, in one round trip: whether the user just came online
    /// (to be announced), and everyone online, ordered by name, leaving out
    /// this instance's entries of the users in `leaving` (their last
    /// connection here has gone; the entry goes with the next batch).
    pub async fn arrive(
        &self,
        room: i64,
        user: &UserRef,
        leaving: &[i64],
    ) -> Result<(bool, Vec<UserRef>)> {
        let key = self.key(room);
        let now = now_ms();
        let ttl = self.ttl.as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.load_script(&JOIN_SCRIPT).ignore();
        pipe.invoke_script(
            JOIN_SCRIPT
                .key(&key)
                .arg(member(user, &self.instance))
                .arg(now + ttl)
                .arg(now)
                .arg(format!("{}|", user.id))
                .arg(ttl * 4),
        );
        pipe.cmd("ZRANGEBYSCORE").arg(&key).arg(now).arg("+inf");
        let (came, members): (i64, Vec<String>) = pipe.query_async(&mut self.redis.clone()).await?;
        Ok((came == 1, self.listed(&members, leaving)))
    }

    /// Settles a room's gathered presence changes in two round trips at
    /// most: removes this instance's entries of the users in `left` (each
    /// with whether its going offline is to be announced), then announces
    /// `arrived` online and those of `left` now offline everywhere.
    pub async fn settle(
        &self,
        room: i64,
        arrived: &[UserRef],
        left: &[(UserRef, bool)],
    ) -> Result<()> {
        let mut frames: Vec<(i64, String)> = arrived
            .iter()
            .map(|user| (user.id, presence_frame(room, user, true)))
            .collect();
        if !left.is_empty() {
            let key = self.key(room);
            let now = now_ms();
            let mut pipe = redis::pipe();
            pipe.load_script(&LEAVE_SCRIPT).ignore();
            for (user, _) in left {
                pipe.invoke_script(
                    LEAVE_SCRIPT
                        .key(&key)
                        .arg(member(user, &self.instance))
                        .arg(now)
                        .arg(format!("{}|", user.id)),
                );
            }
            let gone: Vec<i64> = pipe.query_async(&mut self.redis.clone()).await?;
            frames.extend(
                left.iter()
                    .zip(gone)
                    .filter(|((_, announce), gone)| *announce && *gone == 1)
                    .map(|((user, _), _)| (user.id, presence_frame(room, user, false))),
            );
        }
        if let Err(e) = fanout::publish_events(&self.redis, &self.prefix, room, &frames).await {
            tracing::warn!(error = %e, room.id = room, "could not announce presence");
        }
        Ok(())
    }

    /// Everyone online in `room`, as [`Presence::arrive`] reads it, without
    /// recording anything.
    pub async fn online(&self, room: i64, leaving: &[i64]) -> Result<Vec<UserRef>> {
        let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.key(room))
            .arg(now_ms())
            .arg("+inf")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(self.listed(&members, leaving))
    }

    /// The users the live entries `members` name, by name, without this
    /// instance's entries of the users in `leaving`.
    fn listed(&self, members: &[String], leaving: &[i64]) -> Vec<UserRef> {
        let users = members
            .iter()
            .filter(|m| !self.is_leaving(m, leaving))
            .filter_map(|m| parse_member(m))
            .collect();
        by_name(users)
    }

    /// Whether entry `m` is this instance's entry of a user in `leaving`.
    fn is_leaving(&self, m: &str, leaving: &[i64]) -> bool {
        let mut parts = m.splitn(3, '|');
        let id = parts.next().and_then(|id| id.parse::<i64>().ok());
        let instance = parts.next();
        instance == Some(self.instance.as_str()) && id.is_some_and(|id| leaving.contains(&id))
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

    /// Tells the room's members on every instance that `user` went
    /// offline (their instance died and the sweep found it).
    pub async fn announce_offline(&self, room: i64, users: &[UserRef]) {
        let frames: Vec<(i64, String)> = users
            .iter()
            .map(|user| (user.id, presence_frame(room, user, false)))
            .collect();
        if let Err(e) = fanout::publish_events(&self.redis, &self.prefix, room, &frames).await {
            tracing::warn!(error = %e, room.id = room, "could not announce presence");
        }
    }
}

/// Users each once, ordered by name (case-insensitively), then id.
pub fn by_name(mut users: Vec<UserRef>) -> Vec<UserRef> {
    // Each name lower-cased once, not once per comparison: a room's list
    // is sorted on every join.
    users.sort_by_cached_key(|u| (u.name.to_lowercase(), u.id));
    users.dedup_by_key(|u| u.id);
    users
}

/// A `presence` frame: for the room's members, not the user it is about
/// (`joined` lists them).
fn presence_frame(room: i64, user: &UserRef, online: bool) -> String {
    ServerFrame::Presence {
        room,
        user: user.clone(),
        online,
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_lists_are_by_name_ignoring_case_each_user_once() {
        let user = |id: i64, name: &str| UserRef {
            id,
            name: name.into(),
        };
        let sorted = by_name(vec![
            user(2, "bob"),
            user(1, "Ann"),
            user(2, "bob"),
            user(3, "ann"),
        ]);
        assert_eq!(sorted, vec![user(1, "Ann"), user(3, "ann"), user(2, "bob")]);
    }

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
