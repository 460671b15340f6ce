//! Who is online in which room, across every chat instance, and telling the
//! room when that changes. Kept in Redis: one sorted set per room whose
//! members are `user|instance|name`. Entries are not refreshed one by one:
//! an entry counts while its instance's heartbeat lives ([`crate::instances`]).
//! When an instance dies, the instances with members in its rooms sweep its
//! entries and announce its users offline; anyone else ignores them, and a
//! join removes them. Updates are Lua scripts, so "became online/offline" is
//! decided atomically and announced once.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::Result;
use common::fanout;
use common::protocol::{ServerFrame, UserRef};
use common::redis_client::RedisConn;
use tokio::sync::watch;

use crate::instances::{Liveness, instance_of};

/// The Lua helpers every script shares: ARGV from `first` on are dead
/// instances; `instance(m)` is the instance an entry names.
macro_rules! with_dead {
    ($first:literal, $body:literal) => {
        concat!(
            "local dead = {}\n",
            "for i = ",
            $first,
            ", #ARGV do dead[ARGV[i]] = true end\n",
            "local function instance(m) return string.match(m, '^[^|]*|([^|]*)|') end\n",
            $body
        )
    };
}

/// Drops dead instances' entries, adds one; returns 1 if the user had no
/// live entry before (now online). ARGV: member, `user|`, key TTL, dead...
const JOIN: &str = with_dead!(
    4,
    r"
local was = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if dead[instance(m)] then
    redis.call('ZREM', KEYS[1], m)
  elseif string.sub(m, 1, #ARGV[2]) == ARGV[2] then
    was = 1
  end
end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1 - was"
);

/// Removes an entry; returns 1 if the user has no live entry left (now
/// offline). ARGV: member, `user|`, dead...
const LEAVE: &str = with_dead!(
    3,
    r"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, 1, #ARGV[2]) == ARGV[2] and not dead[instance(m)] then return 0 end
end
return 1"
);

/// Removes dead instances' entries; returns those of users left with no
/// live entry (each user once). ARGV: dead...
const SWEEP: &str = with_dead!(
    1,
    r"
local live, removed, gone = {}, {}, {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if dead[instance(m)] then
    table.insert(removed, m)
  else
    live[string.match(m, '^([^|]*)|')] = true
  end
end
for _, m in ipairs(removed) do
  redis.call('ZREM', KEYS[1], m)
  local user = string.match(m, '^([^|]*)|')
  if not live[user] then
    table.insert(gone, m)
    live[user] = true
  end
end
return gone"
);

static JOIN_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(JOIN));
static LEAVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(LEAVE));
static SWEEP_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SWEEP));

/// Presence in Redis for one deployment (key prefix) and one instance.
#[derive(Clone)]
pub struct Presence {
    redis: RedisConn,
    prefix: String,
    instance: String,
    liveness: watch::Receiver<Arc<Liveness>>,
    /// How often a room writes its entries again, in case Redis lost them;
    /// room keys expire after three of these without a write.
    refresh: Duration,
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
    /// from `instance`, with the instances' liveness from the heartbeats;
    /// entries are written again every `refresh`.
    pub fn new(
        redis: RedisConn,
        prefix: String,
        instance: String,
        liveness: watch::Receiver<Arc<Liveness>>,
        refresh: Duration,
    ) -> Self {
        Self {
            redis,
            prefix,
            instance,
            liveness,
            refresh,
        }
    }

    /// How often a room writes its entries again.
    pub fn refresh_every(&self) -> Duration {
        self.refresh
    }

    /// The heartbeats' news: rooms sweep when an instance dies and write
    /// their entries again when Redis lost them.
    pub fn liveness(&self) -> watch::Receiver<Arc<Liveness>> {
        self.liveness.clone()
    }

    fn key(&self, room: i64) -> String {
        format!("{}online:{room}", self.prefix)
    }

    fn key_ttl_ms(&self) -> i64 {
        self.refresh.as_millis() as i64 * 3
    }

    fn dead(&self) -> Vec<String> {
        self.liveness.borrow().dead.clone()
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
        let mut pipe = redis::pipe();
        pipe.load_script(&JOIN_SCRIPT).ignore();
        pipe.invoke_script(
            JOIN_SCRIPT
                .key(&key)
                .arg(member(user, &self.instance))
                .arg(format!("{}|", user.id))
                .arg(self.key_ttl_ms())
                .arg(self.dead()),
        );
        pipe.cmd("ZRANGE").arg(&key).arg(0).arg(-1);
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
            let dead = self.dead();
            let mut pipe = redis::pipe();
            pipe.load_script(&LEAVE_SCRIPT).ignore();
            for (user, _) in left {
                pipe.invoke_script(
                    LEAVE_SCRIPT
                        .key(&key)
                        .arg(member(user, &self.instance))
                        .arg(format!("{}|", user.id))
                        .arg(&dead),
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
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.key(room))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(self.listed(&members, leaving))
    }

    /// The users the live entries `members` name, by name, without this
    /// instance's entries of the users in `leaving`.
    fn listed(&self, members: &[String], leaving: &[i64]) -> Vec<UserRef> {
        let liveness = self.liveness.borrow().clone();
        let users = members
            .iter()
            .filter(|m| !instance_of(m).is_some_and(|i| liveness.is_dead(i)))
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

    /// Writes this instance's entries for `users` in `room` again (Redis
    /// may have lost them) and extends the key's life: once per refresh
    /// interval, not per heartbeat.
    pub async fn restore(&self, room: i64, users: &[UserRef]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let key = self.key(room);
        let mut pipe = redis::pipe();
        for user in users {
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(0)
                .arg(member(user, &self.instance))
                .ignore();
        }
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(self.key_ttl_ms())
            .ignore();
        let () = pipe.query_async(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// Removes the entries of dead instances from `room`; returns the users
    /// that left offline, to be announced.
    pub async fn sweep(&self, room: i64) -> Result<Vec<UserRef>> {
        let dead = self.dead();
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let gone: Vec<String> = SWEEP_SCRIPT
            .key(self.key(room))
            .arg(dead)
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
