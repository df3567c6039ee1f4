//! Running statements on either backend, inside a write transaction. The two engines need
//! different placeholders (`?` against `$1`) and different connection types; this is the one
//! place that knows, so that the store reads as plain SQL plus arguments.

use brigade_chassis::db::{Conn, Db};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, FromRow, Postgres, Sqlite};

/// A bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Arg {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Arg {
        Arg::Text(text)
    }
}

impl From<Option<String>> for Arg {
    fn from(text: Option<String>) -> Arg {
        Arg::OptText(text)
    }
}

impl From<i64> for Arg {
    fn from(int: i64) -> Arg {
        Arg::Int(int)
    }
}

impl From<uuid::Uuid> for Arg {
    fn from(id: uuid::Uuid) -> Arg {
        Arg::Text(id.to_string())
    }
}

/// `?` placeholders numbered for PostgreSQL (`$1`, `$2`, …). The store's SQL has no `?` inside
/// string literals, so every `?` is a placeholder.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(text) => query.bind(text.clone()),
                Arg::OptText(text) => query.bind(text.clone()),
                Arg::Int(int) => query.bind(*int),
            };
        }
        query
    }};
}

/// Reads outside a transaction.
pub(crate) async fn fetch_all<O>(db: &Db, sql: &str, args: &[Arg]) -> Result<Vec<O>, sqlx::Error>
where
    O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    match db {
        Db::Sqlite(pool) => {
            bind_all!(sqlx::query_as::<_, O>(sql), args)
                .fetch_all(pool)
                .await
        }
        Db::Postgres(pool) => {
            let sql = numbered(sql);
            bind_all!(sqlx::query_as::<_, O>(&sql), args)
                .fetch_all(pool)
                .await
        }
    }
}

/// One statement outside a transaction (a single statement is atomic on its own); the number
/// of rows it changed.
pub(crate) async fn execute(db: &Db, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    match db {
        Db::Sqlite(pool) => Ok(bind_all!(sqlx::query(sql), args)
            .execute(pool)
            .await?
            .rows_affected()),
        Db::Postgres(pool) => {
            let sql = numbered(sql);
            Ok(bind_all!(sqlx::query(&sql), args)
                .execute(pool)
                .await?
                .rows_affected())
        }
    }
}

/// A write transaction. On SQLite it holds the write lock from its start (`BEGIN IMMEDIATE`),
/// so that a read-modify-write cannot interleave with another instance's; on PostgreSQL each
/// read-modify-write starts by updating (and so locking) the row it is about.
///
/// Dropped without [`Tx::commit`], it is rolled back: on SQLite by `ROLLBACK` issued before
/// the connection goes back to the pool (sqlx would otherwise keep the open transaction on a
/// pooled connection), on PostgreSQL by sqlx.
pub(crate) enum Tx {
    Sqlite(Option<PoolConnection<Sqlite>>),
    Postgres(Option<sqlx::Transaction<'static, Postgres>>),
}

impl Tx {
    pub(crate) async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
        match db {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                conn.execute("BEGIN IMMEDIATE").await?;
                Ok(Tx::Sqlite(Some(conn)))
            }
            Db::Postgres(pool) => Ok(Tx::Postgres(Some(pool.begin().await?))),
        }
    }

    pub(crate) async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(conn) => {
                let conn = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                Ok(bind_all!(sqlx::query(sql), args)
                    .execute(&mut **conn)
                    .await?
                    .rows_affected())
            }
            Tx::Postgres(tx) => {
                let tx = tx.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                let sql = numbered(sql);
                Ok(bind_all!(sqlx::query(&sql), args)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
        }
    }

    pub(crate) async fn fetch_all<O>(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<O>, sqlx::Error>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Tx::Sqlite(conn) => {
                let conn = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                bind_all!(sqlx::query_as::<_, O>(sql), args)
                    .fetch_all(&mut **conn)
                    .await
            }
            Tx::Postgres(tx) => {
                let tx = tx.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                let sql = numbered(sql);
                bind_all!(sqlx::query_as::<_, O>(&sql), args)
                    .fetch_all(&mut **tx)
                    .await
            }
        }
    }

    /// The transaction's connection, for code written against the chassis' [`Conn`] (the
    /// outbox appends the saga's events through it, inside this transaction).
    pub(crate) fn conn(&mut self) -> Result<Conn<'_>, sqlx::Error> {
        match self {
            Tx::Sqlite(conn) => Ok(Conn::Sqlite(
                &mut **conn.as_mut().ok_or(sqlx::Error::PoolClosed)?,
            )),
            Tx::Postgres(tx) => Ok(Conn::Postgres(
                &mut **tx.as_mut().ok_or(sqlx::Error::PoolClosed)?,
            )),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        match &mut self {
            Tx::Sqlite(conn) => {
                let mut conn = conn.take().ok_or(sqlx::Error::PoolClosed)?;
                if let Err(e) = conn.execute("COMMIT").await {
                    let _ = conn.execute("ROLLBACK").await;
                    return Err(e);
                }
                Ok(())
            }
            Tx::Postgres(tx) => tx.take().ok_or(sqlx::Error::PoolClosed)?.commit().await,
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Tx::Sqlite(conn) = self {
            if let Some(mut conn) = conn.take() {
                // Roll back before the connection is reused. Dropping happens outside async
                // code, so the rollback runs on its own task; the connection returns to the
                // pool only when it is done.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        let _ = conn.execute("ROLLBACK").await;
                    });
                } else {
                    conn.close_on_drop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(super::numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
