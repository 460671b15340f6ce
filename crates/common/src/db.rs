//! The Postgres pool and the migrations. Queries live with the table they
//! touch, in `store::*`.

use std::time::Duration;

use deadpool::managed::{Hook, HookError, Metrics};
use diesel_async::pooled_connection::ManagerConfig;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, RecyclingMethod};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, SimpleAsyncConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::error::{Error, Result};

/// The versioned migrations in `db/migrations`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../db/migrations");

/// The seed, run after the migrations on every `migrate`; idempotent.
pub const SEED_SQL: &str = include_str!("../../../db/init.sql");

/// An arbitrary constant naming the advisory lock that serializes migrations.
const MIGRATION_LOCK_ID: i64 = 0x7061_726c_6579; // "parley"

/// A pool of async Postgres connections, shared by all handlers.
pub type DbPool = Pool<AsyncPgConnection>;

/// One connection borrowed from the pool.
pub type DbConn = Object<AsyncPgConnection>;

/// A pooled connection handed out this recently is handed out again without
/// a test query: under load every borrow used to cost a `SELECT 1` round
/// trip (three of a room page's twelve statements). One that broke since
/// fails its next query and is dropped; one idle longer is tested first,
/// so a restart of Postgres is noticed before a request uses a dead one.
const TRUST_RECENT_USE: Duration = Duration::from_secs(2);
/// How long that test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Builds the pool. Connections are made lazily, each with a statement timeout
/// and the service's `application_name`, so a stuck query cannot hold one forever.
/// (Forcing prepared statements onto their generic plan was tried: pages
/// got faster, the chat's writer much slower as its tables grew; see
/// docs/PERFORMANCE.md.)
pub fn build_pool(
    database_url: &str,
    size: usize,
    application_name: &'static str,
) -> Result<DbPool> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET application_name = '{application_name}'; SET statement_timeout = '10s'; SET lock_timeout = '5s'"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(database_url, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .pre_recycle(Hook::async_fn(test_if_idle))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::internal_from("building the database pool", e))
}

/// The pools a service reads and writes with; cheap to clone (each pool
/// is shared). `write` is the primary: every write, and every read that
/// must see the latest commit (sessions, access checks, nonces, anything
/// in a write transaction). `read` answers history, replay and catch-up:
/// a replica's pool when `DATABASE_READ_URL` is set, else the primary's
/// again, so that unset means exactly one pool, as before. A replica may
/// be behind; `crate::reads` says when its answer is re-read from `write`.
#[derive(Clone)]
pub struct DbPools {
    pub write: DbPool,
    pub read: DbPool,
    replica: bool,
}

impl DbPools {
    /// The primary's pool and, when `config` names a replica, the
    /// replica's; both make connections lazily.
    pub fn build(
        config: &crate::config::CommonConfig,
        application_name: &'static str,
    ) -> Result<Self> {
        let write = build_pool(
            config.database_url.expose(),
            config.database_pool_size,
            application_name,
        )?;
        Ok(match &config.database_read {
            Some(replica) => Self {
                read: build_pool(replica.url.expose(), replica.pool_size, application_name)?,
                write,
                replica: true,
            },
            None => Self::primary_only(write),
        })
    }

    /// Reads and writes on one pool (no replica).
    pub fn primary_only(pool: DbPool) -> Self {
        Self {
            read: pool.clone(),
            write: pool,
            replica: false,
        }
    }

    /// Writes on `write`, replica reads on `read` (which may be behind).
    pub fn with_replica(write: DbPool, read: DbPool) -> Self {
        Self {
            write,
            read,
            replica: true,
        }
    }

    /// Whether reads go to a replica, which may be behind the primary.
    pub fn has_replica(&self) -> bool {
        self.replica
    }
}

/// The pool's check of a connection it is about to hand out again.
fn test_if_idle<'a>(
    conn: &'a mut AsyncPgConnection,
    metrics: &'a Metrics,
) -> deadpool::managed::HookFuture<'a, diesel_async::pooled_connection::PoolError> {
    Box::pin(async move {
        if metrics.last_used() < TRUST_RECENT_USE {
            return Ok(());
        }
        match tokio::time::timeout(TEST_TIMEOUT, conn.batch_execute("SELECT 1")).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(HookError::Message(
                "an idle connection failed its test".into(),
            )),
        }
    })
}

/// Brings a database up to date: every pending migration, then the seed, all
/// under an advisory lock so that replicas starting together apply them once.
/// Returns the versions applied by this call. Works on any tokio runtime.
pub async fn migrate(database_url: &str) -> Result<Vec<String>> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return migrate_on_multi_thread(database_url).await;
    }
    // diesel's migration harness blocks in place, which a current-thread
    // runtime cannot do: run it on a thread with a runtime of its own.
    let url = database_url.to_owned();
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::internal_from("migration runtime", e))
            .and_then(|rt| rt.block_on(migrate_on_multi_thread(&url)));
        let _ = done.send(outcome);
    });
    result
        .await
        .map_err(|_| Error::internal("the migration thread died"))?
}

/// Makes `role` the services' own login: it may read and change rows (DML)
/// and nothing else: no DDL, no superuser. Created if missing; `password`
/// set when given (over a socket with `trust`, none is needed). Run by
/// `website migrate` as the owner of the schema, after the migrations, so
/// tables made later are covered too (default privileges).
pub async fn grant_app_role(database_url: &str, role: &str, password: Option<&str>) -> Result<()> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Statement {
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let valid = role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(Error::internal(format!(
            "the application role {role:?} must be a lower-case SQL name"
        )));
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| Error::unavailable_from("connecting to Postgres", e))?;
    // Quoting by Postgres itself (format's %I and %L), never by hand.
    let quoted = |template: &'static str, value: Option<String>| {
        diesel::sql_query(format!("SELECT format('{template}', $1, $2) AS sql"))
            .bind::<Text, _>(role.to_owned())
            .bind::<Text, _>(value.unwrap_or_default())
    };
    let exists: Vec<Statement> =
        diesel::sql_query("SELECT rolname::text AS sql FROM pg_roles WHERE rolname = $1")
            .bind::<Text, _>(role)
            .load(&mut conn)
            .await?;
    let mut statements = Vec::new();
    if exists.is_empty() {
        statements.push(quoted("CREATE ROLE %I LOGIN", None));
    }
    statements.push(quoted(
        "ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE LOGIN",
        None,
    ));
    if let Some(password) = password {
        statements.push(quoted(
            "ALTER ROLE %I PASSWORD %L",
            Some(password.to_owned()),
        ));
    }
    for template in [
        "GRANT USAGE ON SCHEMA public TO %I",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I",
        "REVOKE INSERT, UPDATE, DELETE ON __diesel_schema_migrations FROM %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I",
    ] {
        statements.push(quoted(template, None));
    }
    let connect: Vec<Statement> = diesel::sql_query(
        "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1) AS sql",
    )
    .bind::<Text, _>(role)
    .load(&mut conn)
    .await?;
    for statement in statements {
        let rendered: Vec<Statement> = statement.load(&mut conn).await?;
        for s in rendered {
            conn.batch_execute(&s.sql).await?;
        }
    }
    for s in connect {
        conn.batch_execute(&s.sql).await?;
    }
    Ok(())
}

async fn migrate_on_multi_thread(database_url: &str) -> Result<Vec<String>> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| Error::unavailable_from("connecting to Postgres", e))?;
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
        .map_err(|e| Error::internal_from("running migrations", e));
    let mut conn = harness.into_inner();
    let seeded = match &applied {
        Ok(_) => conn.batch_execute(SEED_SQL).await.map_err(Error::from),
        Err(_) => Ok(()),
    };
    conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
        .await?;
    seeded?;
    applied
}
