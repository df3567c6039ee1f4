//! Running statements on either backend. The two engines need different placeholders (`?1`
//! against `$1`), different list arguments and different pool types; this is the one place
//! that knows, so that the inventory's logic above it is written once, as plain SQL plus
//! arguments, for both.

use brigade_chassis::db::{Backend, Db};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

/// A bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    /// A list of strings: a `text[]` on PostgreSQL; on SQLite, which has no arrays, a JSON array
    /// for the statement to open with `json_each`.
    TextList(Vec<String>),
    /// A list of integers, as [`Arg::TextList`].
    IntList(Vec<i64>),
}

/// Binds every [`Arg`] to a SQLite query.
macro_rules! bind_sqlite {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(text) => query.bind(text.as_str()),
                Arg::Int(int) => query.bind(*int),
                Arg::TextList(list) => query.bind(json_array(list)),
                Arg::IntList(list) => query.bind(json_array(list)),
            };
        }
        query
    }};
}

/// Binds every [`Arg`] to a PostgreSQL query.
macro_rules! bind_postgres {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(text) => query.bind(text.as_str()),
                Arg::Int(int) => query.bind(*int),
                Arg::TextList(list) => query.bind(list.as_slice()),
                Arg::IntList(list) => query.bind(list.as_slice()),
            };
        }
        query
    }};
}

/// A statement built from static fragments and numbered placeholders. Input only ever travels
/// as an [`Arg`], never in the text.
#[derive(Debug)]
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::new(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Sql {
        self.args.push(arg);
        let sigil = match self.backend {
            Backend::Sqlite => '?',
            Backend::Postgres => '$',
        };
        self.text.push(sigil);
        self.text.push_str(&self.args.len().to_string());
        self
    }

    pub(crate) fn bind_text(&mut self, text: &str) -> &mut Sql {
        self.bind(Arg::Text(text.to_owned()))
    }

    pub(crate) fn bind_int(&mut self, int: i64) -> &mut Sql {
        self.bind(Arg::Int(int))
    }

    /// Appends `column IN (…list…)` in the backend's way.
    pub(crate) fn in_list(&mut self, column: &str, list: Vec<String>) -> &mut Sql {
        self.push(column);
        match self.backend {
            Backend::Sqlite => self
                .push(" IN (SELECT value FROM json_each(")
                .bind(Arg::TextList(list))
                .push("))"),
            Backend::Postgres => self
                .push(" = ANY(")
                .bind(Arg::TextList(list))
                .push("::text[])"),
        }
    }

    /// Appends a row lock on the rows of `table_alias` that the statement reads, on PostgreSQL.
    /// On SQLite every writing transaction holds the store's write lock from its start
    /// ([`Tx`]), which already keeps others from changing what it read.
    pub(crate) fn lock_rows_of(&mut self, table_alias: &str) -> &mut Sql {
        if self.backend == Backend::Postgres {
            self.push(" FOR UPDATE OF ").push(table_alias);
        }
        self
    }

    /// Like [`Sql::lock_rows_of`], but rows another transaction has locked are left out rather
    /// than waited for: for work any instance may do, such as the expiry sweep.
    pub(crate) fn lock_rows_skipping_locked(&mut self) -> &mut Sql {
        if self.backend == Backend::Postgres {
            self.push(" FOR UPDATE SKIP LOCKED");
        }
        self
    }

    /// Runs the statement outside any transaction and decodes every row.
    pub(crate) async fn fetch_all<O>(&self, db: &Db) -> Result<Vec<O>, sqlx::Error>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match db {
            Db::Sqlite(pool) => {
                bind_sqlite!(sqlx::query_as::<_, O>(&self.text), &self.args)
                    .fetch_all(pool)
                    .await
            }
            Db::Postgres(pool) => {
                bind_postgres!(sqlx::query_as::<_, O>(&self.text), &self.args)
                    .fetch_all(pool)
                    .await
            }
        }
    }
}

fn json_array<T: serde::Serialize>(list: &[T]) -> String {
    // Serialising strings and integers cannot fail; an empty array matches nothing, which is
    // the safe side.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// The store's write transaction: the chassis' [`Tx`], which an event handler is also given, so
/// that the same store code runs inside a request's transaction and inside an event's. On SQLite
/// it holds the store's write lock from its start (`BEGIN IMMEDIATE`): a deferred transaction
/// that read first and wrote later could find, at its first write, that another process wrote in
/// between, and fail rather than wait. On PostgreSQL the statements lock the rows they read
/// ([`Sql::lock_rows_of`]).
pub(crate) use brigade_chassis::db::Tx;

/// Running [`Sql`] statements inside a [`Tx`].
pub(crate) trait Statements {
    /// A new statement in this transaction's dialect.
    fn sql(&self) -> Sql;

    /// Runs the statement and decodes every row.
    async fn fetch_all<O>(&mut self, sql: &Sql) -> Result<Vec<O>, sqlx::Error>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin;

    /// Runs a statement that returns no rows; the number of rows it changed.
    async fn execute(&mut self, sql: &Sql) -> Result<u64, sqlx::Error>;
}

impl Statements for Tx {
    fn sql(&self) -> Sql {
        Sql::new(self.backend())
    }

    async fn fetch_all<O>(&mut self, sql: &Sql) -> Result<Vec<O>, sqlx::Error>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Tx::Sqlite(tx) => {
                bind_sqlite!(sqlx::query_as::<_, O>(&sql.text), &sql.args)
                    .fetch_all(&mut **tx)
                    .await
            }
            Tx::Postgres(tx) => {
                bind_postgres!(sqlx::query_as::<_, O>(&sql.text), &sql.args)
                    .fetch_all(&mut **tx)
                    .await
            }
        }
    }

    async fn execute(&mut self, sql: &Sql) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => bind_sqlite!(sqlx::query(&sql.text), &sql.args)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected()),
            Tx::Postgres(tx) => bind_postgres!(sqlx::query(&sql.text), &sql.args)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_lists_follow_each_dialect() {
        for (backend, expected) in [
            (
                Backend::Sqlite,
                "a = ?1 AND b IN (SELECT value FROM json_each(?2))",
            ),
            (
                Backend::Postgres,
                "a = $1 AND b = ANY($2::text[]) FOR UPDATE OF s",
            ),
        ] {
            let mut sql = Sql::new(backend);
            sql.push("a = ")
                .bind_int(1)
                .push(" AND ")
                .in_list("b", vec!["x".into()])
                .lock_rows_of("s");
            assert_eq!(sql.text, expected);
        }
    }
}
