//! SQLite reads in the calling task.
//!
//! sqlx's SQLite driver runs every connection on a thread of its own and hands each statement
//! to it over a channel, and the rows back: two thread wake-ups and context switches for a read
//! that SQLite, in WAL mode on a local file, answers from its page cache in microseconds. With
//! ten-odd instances sharing two cores, those hand-offs cost more CPU than the reads (#14).
//!
//! So a statement that only reads, run on the [`Db`](super::Db) outside a transaction, runs
//! here: on a connection of the instance's own (rusqlite, on the same SQLite library sqlx
//! links), in the task that asked, to its end. In WAL mode a read never waits for a writer: it
//! sees the last committed snapshot whatever another connection or process is writing. When a
//! read cannot run here at once (SQLite answers `SQLITE_BUSY`, which a reader sees only in rare
//! moments such as another process recovering the WAL; or the statement is anything but a plain
//! read; or SQLite refuses it), it is handed to sqlx as before ([`Read::Elsewhere`]), which
//! waits out the busy timeout on its own thread and reports errors in its own words: the
//! runtime never sleeps here, and a failing statement fails exactly as it always did.
//!
//! Writes and transactions stay on sqlx: they may wait up to the busy timeout for another
//! process's write lock, which must not freeze the instance's runtime.
//!
//! Rows are decoded by [`FromLiteRow`], implemented for the tuples every store reads into, with
//! sqlx's rules for SQLite (the value's own type must suit the Rust type; NULL into a non-option
//! reads as sqlx reads it), so a row reads the same whichever way it came.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::error::BoxDynError;

use super::value::{json_array, Value};

/// Prepared statements kept per read connection: every read a service makes, many times over.
const STATEMENT_CACHE: usize = 64;

/// The instance's read connections to one SQLite file.
pub(crate) struct Reads {
    path: PathBuf,
    /// Connections not in use. A read holds one only while it runs (it never awaits), so a
    /// current-thread runtime needs one, a multi-thread runtime one per worker at most.
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("path", &self.path).finish()
    }
}

/// How a read went here.
pub(crate) enum Read<T> {
    Done(Result<T, sqlx::Error>),
    /// Not run here (busy, not a plain read, refused by SQLite): run it on sqlx instead.
    Elsewhere,
}

impl Reads {
    /// Reads of the file at `path`, or none for an in-memory store (a connection of its own
    /// would open another, empty database).
    pub(crate) fn of(path: &Path) -> Option<Reads> {
        let name = path.as_os_str();
        if name.is_empty() || name == ":memory:" || name.to_string_lossy().starts_with("file:") {
            return None;
        }
        Some(Reads {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `sql` with `values` if it is a plain read, decoding every row (or only the first).
    pub(crate) fn fetch<R: FromLiteRow>(
        &self,
        sql: &str,
        values: &[Value],
        first_only: bool,
    ) -> Read<Vec<R>> {
        if !looks_like_a_read(sql) {
            return Read::Elsewhere;
        }
        let Some(conn) = self.take() else {
            return Read::Elsewhere;
        };
        let read = run(&conn, sql, values, first_only);
        self.give_back(conn);
        read
    }

    /// Drops the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn take(&self) -> Option<Connection> {
        if let Some(conn) = self.idle.lock().ok()?.pop() {
            return Some(conn);
        }
        match open(&self.path) {
            Ok(conn) => Some(conn),
            Err(error) => {
                tracing::debug!(%error, path = %self.path.display(), "cannot open a SQLite read connection; reading through sqlx");
                None
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        // A connection left inside a transaction would pin its snapshot: never keep one.
        if !conn.is_autocommit() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    // The file exists: sqlx's pool opened it (and set WAL, which the file keeps) first.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Never wait here: a busy read goes to sqlx, which waits on its own thread.
    conn.busy_timeout(std::time::Duration::ZERO)?;
    // This connection only reads, whatever a statement turns out to be.
    conn.pragma_update(None, "query_only", true)?;
    conn.pragma_update(None, "cache_size", -2000)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A statement that starts as a query (`SELECT`, `WITH`, `VALUES`): transaction control and
/// pragmas, which SQLite also calls read-only, go to sqlx.
fn looks_like_a_read(sql: &str) -> bool {
    let start = sql.trim_start();
    ["SELECT", "WITH", "VALUES"].iter().any(|word| {
        start
            .get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
    })
}

fn run<R: FromLiteRow>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
    first_only: bool,
) -> Read<Vec<R>> {
    let Ok(mut statement) = conn.prepare_cached(sql) else {
        // Busy reading the schema, or a statement SQLite refuses: sqlx says it in its words.
        return Read::Elsewhere;
    };
    if !statement.readonly() || statement.parameter_count() != values.len() {
        return Read::Elsewhere;
    }
    for (index, value) in values.iter().enumerate() {
        if bind(&mut statement, index + 1, value).is_err() {
            return Read::Elsewhere;
        }
    }
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    loop {
        match rows.next() {
            Ok(Some(row)) => match R::from_lite_row(row) {
                Ok(decoded) => out.push(decoded),
                Err(error) => return Read::Done(Err(error)),
            },
            Ok(None) => break,
            // Busy (a reader waits for nothing else), or an error SQLite raised while reading:
            // the statement only reads, so sqlx may run it again from the start.
            Err(error) => {
                if is_busy(&error) {
                    tracing::debug!("SQLite read busy; reading through sqlx");
                }
                return Read::Elsewhere;
            }
        }
        if first_only {
            break;
        }
    }
    Read::Done(Ok(out))
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Binds `value` as sqlx binds it on SQLite: booleans as 0/1, lists as a JSON array.
fn bind(
    statement: &mut rusqlite::Statement<'_>,
    index: usize,
    value: &Value,
) -> rusqlite::Result<()> {
    match value {
        Value::Text(text) => statement.raw_bind_parameter(index, text.as_str()),
        Value::OptText(text) => statement.raw_bind_parameter(index, text.as_deref()),
        Value::Int(int) => statement.raw_bind_parameter(index, int),
        Value::OptInt(int) => statement.raw_bind_parameter(index, int),
        Value::Real(real) => statement.raw_bind_parameter(index, real),
        Value::Bool(flag) => statement.raw_bind_parameter(index, i64::from(*flag)),
        Value::Bytes(bytes) => statement.raw_bind_parameter(index, bytes.as_slice()),
        Value::TextList(list) => statement.raw_bind_parameter(index, json_array(list)),
        Value::IntList(list) => statement.raw_bind_parameter(index, json_array(list)),
    }
}

/// A row type read in the calling task: implemented for tuples of [`LiteValue`]s (what the
/// stores read into), as sqlx implements `FromRow` for them.
pub trait FromLiteRow: Sized {
    fn from_lite_row(row: &rusqlite::Row<'_>) -> Result<Self, sqlx::Error>;
}

/// A column value read in the calling task, with sqlx's SQLite rules.
pub trait LiteValue: Sized {
    /// SQL type name for the mismatch message (as sqlx names it).
    const SQL_TYPE: &'static str;
    /// Whether a value of SQLite's runtime `kind` may be read as this type.
    fn compatible(kind: Kind) -> bool;
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError>;
}

/// SQLite's runtime type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

impl Kind {
    fn of(value: ValueRef<'_>) -> Kind {
        match value {
            ValueRef::Null => Kind::Null,
            ValueRef::Integer(_) => Kind::Integer,
            ValueRef::Real(_) => Kind::Real,
            ValueRef::Text(_) => Kind::Text,
            ValueRef::Blob(_) => Kind::Blob,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "NULL",
            Kind::Integer => "INTEGER",
            Kind::Real => "REAL",
            Kind::Text => "TEXT",
            Kind::Blob => "BLOB",
        }
    }
}

/// Column `index` of `row` as `T`, failing as sqlx's `Row::try_get` fails.
pub(crate) fn column<T: LiteValue>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> Result<T, sqlx::Error> {
    let len = row.as_ref().column_count();
    let value = row
        .get_ref(index)
        .map_err(|_| sqlx::Error::ColumnIndexOutOfBounds { index, len })?;
    let kind = Kind::of(value);
    if kind != Kind::Null && !T::compatible(kind) {
        return Err(sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source: format!(
                "mismatched types; Rust type `{}` (as SQL type `{}`) is not compatible with SQL type `{}`",
                std::any::type_name::<T>(),
                T::SQL_TYPE,
                kind.name()
            )
            .into(),
        });
    }
    T::decode(value).map_err(|source| sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source,
    })
}

/// sqlx reads a NULL into a non-option integer as 0 (`sqlite3_value_int64`).
fn int64(value: ValueRef<'_>) -> i64 {
    match value {
        ValueRef::Integer(int) => int,
        _ => 0,
    }
}

/// sqlx reads a NULL into text or bytes as empty.
fn bytes(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
        _ => &[],
    }
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl LiteValue for $t {
            const SQL_TYPE: &'static str = "INTEGER";
            fn compatible(kind: Kind) -> bool {
                kind == Kind::Integer
            }
            fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
                Ok(<$t>::try_from(int64(value))?)
            }
        }
    )*};
}

integer!(i8, i16, i32, i64, u8, u16, u32);

impl LiteValue for bool {
    const SQL_TYPE: &'static str = "BOOLEAN";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Integer
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(int64(value) != 0)
    }
}

impl LiteValue for f64 {
    const SQL_TYPE: &'static str = "REAL";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Real
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(match value {
            ValueRef::Real(real) => real,
            _ => 0.0,
        })
    }
}

impl LiteValue for String {
    const SQL_TYPE: &'static str = "TEXT";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Text
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(std::str::from_utf8(bytes(value))?.to_owned())
    }
}

impl LiteValue for Vec<u8> {
    const SQL_TYPE: &'static str = "BLOB";
    fn compatible(kind: Kind) -> bool {
        matches!(kind, Kind::Blob | Kind::Text)
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(bytes(value).to_vec())
    }
}

impl<T: LiteValue> LiteValue for Option<T> {
    const SQL_TYPE: &'static str = T::SQL_TYPE;
    fn compatible(kind: Kind) -> bool {
        T::compatible(kind)
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        match value {
            ValueRef::Null => Ok(None),
            value => T::decode(value).map(Some),
        }
    }
}

macro_rules! tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: LiteValue),+> FromLiteRow for ($($t,)+) {
            fn from_lite_row(row: &rusqlite::Row<'_>) -> Result<Self, sqlx::Error> {
                Ok(($(column::<$t>(row, $i)?,)+))
            }
        }
    };
}

tuple!(T0 0);
tuple!(T0 0, T1 1);
tuple!(T0 0, T1 1, T2 2);
tuple!(T0 0, T1 1, T2 2, T3 3);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13, T14 14);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13, T14 14, T15 15);
