//! The Redis connection every service uses for commands (not for
//! subscriptions): one server through a reconnecting `ConnectionManager`,
//! or a Redis Cluster through a `ClusterConnection` that routes each
//! command to the master of its key's slot. Both are multiplexed, cheap to
//! clone, and have short timeouts so that an outage fails requests fast
//! (503, `unavailable`) instead of hanging them.
//!
//! Code above this module is the same for both: a command, a script or a
//! pipeline that touches one key (or keys of one hash tag) runs as it is.
//! Work over many keys of different slots goes through [`RedisConn::each`],
//! one pipeline on a single server and concurrent commands on a cluster.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Value};

use crate::config::RedisTarget;
use crate::error::Result;

/// How long connecting to a node, or one answer, may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Commands of one [`RedisConn::each`] in flight at once on a cluster: a
/// refresh of every connection entry must not queue 100,000 at once.
const EACH_IN_FLIGHT: usize = 256;

/// A command connection to one Redis or to a Redis Cluster.
#[derive(Clone)]
pub enum RedisConn {
    /// One server (`REDIS_URL`).
    Single(ConnectionManager),
    /// A cluster (`REDIS_CLUSTER_NODES`); fan-out uses `SPUBLISH` unless
    /// `classic_pubsub` (the benchmark's control).
    Cluster {
        conn: ClusterConnection,
        classic_pubsub: bool,
    },
}

/// Connects to `target`; fails if it cannot be reached now.
pub async fn connect(target: &RedisTarget) -> Result<RedisConn> {
    match target {
        RedisTarget::Single(url) => Ok(RedisConn::Single(connect_single(url.expose()).await?)),
        RedisTarget::Cluster {
            seeds,
            classic_pubsub,
        } => Ok(RedisConn::Cluster {
            conn: cluster_builder(seeds.expose())
                .build()?
                .get_async_connection()
                .await?,
            classic_pubsub: *classic_pubsub,
        }),
    }
}

/// Connects to the one Redis at `url`.
pub async fn connect_single(url: &str) -> Result<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(2);
    Ok(client.get_connection_manager_with_config(config).await?)
}

/// A cluster client for `seeds` with Parley's timeouts, RESP3 (which
/// sharded subscriptions need) and a bounded number of retries, so a dead
/// master fails commands within seconds rather than retrying forever.
pub fn cluster_builder(seeds: &[String]) -> ClusterClientBuilder {
    ClusterClientBuilder::new(seeds.to_vec())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(TIMEOUT)
        .response_timeout(TIMEOUT)
        .retries(3)
}

impl RedisConn {
    /// Whether this is a cluster (sharded pub/sub, one slot per pipeline).
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// The publish command for this deployment's fan-out: `SPUBLISH` on a
    /// cluster (one shard carries it), `PUBLISH` on one server.
    pub fn publish_command(&self) -> &'static str {
        match self {
            Self::Cluster {
                classic_pubsub: false,
                ..
            } => "SPUBLISH",
            _ => "PUBLISH",
        }
    }

    /// Runs `cmds`, which may name keys of different slots, ignoring their
    /// replies: one pipelined round trip on a single server, concurrent
    /// commands (multiplexed on the node connections) on a cluster.
    pub async fn each(&self, cmds: Vec<Cmd>) -> Result<()> {
        if cmds.is_empty() {
            return Ok(());
        }
        match self {
            Self::Single(conn) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd).ignore();
                }
                let () = pipe.query_async(&mut conn.clone()).await?;
            }
            Self::Cluster { .. } => {
                self.each_with::<Value>(cmds).await?;
            }
        }
        Ok(())
    }

    /// Runs `cmds` as [`RedisConn::each`] does, returning each reply in order.
    async fn each_with<T: FromRedisValue>(&self, cmds: Vec<Cmd>) -> Result<Vec<T>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Self::Single(conn) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                Ok(pipe.query_async(&mut conn.clone()).await?)
            }
            Self::Cluster { conn, .. } => {
                use futures_util::{StreamExt, TryStreamExt};
                let runs = futures_util::stream::iter(cmds).map(|cmd| {
                    let mut conn = conn.clone();
                    async move { cmd.query_async::<T>(&mut conn).await }
                });
                Ok(runs.buffered(EACH_IN_FLIGHT).try_collect().await?)
            }
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster { conn, .. } => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster { conn, .. } => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster { conn, .. } => conn.get_db(),
        }
    }
}
