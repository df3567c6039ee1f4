//! Write transactions in the calling task.
//!
//! An instance writes through one connection of its own. SQLite lets one connection write to
//! a file at a time, so a second write connection in the same process could only wait for the
//! first; here the instance's writers wait for the connection in order, on an async mutex,
//! without polling and without a thread each. Across processes (the service's other instances)
//! the file's write lock decides: `BEGIN IMMEDIATE` takes it at the start of the transaction
//! (why: [`crate::db::Tx`]), and when another process holds it SQLite answers `SQLITE_BUSY` at
//! once (busy timeout zero) and the writer sleeps a moment, asynchronously, and asks again,
//! up to the same limit sqlx's busy timeout set. Once the lock is held, nothing in the
//! transaction waits for another connection: in WAL mode readers never block a writer, and the
//! checkpoint a commit may run is the passive kind, which waits for no one.
//!
//! A statement runs to its end inside the poll that started it, so a request cancelled while it
//! holds a transaction stops between statements, and the transaction is rolled back when it is
//! dropped (as sqlx does for its own).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::row::FromLiteRow;
use super::{bind, is_a_file, is_busy, open, LiteError};
use crate::db::value::Value;

/// The longest pause between two attempts at another process's write lock: short, since the
/// lock is held for a transaction of a few statements.
const LONGEST_PAUSE: Duration = Duration::from_millis(4);

/// The instance's write connection to one SQLite file.
#[derive(Debug)]
pub(crate) struct Writer {
    path: PathBuf,
    /// Opened at the first write; `None` again after a connection had to be given up.
    conn: Arc<Mutex<Option<Connection>>>,
    /// How long a writer waits, for this instance's other writers and for other processes.
    wait: Duration,
    closed: AtomicBool,
}

impl Writer {
    /// The writer of the file at `path`, or none for an in-memory store. A transaction waits up
    /// to `wait` for the write lock.
    pub(crate) fn of(path: &Path, wait: Duration) -> Option<Writer> {
        is_a_file(path).then(|| Writer {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(None)),
            wait,
            closed: AtomicBool::new(false),
        })
    }

    /// Begins a write transaction: the instance's write connection, then the file's write lock.
    pub(crate) async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        let started = tokio::time::Instant::now();
        let mut slot = tokio::time::timeout(self.wait, self.conn.clone().lock_owned())
            .await
            .map_err(|_| locked())?;
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let mut pause = Duration::from_millis(1);
        loop {
            let conn = self.ready(&mut slot)?;
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break,
                Err(error) if is_busy(&error) && started.elapsed() < self.wait => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(error) => return Err(LiteError::into_sqlx(error)),
            }
        }
        OwnedMutexGuard::try_map(slot, Option::as_mut)
            .map(|conn| WriteTx {
                conn,
                savepoints: 0,
            })
            .map_err(|_| sqlx::Error::PoolClosed)
    }

    /// The connection in `slot`, opened if there is none, and outside any transaction.
    fn ready<'s>(&self, slot: &'s mut Option<Connection>) -> Result<&'s Connection, sqlx::Error> {
        // A transaction whose rollback failed when it was dropped left its connection inside
        // it: closing that connection ends the transaction.
        if slot.as_ref().is_some_and(|conn| !conn.is_autocommit()) {
            tracing::warn!(path = %self.path.display(), "SQLite write connection left inside a transaction; reopening it");
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(open(&self.path).map_err(LiteError::into_sqlx)?);
        }
        slot.as_ref().ok_or(sqlx::Error::PoolClosed)
    }

    /// Refuses new transactions and closes the connection once no transaction holds it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut slot) = self.conn.try_lock() {
            *slot = None;
        }
    }
}

/// The error sqlx gave when the write lock stayed taken for its whole busy timeout.
fn locked() -> sqlx::Error {
    LiteError::into_sqlx(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("database is locked".to_owned()),
    ))
}

/// An open write transaction on the instance's write connection, which it holds to its end.
/// Dropped without [`WriteTx::commit`], it is rolled back.
#[derive(Debug)]
pub struct WriteTx {
    conn: OwnedMappedMutexGuard<Option<Connection>, Connection>,
    /// Savepoints open inside it, for their names.
    savepoints: usize,
}

impl WriteTx {
    pub(crate) fn commit(self) -> Result<(), sqlx::Error> {
        // A failed COMMIT leaves the transaction open: dropping `self` rolls it back.
        self.conn
            .execute_batch("COMMIT")
            .map_err(LiteError::into_sqlx)
    }

    pub(crate) fn rollback(self) -> Result<(), sqlx::Error> {
        self.conn
            .execute_batch("ROLLBACK")
            .map_err(LiteError::into_sqlx)
    }

    /// Runs `sql` and decodes its rows (only the first when `first_only`; a statement that
    /// writes still runs to its end).
    pub(crate) fn fetch<R: FromLiteRow>(
        &mut self,
        sql: &str,
        values: &[Value],
        first_only: bool,
    ) -> Result<Vec<R>, sqlx::Error> {
        let mut statement = self.prepare(sql, values)?;
        let stop_early = first_only && statement.readonly();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(LiteError::into_sqlx)? {
            if out.is_empty() || !first_only {
                out.push(R::from_lite_row(row)?);
            }
            if stop_early {
                break;
            }
        }
        Ok(out)
    }

    /// Runs `sql`; the number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, sqlx::Error> {
        let mut statement = self.prepare(sql, values)?;
        let writes = !statement.readonly();
        let mut rows = statement.raw_query();
        while rows.next().map_err(LiteError::into_sqlx)?.is_some() {}
        drop(rows);
        drop(statement);
        Ok(if writes { self.conn.changes() } else { 0 })
    }

    fn prepare(
        &self,
        sql: &str,
        values: &[Value],
    ) -> Result<rusqlite::CachedStatement<'_>, sqlx::Error> {
        let mut statement = self
            .conn
            .prepare_cached(sql)
            .map_err(LiteError::into_sqlx)?;
        let expected = statement.parameter_count();
        if expected != values.len() {
            return Err(LiteError::into_sqlx(
                rusqlite::Error::InvalidParameterCount(values.len(), expected),
            ));
        }
        for (index, value) in values.iter().enumerate() {
            bind(&mut statement, index + 1, value).map_err(LiteError::into_sqlx)?;
        }
        Ok(statement)
    }

    /// Runs every statement of `sql` (a migration), with no values.
    pub(crate) fn execute_batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.conn.execute_batch(sql).map_err(LiteError::into_sqlx)
    }

    /// Begins a savepoint inside the transaction.
    pub(crate) fn savepoint(&mut self) -> Result<WriteSavepoint<'_>, sqlx::Error> {
        let name = format!("brigade_savepoint_{}", self.savepoints + 1);
        self.conn
            .execute_batch(&format!("SAVEPOINT {name}"))
            .map_err(LiteError::into_sqlx)?;
        self.savepoints += 1;
        Ok(WriteSavepoint {
            tx: self,
            name,
            open: true,
        })
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(error) = self.conn.execute_batch("ROLLBACK") {
                // The next transaction finds the connection still inside this one and opens a
                // fresh one (`Writer::ready`).
                tracing::warn!(%error, "rolling back a dropped SQLite transaction failed");
            }
        }
    }
}

/// A savepoint inside a [`WriteTx`]: released on commit, rolled back to on rollback or drop.
#[derive(Debug)]
pub struct WriteSavepoint<'t> {
    tx: &'t mut WriteTx,
    name: String,
    open: bool,
}

impl WriteSavepoint<'_> {
    /// The transaction, to run statements in the savepoint.
    pub(crate) fn tx(&mut self) -> &mut WriteTx {
        self.tx
    }

    pub(crate) fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end(&format!("RELEASE {}", self.name))
    }

    pub(crate) fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end(&format!("ROLLBACK TO {0}; RELEASE {0}", self.name))
    }

    fn end(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.open = false;
        self.tx.savepoints -= 1;
        self.tx
            .conn
            .execute_batch(sql)
            .map_err(LiteError::into_sqlx)
    }
}

impl Drop for WriteSavepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let sql = format!("ROLLBACK TO {0}; RELEASE {0}", self.name);
            if let Err(error) = self.end(&sql) {
                tracing::warn!(%error, "rolling back a dropped SQLite savepoint failed");
            }
        }
    }
}
