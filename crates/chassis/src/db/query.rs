//! One statement, written once for both engines.
//!
//! The SQL is written with `?` placeholders, which SQLite reads as they are and which are
//! numbered (`$1`, `$2`, …) for PostgreSQL when the statement runs. The values travel beside
//! the text as [`Value`]s, so that input never becomes SQL, and each engine receives them in
//! the types it expects. Where the dialects really differ in a fragment (a list argument, a row
//! lock), [`Query::push_each`] appends one text per engine; the rest of the statement stays
//! shared.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Encode, FromRow, PgConnection, PgPool, SqliteConnection, Type};

use super::lite::{looks_like_a_read, FromLiteRow, Read, WriteTx};
use super::span::StoreSpan;
use super::value::json_array;
pub use super::value::Value;
use super::{Backend, Conn, Db, SqliteDb, Tx};

/// A row type both engines can decode: a tuple of columns (`(String, i64, Option<String>)`).
/// On SQLite a row is read either by sqlx (in a transaction) or in the calling task
/// ([`FromLiteRow`], with sqlx's rules), so it is both.
pub trait FromEitherRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromLiteRow + Send + Unpin
{
}

impl<T> FromEitherRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromLiteRow + Send + Unpin
{
}

/// Where a [`Query`] runs: a pool (each statement on its own) or the connection of an open
/// transaction. Made from `&Db`, `&mut Tx`, `&mut Conn` or `Conn`.
#[derive(Debug)]
pub enum Executor<'a> {
    /// A SQLite store outside a transaction: plain reads and writes run in the calling task
    /// (a write as a transaction of its own), the rest on sqlx.
    SqliteDb(&'a SqliteDb),
    PostgresPool(&'a PgPool),
    /// A SQLite write transaction, in the calling task.
    Lite(&'a mut WriteTx),
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Executor<'_> {
    fn backend(&self) -> Backend {
        match self {
            Executor::SqliteDb(_) | Executor::Lite(_) | Executor::Sqlite(_) => Backend::Sqlite,
            Executor::PostgresPool(_) | Executor::Postgres(_) => Backend::Postgres,
        }
    }
}

impl<'a> From<&'a Db> for Executor<'a> {
    fn from(db: &'a Db) -> Executor<'a> {
        match db {
            Db::Sqlite(db) => Executor::SqliteDb(db),
            Db::Postgres(pool) => Executor::PostgresPool(pool),
        }
    }
}

impl<'a> From<&'a mut Tx> for Executor<'a> {
    fn from(tx: &'a mut Tx) -> Executor<'a> {
        tx.conn().into()
    }
}

impl<'a> From<Conn<'a>> for Executor<'a> {
    fn from(conn: Conn<'a>) -> Executor<'a> {
        match conn {
            Conn::Lite(tx) => Executor::Lite(tx),
            Conn::Sqlite(conn) => Executor::Sqlite(conn),
            Conn::Postgres(conn) => Executor::Postgres(conn),
        }
    }
}

impl<'a, 'c> From<&'a mut Conn<'c>> for Executor<'a> {
    fn from(conn: &'a mut Conn<'c>) -> Executor<'a> {
        conn.reborrow().into()
    }
}

/// One statement and its values. Build it whole (`Query::new("… ? …").bind(x)`) or piece by
/// piece for dynamic SQL (`push`, `push_bind`); the text is never made from input.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The statement as SQLite reads it, with `?` placeholders.
    sqlite: String,
    /// The statement for PostgreSQL, still with `?` placeholders: numbered when it runs.
    postgres: String,
    values: Vec<Value>,
}

impl Query {
    /// A statement written with `?` placeholders; bind their values in order with
    /// [`Query::bind`]. The text must have no `?` other than placeholders outside string
    /// literals.
    pub fn new(sql: &str) -> Query {
        Query {
            sqlite: sql.to_owned(),
            postgres: sql.to_owned(),
            values: Vec::new(),
        }
    }

    /// The value of the next placeholder.
    pub fn bind(mut self, value: impl Into<Value>) -> Query {
        self.values.push(value.into());
        self
    }

    /// Appends SQL text (which may hold placeholders for values bound after it).
    pub fn push(&mut self, sql: &str) -> &mut Query {
        self.sqlite.push_str(sql);
        self.postgres.push_str(sql);
        self
    }

    /// Appends a placeholder and its value.
    pub fn push_bind(&mut self, value: impl Into<Value>) -> &mut Query {
        self.values.push(value.into());
        self.push("?")
    }

    /// Appends a placeholder for `id`, compared with a `uuid` column on PostgreSQL (cast there
    /// from the text it travels as) and with a text column on SQLite.
    pub fn push_uuid(&mut self, id: uuid::Uuid) -> &mut Query {
        self.push_bind(id).push_each("", "::uuid")
    }

    /// Appends text that differs between the engines.
    pub fn push_each(&mut self, sqlite: &str, postgres: &str) -> &mut Query {
        self.sqlite.push_str(sqlite);
        self.postgres.push_str(postgres);
        self
    }

    /// Appends `column IN (…list…)`: SQLite opens a JSON array with `json_each`, PostgreSQL
    /// compares with an array of `element_type` (`text`, `bigint`, `uuid`, …).
    pub fn push_in_list(
        &mut self,
        column: &str,
        list: impl Into<Value>,
        element_type: &str,
    ) -> &mut Query {
        self.push(column)
            .push_each(" IN (SELECT value FROM json_each(", " = ANY(")
            .push_bind(list);
        let close = format!("::{element_type}[])");
        self.push_each("))", &close)
    }

    /// Appends a lock on the rows of `table_alias` that the statement reads, on PostgreSQL. On
    /// SQLite every write transaction holds the store's write lock from its start ([`Tx`]),
    /// which already keeps others from changing what it read.
    pub fn push_lock_rows_of(&mut self, table_alias: &str) -> &mut Query {
        let lock = format!(" FOR UPDATE OF {table_alias}");
        self.push_each("", &lock)
    }

    /// Like [`Query::push_lock_rows_of`] for every table read, leaving out the rows another
    /// transaction has locked rather than waiting for them: for work any instance may do.
    pub fn push_lock_skipping_locked(&mut self) -> &mut Query {
        self.push_each("", " FOR UPDATE SKIP LOCKED")
    }

    /// The text `backend` runs.
    pub fn sql(&self, backend: Backend) -> String {
        match backend {
            Backend::Sqlite => self.sqlite.clone(),
            Backend::Postgres => numbered(&self.postgres),
        }
    }

    /// Runs the statement and decodes every row.
    pub async fn fetch_all<'e, R: FromEitherRow>(
        &self,
        on: impl Into<Executor<'e>>,
    ) -> Result<Vec<R>, sqlx::Error> {
        let on = on.into();
        let span = StoreSpan::start(on.backend(), &self.sqlite);
        let result = self.fetch_all_on(on).await;
        span.end(&result);
        result
    }

    async fn fetch_all_on<R: FromEitherRow>(
        &self,
        on: Executor<'_>,
    ) -> Result<Vec<R>, sqlx::Error> {
        match on {
            Executor::SqliteDb(db) => match self.read_here(db, false) {
                Read::Done(rows) => rows,
                Read::Elsewhere => match self.write_here(db).await {
                    Some(tx) => alone(tx?, |tx| tx.fetch(&self.sqlite, &self.values, false)),
                    None => self.sqlite_query_as()?.fetch_all(db.pool()).await,
                },
            },
            Executor::Lite(tx) => tx.fetch(&self.sqlite, &self.values, false),
            Executor::Sqlite(conn) => self.sqlite_query_as()?.fetch_all(conn).await,
            Executor::PostgresPool(pool) => {
                let sql = numbered(&self.postgres);
                query_as_pg(&sql, self.pg_args()?).fetch_all(pool).await
            }
            Executor::Postgres(conn) => {
                let sql = numbered(&self.postgres);
                query_as_pg(&sql, self.pg_args()?).fetch_all(conn).await
            }
        }
    }

    /// Runs the statement and decodes its first row, if it returned one.
    pub async fn fetch_optional<'e, R: FromEitherRow>(
        &self,
        on: impl Into<Executor<'e>>,
    ) -> Result<Option<R>, sqlx::Error> {
        let on = on.into();
        let span = StoreSpan::start(on.backend(), &self.sqlite);
        let result = self.fetch_optional_on(on).await;
        span.end(&result);
        result
    }

    async fn fetch_optional_on<R: FromEitherRow>(
        &self,
        on: Executor<'_>,
    ) -> Result<Option<R>, sqlx::Error> {
        match on {
            Executor::SqliteDb(db) => match self.read_here(db, true) {
                Read::Done(rows) => rows.map(|rows| rows.into_iter().next()),
                Read::Elsewhere => match self.write_here(db).await {
                    Some(tx) => alone(tx?, |tx| tx.fetch(&self.sqlite, &self.values, true))
                        .map(|rows| rows.into_iter().next()),
                    None => self.sqlite_query_as()?.fetch_optional(db.pool()).await,
                },
            },
            Executor::Lite(tx) => tx
                .fetch(&self.sqlite, &self.values, true)
                .map(|rows| rows.into_iter().next()),
            Executor::Sqlite(conn) => self.sqlite_query_as()?.fetch_optional(conn).await,
            Executor::PostgresPool(pool) => {
                let sql = numbered(&self.postgres);
                query_as_pg(&sql, self.pg_args()?)
                    .fetch_optional(pool)
                    .await
            }
            Executor::Postgres(conn) => {
                let sql = numbered(&self.postgres);
                query_as_pg(&sql, self.pg_args()?)
                    .fetch_optional(conn)
                    .await
            }
        }
    }

    /// Runs the statement and decodes its first row; [`sqlx::Error::RowNotFound`] without one.
    pub async fn fetch_one<'e, R: FromEitherRow>(
        &self,
        on: impl Into<Executor<'e>>,
    ) -> Result<R, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub async fn execute<'e>(&self, on: impl Into<Executor<'e>>) -> Result<u64, sqlx::Error> {
        let on = on.into();
        let span = StoreSpan::start(on.backend(), &self.sqlite);
        let result = self.execute_on(on).await;
        span.end(&result);
        result
    }

    async fn execute_on(&self, on: Executor<'_>) -> Result<u64, sqlx::Error> {
        let done = match on {
            Executor::SqliteDb(db) => match self.write_here(db).await {
                Some(tx) => alone(tx?, |tx| tx.execute(&self.sqlite, &self.values))?,
                None => self
                    .sqlite_query()?
                    .execute(db.pool())
                    .await?
                    .rows_affected(),
            },
            Executor::Lite(tx) => tx.execute(&self.sqlite, &self.values)?,
            Executor::Sqlite(conn) => self.sqlite_query()?.execute(conn).await?.rows_affected(),
            Executor::PostgresPool(pool) => {
                let sql = numbered(&self.postgres);
                sqlx::query_with(&sql, self.pg_args()?)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Executor::Postgres(conn) => {
                let sql = numbered(&self.postgres);
                sqlx::query_with(&sql, self.pg_args()?)
                    .execute(conn)
                    .await?
                    .rows_affected()
            }
        };
        Ok(done)
    }

    /// The statement run in the calling task, if it is a read that can run there
    /// ([`super::lite`]).
    fn read_here<R: FromEitherRow>(&self, db: &SqliteDb, first_only: bool) -> Read<Vec<R>> {
        match db.reads() {
            Some(reads) => reads.fetch(&self.sqlite, &self.values, first_only),
            None => Read::Elsewhere,
        }
    }

    /// A transaction of its own for the statement, in the calling task, if it writes and the
    /// store has a write connection; `None` to run it on sqlx. A read that could not run in
    /// the calling task (busy, refused) goes to sqlx as well: it needs no write lock, and sqlx
    /// reports its failure in its own words.
    async fn write_here(&self, db: &SqliteDb) -> Option<Result<WriteTx, sqlx::Error>> {
        if looks_like_a_read(&self.sqlite) {
            return None;
        }
        Some(db.writer()?.begin().await)
    }

    fn sqlite_query_as<R: FromEitherRow>(
        &self,
    ) -> Result<sqlx::query::QueryAs<'_, sqlx::Sqlite, R, SqliteArguments<'_>>, sqlx::Error> {
        Ok(sqlx::query_as_with(&self.sqlite, self.sqlite_args()?))
    }

    fn sqlite_query(
        &self,
    ) -> Result<sqlx::query::Query<'_, sqlx::Sqlite, SqliteArguments<'_>>, sqlx::Error> {
        Ok(sqlx::query_with(&self.sqlite, self.sqlite_args()?))
    }

    fn sqlite_args(&self) -> Result<SqliteArguments<'_>, sqlx::Error> {
        // SQLite has no arrays: a list travels as a JSON array, which the statement opens with
        // `json_each`.
        arguments(
            &self.values,
            |args: &mut SqliteArguments<'_>, list| match list {
                List::Text(list) => args.add(json_array(list)),
                List::Int(list) => args.add(json_array(list)),
            },
        )
    }

    fn pg_args(&self) -> Result<PgArguments, sqlx::Error> {
        arguments(&self.values, |args: &mut PgArguments, list| match list {
            List::Text(list) => args.add(list),
            List::Int(list) => args.add(list),
        })
    }
}

/// Runs `statement` in `tx` and commits it; a failed statement's transaction is rolled back
/// when dropped.
fn alone<T>(
    mut tx: WriteTx,
    statement: impl FnOnce(&mut WriteTx) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let done = statement(&mut tx)?;
    tx.commit()?;
    Ok(done)
}

/// A list value, which each engine binds its own way.
enum List<'q> {
    Text(&'q [String]),
    Int(&'q [i64]),
}

/// `values` as one engine's arguments: scalars as they are, lists through `add_list`.
fn arguments<'q, A>(
    values: &'q [Value],
    add_list: impl Fn(&mut A, List<'q>) -> Result<(), sqlx::error::BoxDynError>,
) -> Result<A, sqlx::Error>
where
    A: Arguments<'q>,
    &'q str: Encode<'q, A::Database> + Type<A::Database>,
    Option<&'q str>: Encode<'q, A::Database> + Type<A::Database>,
    i64: Encode<'q, A::Database> + Type<A::Database>,
    Option<i64>: Encode<'q, A::Database> + Type<A::Database>,
    f64: Encode<'q, A::Database> + Type<A::Database>,
    bool: Encode<'q, A::Database> + Type<A::Database>,
    &'q [u8]: Encode<'q, A::Database> + Type<A::Database>,
{
    let mut args = A::default();
    for value in values {
        let added = match value {
            Value::Text(text) => args.add(text.as_str()),
            Value::OptText(text) => args.add(text.as_deref()),
            Value::Int(int) => args.add(*int),
            Value::OptInt(int) => args.add(*int),
            Value::Real(real) => args.add(*real),
            Value::Bool(flag) => args.add(*flag),
            Value::Bytes(bytes) => args.add(bytes.as_slice()),
            Value::TextList(list) => add_list(&mut args, List::Text(list)),
            Value::IntList(list) => add_list(&mut args, List::Int(list)),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

fn query_as_pg<R: FromEitherRow>(
    sql: &str,
    args: PgArguments,
) -> sqlx::query::QueryAs<'_, sqlx::Postgres, R, PgArguments> {
    sqlx::query_as_with(sql, args)
}

/// `sql` written with `?` placeholders, numbered for PostgreSQL (`$1`, `$2`, …). A `?` inside a
/// single-quoted string literal is text, not a placeholder.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut in_literal = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '?' if !in_literal => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let query = Query::new("a = ? AND b = ? AND c = '?'").bind(1).bind("x");
        assert_eq!(query.sql(Backend::Sqlite), "a = ? AND b = ? AND c = '?'");
        assert_eq!(
            query.sql(Backend::Postgres),
            "a = $1 AND b = $2 AND c = '?'"
        );
    }

    #[test]
    fn dialect_fragments_follow_each_engine() {
        let mut query = Query::default();
        query
            .push("SELECT s.a FROM s WHERE a = ")
            .push_bind(1)
            .push(" AND ")
            .push_in_list("b", vec!["x".to_owned()], "text")
            .push_lock_rows_of("s");
        assert_eq!(
            query.sql(Backend::Sqlite),
            "SELECT s.a FROM s WHERE a = ? AND b IN (SELECT value FROM json_each(?))"
        );
        assert_eq!(
            query.sql(Backend::Postgres),
            "SELECT s.a FROM s WHERE a = $1 AND b = ANY($2::text[]) FOR UPDATE OF s"
        );
    }
}
