//! Test harness shared by the services' integration tests: each test gets a
//! fresh database cloned from a migrated template and a Redis key prefix of
//! its own, so tests run alone or in parallel without seeing each other.
//!
//! Needs `TEST_DATABASE_URL` (an admin connection to a throwaway cluster, for
//! example `postgres://postgres@127.0.0.1:54330/postgres`) and `TEST_REDIS_URL`;
//! `scripts/test` starts both and sets them.
//!
//! [`redis_cluster::RedisCluster`] is a Redis Cluster of a test's own (six
//! `redis-server`s on loopback, or one node owning every slot), for tests
//! that kill a master or move a slot.
//!
//! [`llm`] is a stand-in for an OpenAI-compatible language-model provider
//! (also a binary, `parley-llm-standin`), needing neither.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a harness fails loudly

pub mod llm;
pub mod redis_cluster;
mod replica;
pub mod store;

pub use replica::PgReplica;

use std::path::Path;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use sha2::{Digest, Sha256};

const TEMPLATE_LOCK_ID: i64 = 0x7465_6d70_6c61; // "templa"

/// The admin URL of the test cluster.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the tests through scripts/test (or export it)")
}

/// The Redis the tests share (isolated by key prefix).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run the tests through scripts/test (or export it)")
}

/// The Redis the tests use: a Redis Cluster when `TEST_REDIS_CLUSTER_NODES`
/// names one (scripts/test runs the Redis-heavy suites a second time that
/// way, so every Redis use is proven on a cluster too), else `TEST_REDIS_URL`.
pub fn redis_target() -> common::config::RedisTarget {
    use common::config::{RedisTarget, Secret};
    match std::env::var("TEST_REDIS_CLUSTER_NODES") {
        Ok(nodes) if !nodes.trim().is_empty() => RedisTarget::Cluster {
            seeds: Secret::new(nodes.split(',').map(|s| s.trim().to_owned()).collect()),
            classic_pubsub: false,
        },
        _ => RedisTarget::Single(Secret::new(redis_url())),
    }
}

/// The variables that point a service process at [`redis_target`].
pub fn redis_env() -> Vec<(&'static str, String)> {
    match std::env::var("TEST_REDIS_CLUSTER_NODES") {
        Ok(nodes) if !nodes.trim().is_empty() => vec![("REDIS_CLUSTER_NODES", nodes)],
        _ => vec![("REDIS_URL", redis_url())],
    }
}

/// A command connection to [`redis_target`].
pub async fn redis_conn() -> common::redis_client::RedisConn {
    common::redis_client::connect(&redis_target())
        .await
        .expect("connect to the test Redis")
}

/// A subscription to one channel of [`redis_target`], as the chat
/// instances subscribe (sharded on a cluster), for tests that check what
/// was published.
pub struct Subscription {
    payloads: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    _connection: Box<dyn std::any::Any + Send>,
}

impl Subscription {
    /// Subscribes to `channel`; returns once Redis confirmed.
    pub async fn to(channel: &str) -> Self {
        use futures_util::StreamExt;
        let (tx, payloads) = tokio::sync::mpsc::unbounded_channel();
        match redis_target() {
            common::config::RedisTarget::Single(url) => {
                let client = redis::Client::open(url.expose().as_str()).expect("redis url");
                let mut pubsub = client.get_async_pubsub().await.expect("subscribe");
                pubsub.subscribe(channel).await.expect("subscribe");
                let task = tokio::spawn(async move {
                    let mut messages = pubsub.into_on_message();
                    while let Some(msg) = messages.next().await {
                        let _ = tx.send(msg.get_payload_bytes().to_vec());
                    }
                });
                Self {
                    payloads,
                    _connection: Box::new(AbortOnDrop(task)),
                }
            }
            common::config::RedisTarget::Cluster { seeds, .. } => {
                let on_push = move |push: redis::PushInfo| -> Result<(), ()> {
                    if let (redis::PushKind::SMessage, [_, redis::Value::BulkString(payload)]) =
                        (&push.kind, push.data.as_slice())
                    {
                        let _ = tx.send(payload.clone());
                    }
                    Ok(())
                };
                let client = common::redis_client::cluster_builder(seeds.expose())
                    .push_sender(on_push)
                    .build()
                    .expect("cluster client");
                let mut conn = client.get_async_connection().await.expect("cluster");
                conn.ssubscribe(channel).await.expect("ssubscribe");
                Self {
                    payloads,
                    _connection: Box::new(conn),
                }
            }
        }
    }

    /// The next payload, waiting at most `within`.
    pub async fn next_within(&mut self, within: std::time::Duration) -> Option<Vec<u8>> {
        tokio::time::timeout(within, self.payloads.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A key prefix no other test uses.
pub fn unique_redis_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

fn url_for(database: &str) -> String {
    url_in(&admin_url(), database)
}

/// The URL of `database` in the cluster of the admin URL `admin`.
fn url_in(admin: &str, database: &str) -> String {
    let (base, _) = admin
        .rsplit_once('/')
        .expect("an admin URL ends with /<database>");
    format!("{base}/{database}")
}

/// A hash of the migrations and the seed: a template built from other
/// migrations is never reused.
fn schema_fingerprint() -> String {
    let db_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../db");
    let mut files = Vec::new();
    let mut stack = vec![db_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read db/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.strip_prefix(&db_dir)
                .expect("prefix")
                .to_string_lossy()
                .as_bytes(),
        );
        h.update(std::fs::read(&f).expect("read sql"));
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A connection to the test cluster's admin database.
pub async fn admin_connection() -> AsyncPgConnection {
    admin().await
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("connect to the test cluster (is scripts/test's Postgres up?)")
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Found>(conn)
        .await
        .expect("query pg_database")
        .found
}

/// The migrated, seeded template; built once per schema by whichever test
/// process gets there first.
async fn template() -> String {
    let name = format!("parley_tpl_{}", schema_fingerprint());
    let mut conn = admin().await;
    conn.batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_ID})"))
        .await
        .expect("lock");
    if !database_exists(&mut conn, &name).await {
        let building = format!("{name}_building");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop template");
        conn.batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        common::db::migrate(&url_for(&building))
            .await
            .expect("migrate the template");
        conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .expect("rename template");
    }
    conn.batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_ID})"))
        .await
        .expect("unlock");
    name
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    name: String,
    url: String,
    /// The admin URL of its cluster (the test cluster's, or a
    /// [`PgReplica`]'s primary).
    admin: String,
}

impl TestDb {
    /// A fresh database with every migration applied and the seed loaded.
    pub async fn migrated() -> Self {
        let template = template().await;
        Self::create(&format!("TEMPLATE {template}")).await
    }

    /// A fresh database with nothing in it (for migration tests).
    pub async fn empty() -> Self {
        Self::create("").await
    }

    async fn create(options: &str) -> Self {
        Self::create_in(&admin_url(), options).await
    }

    /// A fresh database with every migration applied and the seed loaded,
    /// in the cluster of the admin URL `admin` (no template there: the
    /// migrations run).
    pub async fn migrated_in(admin: &str) -> Self {
        let db = Self::create_in(admin, "").await;
        common::db::migrate(db.url())
            .await
            .expect("migrate the test database");
        db
    }

    async fn create_in(admin: &str, options: &str) -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        AsyncPgConnection::establish(admin)
            .await
            .expect("connect to the cluster's admin database")
            .batch_execute(&format!("CREATE DATABASE {name} {options}"))
            .await
            .expect("create test database");
        let url = url_in(admin, &name);
        Self {
            name,
            url,
            admin: admin.to_owned(),
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A direct connection, for assertions on what is stored.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = self.admin.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// A port free right now on 127.0.0.1 (for a server started by a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A Redis server of a test's own, for tests that stop and restart Redis.
pub struct RedisProcess {
    port: u16,
    child: Option<std::process::Child>,
}

impl RedisProcess {
    /// Starts `redis-server` on a free port, without persistence.
    pub fn start() -> Self {
        let mut this = Self {
            port: free_port(),
            child: None,
        };
        this.spawn();
        this
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server (installed by scripts/test)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: everything in flight is lost).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
