//! A Postgres primary and its streaming replica, of one test's own: the
//! read pool's fallback is tested against a real hot standby, made behind
//! on purpose by pausing its replay.
//!
//! Both clusters live in a temporary directory owned by the `postgres`
//! user when the tests run as root (Postgres refuses root), on free
//! loopback ports, with `initdb -A trust`: the replica is made by
//! `pg_basebackup -R` over the primary's default replication rules, and
//! both are stopped (`pg_ctl stop -m immediate`) and removed when dropped.
//! Nothing here touches the shared test cluster.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::TestDb;

/// How long starting a cluster, or a replica catching up, may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// A primary and a hot standby replaying its WAL.
pub struct PgReplica {
    base: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

impl PgReplica {
    /// Makes and starts both (a few seconds: `initdb`, a base backup).
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .expect("the replica fixture's start")
    }

    fn start_blocking() -> Self {
        let base = std::env::temp_dir().join(format!(
            "parley-pgr-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        let this = Self {
            base,
            primary_port: crate::free_port(),
            replica_port: crate::free_port(),
        };
        std::fs::create_dir_all(&this.base).expect("create the fixture's directory");
        if running_as_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&this.base));
        }
        let primary = this.dir("primary");
        run(owner_command("initdb")
            .arg("-D")
            .arg(&primary)
            .args([
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--lc-ctype=C.UTF-8",
            ])
            .args(["-N", "-U", "postgres"]));
        this.pg_ctl_start(&primary, this.primary_port);
        let replica = this.dir("replica");
        run(owner_command("pg_basebackup")
            .args(["-h", "127.0.0.1", "-p", &this.primary_port.to_string()])
            .args(["-U", "postgres", "-D"])
            .arg(&replica)
            .args(["-X", "stream", "-R", "-c", "fast"]));
        this.pg_ctl_start(&replica, this.replica_port);
        this
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// Starts the cluster in `data` on `port` and waits until it accepts
    /// connections (read-only ones, for the standby). Without fsync: a
    /// test's data needs no crash safety (commits still write their WAL
    /// before answering, so the standby receives what was committed).
    fn pg_ctl_start(&self, data: &Path, port: u16) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
             -c full_page_writes=off -c max_connections=60",
            self.base.display()
        );
        run(owner_command("pg_ctl")
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(data.with_extension("log"))
            .args(["-w", "-t", &PATIENCE.as_secs().to_string(), "-o", &options])
            .arg("start"));
    }

    /// The primary's admin URL (database `postgres`, superuser).
    pub fn primary_admin_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.primary_port
        )
    }

    /// The replica's URL of database `name`.
    fn replica_url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.replica_port)
    }

    /// A fresh migrated database on the primary, once the replica has it
    /// too.
    pub async fn database(&self) -> TestDb {
        let db = TestDb::migrated_in(&self.primary_admin_url()).await;
        self.caught_up().await;
        db
    }

    /// The replica's URL of `db` (a database of [`Self::database`]).
    pub fn replica_url(&self, db: &TestDb) -> String {
        self.replica_url_of(db.name())
    }

    async fn replica_admin(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.replica_url_of("postgres"))
            .await
            .expect("connect to the replica")
    }

    /// Stops the replica applying WAL: from now on it answers as the
    /// primary was (it keeps receiving, and catches up on [`Self::resume`]).
    /// Takes effect before the next record is applied.
    pub async fn pause(&self) {
        diesel::sql_query("SELECT pg_wal_replay_pause()")
            .execute(&mut self.replica_admin().await)
            .await
            .expect("pause the replica's replay");
    }

    /// Lets the replica apply WAL again.
    pub async fn resume(&self) {
        diesel::sql_query("SELECT pg_wal_replay_resume()")
            .execute(&mut self.replica_admin().await)
            .await
            .expect("resume the replica's replay");
    }

    /// Waits until the replica has applied everything the primary had
    /// written when this was called.
    pub async fn caught_up(&self) {
        #[derive(diesel::QueryableByName)]
        struct Lsn {
            #[diesel(sql_type = diesel::sql_types::Text)]
            lsn: String,
        }
        #[derive(diesel::QueryableByName)]
        struct Done {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            done: bool,
        }
        let mut primary = AsyncPgConnection::establish(&self.primary_admin_url())
            .await
            .expect("connect to the primary");
        let target: Lsn = diesel::sql_query("SELECT pg_current_wal_insert_lsn()::text AS lsn")
            .get_result(&mut primary)
            .await
            .expect("the primary's WAL position");
        let mut replica = self.replica_admin().await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let done: Done = diesel::sql_query(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS done",
            )
            .bind::<diesel::sql_types::Text, _>(&target.lsn)
            .get_result(&mut replica)
            .await
            .expect("the replica's replay position");
            if done.done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the replica did not catch up (is its replay paused?)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PgReplica {
    fn drop(&mut self) {
        for name in ["replica", "primary"] {
            let _ = owner_command("pg_ctl")
                .arg("-D")
                .arg(self.dir(name))
                .args(["-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The directory of the Postgres binaries (`PG_BIN`, else Debian's 15).
fn pg_bin() -> PathBuf {
    std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A Postgres binary run as the `postgres` user when we are root (the
/// binaries refuse root), as ourselves otherwise; from `/`, so a working
/// directory that user cannot enter does not matter.
fn owner_command(binary: &str) -> Command {
    let path = pg_bin().join(binary);
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.current_dir("/");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run a Postgres tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
