//! A Redis Cluster of a test's own: `redis-server` processes on loopback
//! ports, started by the test and killed when it ends, so a test can kill a
//! master (`SIGKILL`) or move a slot under a running system and watch what
//! the product does, without touching any other test's Redis.
//!
//! [`RedisCluster::start`] builds 3 masters and 3 replicas with
//! `redis-cli --cluster create … --cluster-replicas 1` and
//! `cluster-node-timeout 2000` (a replica is promoted some 3–4 s after its
//! master dies). [`RedisCluster::start_single`] is one node owning every slot
//! (`CLUSTER ADDSLOTSRANGE 0 16383`, ready in about 2 s), for tests of Redis
//! code that must also work on a cluster (`CROSSSLOT`, `MOVED`, `SPUBLISH`).
//!
//! Every node asks for a password (`requirepass`, and `masterauth` for the
//! replicas); [`RedisCluster::seeds`] carries it in the URLs. Nodes log to
//! files in the cluster's temporary directory; a start-up failure prints
//! their tails. The harness panics with a message when anything is wrong
//! (as the rest of test-support does): a test that cannot get its cluster
//! fails loudly.
//!
//! Views of the cluster are read with `CLUSTER NODES` from every live node
//! and trusted only when they agree, so a helper never acts on a node that
//! has not yet heard of a failover or a slot move.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue};

use crate::free_port;

/// `cluster-node-timeout` in milliseconds: how long a node may be silent
/// before it is suspected; with 2000 a replica takes over in about 3.6 s.
pub const NODE_TIMEOUT_MS: u64 = 2000;

/// How long start-up (spawn, create, settle) may take on a busy machine.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How long a failover or a slot move may take to be seen by every node.
const CHANGE_DEADLINE: Duration = Duration::from_secs(30);

/// How long one admin connection or one answer may take.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// How often views are polled while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Attempts at starting a node on fresh ports when another process took
/// the ones picked (ports are free when picked, not reserved).
const SPAWN_ATTEMPTS: usize = 5;

/// Keys one `MIGRATE` carries while a slot is moved.
const MIGRATE_BATCH: usize = 100;

/// A Redis Cluster on loopback; every node is killed and its directory
/// removed when this is dropped.
pub struct RedisCluster {
    dir: tempfile::TempDir,
    password: String,
    nodes: Vec<Node>,
}

/// One `redis-server` of the cluster.
struct Node {
    port: u16,
    /// `None` once killed.
    child: Option<Child>,
}

/// One line of `CLUSTER NODES`, the parts the helpers use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's id (`CLUSTER MYID`).
    pub id: String,
    /// Its client port.
    pub port: u16,
    /// A master (even one without slots), not a replica.
    pub master: bool,
    /// Marked `fail` or `fail?` by the node that answered.
    pub failing: bool,
    /// Still in handshake, or without a known address.
    pub joining: bool,
    /// For a replica: its master's id.
    pub master_id: Option<String>,
    /// Slot ranges it serves (inclusive), without migrating/importing marks.
    pub slots: Vec<(u16, u16)>,
}

impl NodeInfo {
    /// Whether it serves `slot`.
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
    }
}

/// What [`RedisCluster::move_slot_of`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotMove {
    /// The slot moved.
    pub slot: u16,
    /// The master that owned it.
    pub from: u16,
    /// The master that owns it now.
    pub to: u16,
    /// Keys carried over with `MIGRATE`.
    pub keys_moved: usize,
}

impl RedisCluster {
    /// Three masters and three replicas (one per master), every node agreeing
    /// on the slot map and every replica in sync with its master.
    pub async fn start() -> Self {
        let cluster = Self::spawn(6).await;
        cluster.create().await;
        cluster.settle(6).await;
        cluster
    }

    /// One node that owns all 16384 slots: a real cluster (`MOVED`,
    /// `CROSSSLOT`, `SPUBLISH`), fast to start, nothing to fail over to.
    pub async fn start_single() -> Self {
        let cluster = Self::spawn(1).await;
        let port = cluster.nodes[0].port;
        let () = cluster
            .query(
                port,
                redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(0).arg(16383),
            )
            .await
            .expect("CLUSTER ADDSLOTSRANGE 0 16383");
        cluster.settle(1).await;
        cluster
    }

    /// Starts `count` empty cluster-enabled nodes (off the runtime's
    /// threads: waiting for them blocks).
    async fn spawn(count: usize) -> Self {
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::Builder::new()
                .prefix("parley-redis-cluster-")
                .tempdir()
                .expect("create the cluster's temporary directory");
            let password = uuid::Uuid::new_v4().simple().to_string();
            let nodes = (0..count)
                .map(|_| spawn_node(dir.path(), &password))
                .collect();
            Self {
                dir,
                password,
                nodes,
            }
        })
        .await
        .expect("start the nodes")
    }

    /// `redis-cli --cluster create` over every node, one replica per master.
    async fn create(&self) {
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(str::to_owned));
        let password = self.password.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("redis-cli")
                .args(&args)
                // Not `-a`: redis-cli warns about a password on the command line.
                .env("REDISCLI_AUTH", password)
                .stdin(Stdio::null())
                .output()
        })
        .await
        .expect("join redis-cli")
        .expect("run redis-cli (installed with redis-server)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
    }

    /// Waits until every node says `cluster_state:ok`, knows all `count`
    /// nodes, agrees with the others on who serves each slot, and every
    /// replica's link to its master is up.
    async fn settle(&self, count: usize) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if self.settled(count).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle within {START_DEADLINE:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn settled(&self, count: usize) -> bool {
        let Some(view) = self.agreed_view().await else {
            return false;
        };
        if view.len() != count || view.iter().any(|n| n.joining || n.failing) {
            return false;
        }
        let covered: u32 = view
            .iter()
            .flat_map(|n| &n.slots)
            .map(|&(a, b)| u32::from(b - a) + 1)
            .sum();
        if covered != 16384 {
            return false;
        }
        if !self.all_live_ok().await {
            return false;
        }
        for replica in view.iter().filter(|n| !n.master) {
            let info: String = match self
                .query(replica.port, redis::cmd("INFO").arg("replication"))
                .await
            {
                Ok(info) => info,
                Err(_) => return false,
            };
            if !info.contains("master_link_status:up") {
                return false;
            }
        }
        true
    }

    /// The value for `REDIS_CLUSTER_NODES`: every node's URL (password
    /// included), comma-separated. Killed nodes stay in it, as they would in
    /// a deployment's configuration.
    pub fn seeds(&self) -> String {
        self.seed_urls().join(",")
    }

    /// Every node's URL, in start order.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| self.url_of(n.port)).collect()
    }

    /// The URL of the node on `port`, password included.
    pub fn url_of(&self, port: u16) -> String {
        format!("redis://:{}@127.0.0.1:{port}", self.password)
    }

    /// The directory holding the nodes' configuration and logs (removed
    /// when the cluster is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The password every node asks for.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Ports of nodes not killed.
    pub fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`; hash tags count).
    pub async fn slot_of(&self, key: &str) -> u16 {
        let port = self.any_live_port();
        self.query(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .await
            .expect("CLUSTER KEYSLOT")
    }

    /// The port of the master serving `slot`, once every live node agrees.
    pub async fn master_of_slot(&self, slot: u16) -> u16 {
        let deadline = Instant::now() + CHANGE_DEADLINE;
        loop {
            if let Some(view) = self.agreed_view().await
                && let Some(owner) = view.iter().find(|n| n.master && !n.failing && n.owns(slot))
            {
                return owner.port;
            }
            assert!(
                Instant::now() < deadline,
                "the live nodes did not agree on slot {slot}'s master within {CHANGE_DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The masters serving slots, by port, once every live node agrees.
    pub async fn masters(&self) -> Vec<u16> {
        let deadline = Instant::now() + CHANGE_DEADLINE;
        loop {
            if let Some(view) = self.agreed_view().await {
                let mut masters: Vec<u16> = view
                    .iter()
                    .filter(|n| n.master && !n.failing && !n.slots.is_empty())
                    .map(|n| n.port)
                    .collect();
                masters.sort_unstable();
                return masters;
            }
            assert!(
                Instant::now() < deadline,
                "the live nodes did not agree on the masters within {CHANGE_DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// `CLUSTER NODES` as seen by the node on `port`.
    pub async fn view_of(&self, port: u16) -> redis::RedisResult<Vec<NodeInfo>> {
        let text: String = self.query(port, redis::cmd("CLUSTER").arg("NODES")).await?;
        Ok(parse_cluster_nodes(&text))
    }

    /// `SIGKILL`s the master serving `key`'s slot (everything in flight on
    /// it is lost, its sockets close) and returns its port. The slot then
    /// has no master until its replica is promoted: see [`Self::wait_promoted`].
    pub async fn kill_master_of(&mut self, key: &str) -> u16 {
        let slot = self.slot_of(key).await;
        let port = self.master_of_slot(slot).await;
        self.kill_node(port);
        port
    }

    /// `SIGKILL`s the node on `port` (no-op if it is already dead).
    pub fn kill_node(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no node of this cluster on port {port}"));
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until a live node serves `slot` after its master was killed,
    /// and returns when the promotion was first seen by any live node.
    /// Before returning it also waits until every live node agrees and says
    /// `cluster_state:ok`, so that what the test does next sees the new map.
    pub async fn wait_promoted(&self, slot: u16) -> Instant {
        let deadline = Instant::now() + CHANGE_DEADLINE;
        let live = self.live_ports();
        let seen = 'seen: loop {
            for &port in &live {
                if let Ok(view) = self.view_of(port).await
                    && view
                        .iter()
                        .any(|n| n.master && !n.failing && n.owns(slot) && live.contains(&n.port))
                {
                    break 'seen Instant::now();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no live node took over slot {slot} within {CHANGE_DEADLINE:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL).await;
        };
        self.wait_until(
            deadline,
            "every live node to accept the promotion",
            || async {
                let Some(view) = self.agreed_view().await else {
                    return false;
                };
                view.iter()
                    .any(|n| n.master && !n.failing && n.owns(slot) && live.contains(&n.port))
                    && self.all_live_ok().await
            },
        )
        .await;
        seen
    }

    /// Moves `key`'s slot to another master the way `redis-cli --cluster
    /// reshard` does: `SETSLOT IMPORTING` on the target, `MIGRATING` on the
    /// source, `MIGRATE` of the keys, then `SETSLOT NODE` on the target, the
    /// source and the other masters. Returns once every live node agrees on
    /// the new owner. Subscribers of the slot's shard channels on the old
    /// shard get an unsolicited `sunsubscribe`.
    pub async fn move_slot_of(&self, key: &str) -> SlotMove {
        let slot = self.slot_of(key).await;
        let from = self.master_of_slot(slot).await;
        let to = self
            .masters()
            .await
            .into_iter()
            .find(|&m| m != from)
            .expect("another master to move the slot to (a single-node cluster has none)");
        self.move_slot(slot, from, to).await
    }

    /// Moves `slot` from the master on `from` to the master on `to`.
    pub async fn move_slot(&self, slot: u16, from: u16, to: u16) -> SlotMove {
        let from_id = self.id_of(from).await;
        let to_id = self.id_of(to).await;
        let setslot = |state: &str, id: &str| {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(slot).arg(state).arg(id);
            cmd
        };
        let () = self
            .query(to, &setslot("IMPORTING", &from_id))
            .await
            .expect("SETSLOT IMPORTING on the target");
        let () = self
            .query(from, &setslot("MIGRATING", &to_id))
            .await
            .expect("SETSLOT MIGRATING on the source");
        let mut keys_moved = 0;
        loop {
            let keys: Vec<String> = self
                .query(
                    from,
                    redis::cmd("CLUSTER")
                        .arg("GETKEYSINSLOT")
                        .arg(slot)
                        .arg(MIGRATE_BATCH),
                )
                .await
                .expect("CLUSTER GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            keys_moved += keys.len();
            let mut migrate = redis::cmd("MIGRATE");
            migrate
                .arg("127.0.0.1")
                .arg(to)
                .arg("")
                .arg(0)
                .arg(IO_TIMEOUT.as_millis() as u64)
                .arg("AUTH")
                .arg(&self.password)
                .arg("KEYS")
                .arg(&keys);
            let _: redis::Value = self.query(from, &migrate).await.expect("MIGRATE");
        }
        // The target first, so the slot is never left without an owner.
        let () = self
            .query(to, &setslot("NODE", &to_id))
            .await
            .expect("SETSLOT NODE on the target");
        let () = self
            .query(from, &setslot("NODE", &to_id))
            .await
            .expect("SETSLOT NODE on the source");
        for other in self.masters().await {
            if other != from && other != to {
                let () = self
                    .query(other, &setslot("NODE", &to_id))
                    .await
                    .expect("SETSLOT NODE on another master");
            }
        }
        let deadline = Instant::now() + CHANGE_DEADLINE;
        self.wait_until(
            deadline,
            "every live node to see the moved slot",
            || async {
                self.agreed_view()
                    .await
                    .is_some_and(|view| view.iter().any(|n| n.port == to && n.owns(slot)))
            },
        )
        .await;
        SlotMove {
            slot,
            from,
            to,
            keys_moved,
        }
    }

    /// Sorts `keys` by the port of the master serving each one's slot.
    /// Useful for picking rooms whose channels land on every master.
    pub async fn group_by_master(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> BTreeMap<u16, Vec<String>> {
        let view = self.stable_view().await;
        let port = self.any_live_port();
        let mut conn = self.connect(port).await.expect("connect to a live node");
        let mut groups: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for key in keys {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("CLUSTER KEYSLOT");
            let owner = view
                .iter()
                .find(|n| n.master && !n.failing && n.owns(slot))
                .expect("every slot is served");
            groups.entry(owner.port).or_default().push(key);
        }
        groups
    }

    /// `per_master` keys `{prefix}0`, `{prefix}1`, … for every master serving
    /// slots (by port): the first ones CRC16 sends there.
    pub async fn keys_on_each_master(
        &self,
        prefix: &str,
        per_master: usize,
    ) -> BTreeMap<u16, Vec<String>> {
        let masters = self.masters().await;
        let mut picked: BTreeMap<u16, Vec<String>> =
            masters.iter().map(|&m| (m, Vec::new())).collect();
        let mut next = 0u64;
        while picked.values().any(|keys| keys.len() < per_master) {
            let batch: Vec<String> = (next..next + 64).map(|i| format!("{prefix}{i}")).collect();
            next += 64;
            for (master, keys) in self.group_by_master(batch).await {
                let chosen = picked.entry(master).or_default();
                let wanted = per_master.saturating_sub(chosen.len());
                chosen.extend(keys.into_iter().take(wanted));
            }
        }
        picked
    }

    /// The tail of every node's log, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(log_path(self.dir.path(), n.port)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- node {} ---\n{}", n.port, tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The node id of the node on `port`.
    async fn id_of(&self, port: u16) -> String {
        self.query(port, redis::cmd("CLUSTER").arg("MYID"))
            .await
            .expect("CLUSTER MYID")
    }

    /// The agreed view, waiting for agreement (helpers that act on it).
    async fn stable_view(&self) -> Vec<NodeInfo> {
        let deadline = Instant::now() + CHANGE_DEADLINE;
        loop {
            if let Some(view) = self.agreed_view().await {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "the live nodes did not agree on the cluster within {CHANGE_DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// `CLUSTER NODES` from every live node, when they all agree on which
    /// nodes are masters, which are failing, and who serves which slots;
    /// `None` while they do not (or a live node does not answer).
    async fn agreed_view(&self) -> Option<Vec<NodeInfo>> {
        let mut agreed: Option<Vec<NodeInfo>> = None;
        for port in self.live_ports() {
            let mut view = self.view_of(port).await.ok()?;
            view.sort_by_key(|n| n.port);
            let comparable: Vec<_> = view
                .iter()
                .map(|n| (n.port, n.master, n.failing, n.joining, &n.slots))
                .collect();
            match &agreed {
                None => agreed = Some(view.clone()),
                Some(first) => {
                    let first: Vec<_> = first
                        .iter()
                        .map(|n| (n.port, n.master, n.failing, n.joining, &n.slots))
                        .collect();
                    if first != comparable {
                        return None;
                    }
                }
            }
        }
        agreed
    }

    /// Every live node says `cluster_state:ok`.
    async fn all_live_ok(&self) -> bool {
        for port in self.live_ports() {
            match self
                .query::<String>(port, redis::cmd("CLUSTER").arg("INFO"))
                .await
            {
                Ok(info) if info.contains("cluster_state:ok") => {}
                _ => return false,
            }
        }
        true
    }

    /// Polls `check` until it holds; panics with `what` at `deadline`.
    async fn wait_until<F, Fut>(&self, deadline: Instant, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        while !check().await {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn any_live_port(&self) -> u16 {
        *self
            .live_ports()
            .first()
            .expect("a live node (every node was killed)")
    }

    /// A fresh connection to one node (nodes die, so none is kept).
    async fn connect(&self, port: u16) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT));
        redis::Client::open(self.url_of(port))?
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// One command on the node on `port`.
    async fn query<T: FromRedisValue>(&self, port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let mut conn = self.connect(port).await?;
        cmd.query_async(&mut conn).await
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // The temporary directory removes itself after this.
    }
}

fn log_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("{port}.log"))
}

/// Starts one cluster-enabled node on free ports (client and bus, chosen
/// separately: `port + 10000` may not exist), retrying on fresh ports when
/// another process took them first, and waits until it answers `PING`.
fn spawn_node(dir: &Path, password: &str) -> Node {
    for _ in 0..SPAWN_ATTEMPTS {
        let port = free_port();
        let bus_port = free_port();
        if bus_port == port {
            continue;
        }
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--cluster-port", &bus_port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            .arg("--cluster-config-file")
            .arg(dir.join(format!("nodes-{port}.conf")))
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(log_path(dir, port))
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--requirepass", password])
            .args(["--masterauth", password])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (installed by scripts/test)");
        if wait_answering(&mut child, port, password) {
            return Node {
                port,
                child: Some(child),
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "redis-server did not start after {SPAWN_ATTEMPTS} attempts; logs in {}",
        dir.display()
    );
}

/// Whether the node on `port` answers an authenticated `PING` before it
/// exits or the start deadline passes (a blocking wait: start-up only).
fn wait_answering(child: &mut Child, port: u16, password: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let url = format!("redis://:{password}@127.0.0.1:{port}");
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false; // exited: most likely a port taken meanwhile
        }
        if let Ok(mut conn) = client.get_connection_with_timeout(IO_TIMEOUT)
            && redis::cmd("PING").query::<String>(&mut conn).is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Parses `CLUSTER NODES` (one line per node:
/// `id ip:port@bus flags master ping pong epoch link slot…`).
pub fn parse_cluster_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let address = fields[1].split('@').next()?;
            let port = address.rsplit_once(':')?.1.parse().ok()?;
            let flags: Vec<&str> = fields[2].split(',').collect();
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(NodeInfo {
                id: fields[0].to_owned(),
                port,
                master: flags.contains(&"master"),
                failing: flags.contains(&"fail") || flags.contains(&"fail?"),
                joining: flags.contains(&"handshake") || flags.contains(&"noaddr"),
                master_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                slots,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_are_parsed_with_ranges_single_slots_and_migrations() {
        let text = "\
d1 127.0.0.1:41001@42001 master - 0 1 2 connected 5461-10922
ae 127.0.0.1:41002@42002 myself,master - 0 1 3 connected 10923-16383 7 [8->-d1]
85 127.0.0.1:41003@42003 slave ae 0 1 3 connected
bd 127.0.0.1:41000@42000 master,fail - 0 1 1 disconnected
";
        let nodes = parse_cluster_nodes(text);
        assert_eq!(nodes.len(), 4);
        assert_eq!(nodes[0].port, 41001);
        assert!(nodes[0].master && !nodes[0].failing);
        assert_eq!(nodes[1].slots, vec![(10923, 16383), (7, 7)]);
        assert!(nodes[1].owns(7) && nodes[1].owns(16383) && !nodes[1].owns(8));
        assert!(!nodes[2].master);
        assert_eq!(nodes[2].master_id.as_deref(), Some("ae"));
        assert!(nodes[3].failing && nodes[3].slots.is_empty());
    }
}
