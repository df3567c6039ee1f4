//! Schema migrations, safe to run from several instances starting at once.
//!
//! Why not `sqlx::migrate!`: every instance of a service runs migrations at start, and two
//! instances often start in the same millisecond. This runner takes the store's own write lock
//! (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL) before it
//! looks at what is applied, so the second instance waits and then finds nothing to do.
//! Each migration carries its SQL for both dialects side by side, which keeps them in step.

use sqlx::{Connection, Executor};

use super::{Conn, Db, Error, Query};

/// One schema step. `version`s are applied in ascending order and never edited once released.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A service's migration from its twin files, `<stem>.sqlite.sql` and `<stem>.postgres.sql`
/// (paths relative to the file that names them, as with `include_str!`):
/// `migration!(1, "cart", "../migrations/0001_cart")`. The files are compiled into the binary.
#[macro_export]
macro_rules! migration {
    ($version:literal, $name:literal, $stem:literal) => {
        $crate::db::Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!($stem, ".sqlite.sql")),
            postgres: include_str!(concat!($stem, ".postgres.sql")),
        }
    };
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS brigade_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Applies every migration in `migrations` that the store does not have yet, all in one
/// transaction, under a lock that serialises concurrent starters.
pub async fn migrate(db: &Db, migrations: &[Migration]) -> Result<(), Error> {
    let mut sorted = migrations.to_vec();
    sorted.sort_by_key(|m| m.version);
    let now = crate::time::now_rfc3339();
    match db {
        Db::Sqlite(db) => {
            let mut conn = db.pool().acquire().await?;
            // BEGIN IMMEDIATE takes the write lock now rather than at the first write, so two
            // starters cannot both read "not applied" and then both apply.
            conn.execute("BEGIN IMMEDIATE").await?;
            match apply_pending(Conn::Sqlite(&mut conn), &sorted, &now).await {
                Ok(()) => {
                    conn.execute("COMMIT").await?;
                    Ok(())
                }
                Err(e) => {
                    let _ = conn.execute("ROLLBACK").await;
                    Err(e)
                }
            }
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            let mut tx = conn.begin().await?;
            // A fixed key: every Brigade service has its own database, so one lock id suffices.
            tx.execute("SELECT pg_advisory_xact_lock(7420314)").await?;
            apply_pending(Conn::Postgres(&mut tx), &sorted, &now).await?;
            tx.commit().await?;
            Ok(())
        }
    }
}

/// Applies, on `conn` (inside the caller's lock and transaction), every migration of `sorted`
/// that the store has not recorded yet, and records it.
async fn apply_pending(mut conn: Conn<'_>, sorted: &[Migration], now: &str) -> Result<(), Error> {
    Query::new(CREATE_TABLE).execute(&mut conn).await?;
    let applied: Vec<(i64,)> = Query::new("SELECT version FROM brigade_migrations")
        .fetch_all(&mut conn)
        .await?;
    check_known(&applied, sorted)?;
    for m in sorted
        .iter()
        .filter(|m| !applied.iter().any(|a| a.0 == m.version))
    {
        // Through the connection, not `raw_sql(..).execute(conn)`: the latter's future is not
        // `Send` (sqlx's Executor bound is not general enough).
        let done = match &mut conn {
            Conn::Lite(tx) => tx.execute_batch(m.sqlite),
            Conn::Sqlite(conn) => conn.execute(sqlx::raw_sql(m.sqlite)).await.map(drop),
            Conn::Postgres(conn) => conn.execute(sqlx::raw_sql(m.postgres)).await.map(drop),
        };
        done.map_err(|source| Error::Migration {
            version: m.version,
            name: m.name,
            source,
        })?;
        Query::new("INSERT INTO brigade_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            .bind(m.version)
            .bind(m.name)
            .bind(now)
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

fn check_known(applied: &[(i64,)], known: &[Migration]) -> Result<(), Error> {
    match applied
        .iter()
        .find(|(v, ..)| !known.iter().any(|m| m.version == *v))
    {
        Some((v, ..)) => Err(Error::UnknownMigration(*v)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Services run migrations inside spawned tasks, so the future must be `Send`.
    #[test]
    fn migrating_is_a_send_future() {
        fn assert_send<T: Send>(_: &T) {}
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let db = Db::connect("sqlite::memory:", &Default::default())
                .await
                .unwrap();
            let future = migrate(&db, &[]);
            assert_send(&future);
            future.await.unwrap();
        });
    }
}
