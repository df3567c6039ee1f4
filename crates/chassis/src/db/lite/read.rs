//! Plain reads outside a transaction, in the calling task.
//!
//! A statement that only reads, run on the [`Db`](crate::db::Db) outside a transaction, runs
//! here to its end. In WAL mode a read sees the last committed snapshot whatever another
//! connection or process is writing. When a read cannot run here at once (SQLite answers
//! `SQLITE_BUSY`, which a reader sees only in rare moments such as another process recovering
//! the WAL; or the statement is anything but a plain read; or SQLite refuses it), it is handed
//! to sqlx as before ([`Read::Elsewhere`]), which waits out the busy timeout on its own thread
//! and reports errors in its own words: a failing statement fails exactly as it always did.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use super::row::FromLiteRow;
use super::{bind, is_a_file, is_busy, open};
use crate::db::value::Value;

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
        is_a_file(path).then(|| Reads {
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
        match open_for_reading(&self.path) {
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

fn open_for_reading(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open(path)?;
    // This connection only reads, whatever a statement turns out to be.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// A statement that starts as a query (`SELECT`, `WITH`, `VALUES`): transaction control and
/// pragmas, which SQLite also calls read-only, go to sqlx.
pub(crate) fn looks_like_a_read(sql: &str) -> bool {
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
