//! The service's own store: SQLite (one WAL file shared by the service's instances) by default,
//! PostgreSQL when given a `postgres://` URL. Services hold a [`Db`] and speak to either engine
//! through one [`Query`] (SQL written once, with `?` placeholders), inside a [`Tx`] when they
//! write several statements; they branch on [`Db::backend`] only where the dialects really
//! differ. Everything around it (connecting, pooling, migrations, readiness) is here too.

mod failure;
mod lite;
mod migrate;
pub mod provision;
mod query;
mod span;
mod tx;
mod value;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use failure::StoreError;
pub use lite::{FromLiteRow, Kind as LiteKind, LiteError, LiteValue, WriteSavepoint, WriteTx};
pub use migrate::{migrate, Migration};
pub use query::{Executor, FromEitherRow, Query, Value};
pub use tx::{Conn, Savepoint, Tx};

/// Errors from connecting to or migrating a store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the {backend} store: {source}")]
    Connect {
        backend: Backend,
        source: sqlx::Error,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("the store has migration {0} applied, which this build does not know: refusing to run an older binary against a newer schema")]
    UnknownMigration(i64),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// How long a SQLite connection waits for another process's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLITE_BUSY and its extended codes (e.g. 517, SQLITE_BUSY_SNAPSHOT): another connection holds
/// a lock that will be released.
fn is_sqlite_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
}

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A pool on one of the two supported engines.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// A SQLite store: the instance's read connections and its write connection, which run
/// statements in the calling task ([`lite`]), and sqlx's pool for the rest (read transactions,
/// migrations, an in-memory store).
#[derive(Debug, Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
    reads: Option<Arc<lite::Reads>>,
    writer: Option<Arc<lite::Writer>>,
}

impl SqliteDb {
    fn new(pool: SqlitePool) -> SqliteDb {
        let options = pool.connect_options();
        let path = options.get_filename();
        let reads = lite::Reads::of(path).map(Arc::new);
        let writer = lite::Writer::of(path, SQLITE_BUSY_TIMEOUT).map(Arc::new);
        SqliteDb {
            pool,
            reads,
            writer,
        }
    }

    /// sqlx's pool (tests that reach under the store use it).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The read connections, unless the store is in memory or closed.
    fn reads(&self) -> Option<&lite::Reads> {
        self.reads.as_deref().filter(|_| !self.pool.is_closed())
    }

    /// The write connection, unless the store is in memory or closed.
    fn writer(&self) -> Option<&lite::Writer> {
        self.writer.as_deref().filter(|_| !self.pool.is_closed())
    }
}

/// How long a PostgreSQL connection may have been idle and still be handed out without a ping.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Pool sizing; the defaults keep an idle service small.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Db {
    /// Connects to `url` (`sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://…`).
    pub async fn connect(url: &str, options: &PoolOptions) -> Result<Db, Error> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(|source| Error::Connect {
                backend: Backend::Postgres,
                source,
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .min_connections(0)
                .acquire_timeout(options.acquire_timeout)
                // sqlx pings every connection it hands out by default: a round trip to the
                // server before each statement or transaction (17 % of orders' CPU per checkout
                // on PostgreSQL). A connection back from use a moment ago is known alive; only
                // one idle for longer is checked (as HikariCP's `aliveBypassWindowMs`), so a
                // connection a server restart broke is still found before it is used.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_WHEN_IDLE_FOR {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(connect)
                .await
                .map_err(|source| Error::Connect {
                    backend: Backend::Postgres,
                    source,
                })?;
            Ok(Db::Postgres(pool))
        } else {
            Err(Error::UnsupportedUrl(url.to_owned()))
        }
    }

    async fn connect_sqlite(url: &str, options: &PoolOptions) -> Result<Db, Error> {
        let connect = SqliteConnectOptions::from_str(url).map_err(|source| Error::Connect {
            backend: Backend::Sqlite,
            source,
        })?;
        let filename = connect.get_filename().to_owned();
        if let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() && filename != Path::new(":memory:") {
                std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        // WAL lets the instances of one service share the file: readers never block the writer.
        // The busy timeout makes concurrent writers from several processes wait instead of failing.
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
            // A small page cache per connection keeps an idle instance's memory low.
            .pragma("cache_size", "-2000");
        // Two instances opening a new file at once both switch it to WAL, which needs a lock that
        // SQLite's busy handler does not wait for: the loser sees "database is locked" and must
        // try again, as it would any other transient lock.
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(10);
        loop {
            let attempt = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .min_connections(0)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await;
            match attempt {
                Ok(pool) => return Ok(Db::Sqlite(SqliteDb::new(pool))),
                Err(source)
                    if is_sqlite_busy(&source) && started.elapsed() < SQLITE_BUSY_TIMEOUT =>
                {
                    tracing::debug!(error = %source, "SQLite file busy while opening; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                Err(source) => {
                    return Err(Error::Connect {
                        backend: Backend::Sqlite,
                        source,
                    })
                }
            }
        }
    }

    /// Another pool on the same store, as a second instance of the service would have (tests
    /// of concurrency between instances use it).
    pub async fn another_pool(&self, max_connections: u32) -> Result<Db, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(db) => Db::Sqlite(SqliteDb::new(
                SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with((*db.pool.connect_options()).clone())
                    .await?,
            )),
            Db::Postgres(pool) => Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with((*pool.connect_options()).clone())
                    .await?,
            ),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A cheap round trip, used by readiness.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(db) => sqlx::query("SELECT 1").execute(&db.pool).await.map(drop),
            Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }

    /// Connections in use and idle, for the pool metrics.
    pub fn pool_usage(&self) -> (u32, u32) {
        match self {
            Db::Sqlite(SqliteDb { pool, .. }) => {
                (pool.size() - pool.num_idle() as u32, pool.num_idle() as u32)
            }
            Db::Postgres(pool) => (pool.size() - pool.num_idle() as u32, pool.num_idle() as u32),
        }
    }

    /// True once the pool is closed (the service is stopping).
    pub fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite(db) => db.pool.is_closed(),
            Db::Postgres(pool) => pool.is_closed(),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => {
                if let Some(reads) = &db.reads {
                    reads.close();
                }
                if let Some(writer) = &db.writer {
                    writer.close();
                }
                db.pool.close().await
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// The store reports its pool's use to the metrics, which know nothing of the store.
impl crate::metrics::PoolUsage for Db {
    fn pool_usage(&self) -> (u32, u32) {
        Db::pool_usage(self)
    }
}
