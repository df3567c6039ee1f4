//! SQLite in the calling task.
//!
//! sqlx's SQLite driver runs every connection on a thread of its own and hands each statement
//! to it over a channel, and the rows back: two thread wake-ups and context switches for a
//! statement that SQLite, in WAL mode on a local file, runs from its page cache in
//! microseconds. With ten-odd instances sharing two cores, those hand-offs cost more CPU than
//! the statements (#14). So on a file store the statements run here, on connections of the
//! instance's own (rusqlite, on the same SQLite library sqlx links), in the task that asked:
//!
//! - [`read`]: a plain read outside a transaction, on one of a few read-only connections. In
//!   WAL mode a read never waits for a writer.
//! - [`write`]: write transactions, on the instance's one write connection. The only wait a
//!   writer has, for another process's write lock, is taken at `BEGIN IMMEDIATE` and waited
//!   out with async sleeps, so the runtime never blocks on it; once the lock is held nothing
//!   in the transaction waits for anyone.
//!
//! Neither ever lets SQLite's busy handler sleep on a runtime thread (their busy timeout is
//! zero). What cannot run here goes to sqlx as before: read transactions (`Db::begin_read`),
//! in-memory stores, migrations.
//!
//! Rows are decoded by [`FromLiteRow`] ([`row`]), with sqlx's rules for SQLite, and errors are
//! sqlx's errors with SQLite's codes ([`LiteError`]), so stores read and fail the same whichever
//! way a statement ran.

mod read;
mod row;
mod write;

use std::borrow::Cow;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::error::{DatabaseError, ErrorKind};

use super::value::{json_array, Value};

pub(crate) use read::{looks_like_a_read, Read, Reads};
pub use row::{FromLiteRow, Kind, LiteValue};
pub(crate) use write::Writer;
pub use write::{WriteSavepoint, WriteTx};

/// Prepared statements kept per connection: every statement a service makes, many times over.
const STATEMENT_CACHE: usize = 64;

/// Whether a store at `path` can have connections of its own here: not an in-memory store
/// (a connection of its own would open another, empty database).
fn is_a_file(path: &Path) -> bool {
    let name = path.as_os_str();
    !(name.is_empty() || name == ":memory:" || name.to_string_lossy().starts_with("file:"))
}

/// Opens a connection to the file at `path`, which sqlx's pool opened (and set to WAL, which
/// the file keeps) first.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Never sleep in SQLite's busy handler: that would block the runtime's thread.
    conn.busy_timeout(std::time::Duration::ZERO)?;
    conn.pragma_update(None, "cache_size", -2000)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Another connection or process holds a lock that will be released.
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

/// An error SQLite raised, as sqlx reports SQLite's own: its extended code and message, and
/// the same [`ErrorKind`] (so `is_unique_violation` and the like answer as they did).
#[derive(Debug)]
pub struct LiteError {
    code: i32,
    message: Cow<'static, str>,
}

impl LiteError {
    /// `error` as sqlx would have reported it.
    pub(crate) fn into_sqlx(error: rusqlite::Error) -> sqlx::Error {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let message = message
                    .map(Cow::Owned)
                    .unwrap_or_else(|| Cow::Owned(failure.to_string()));
                sqlx::Error::Database(Box::new(LiteError {
                    code: failure.extended_code,
                    message,
                }))
            }
            rusqlite::Error::InvalidParameterCount(given, expected) => sqlx::Error::Protocol(
                format!("the statement has {expected} placeholders but {given} values were bound"),
            ),
            other => sqlx::Error::Protocol(other.to_string()),
        }
    }
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use libsqlite3_sys as ffi;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
