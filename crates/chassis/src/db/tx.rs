//! The one transaction type of every store, on either backend: service stores, the outbox and
//! the event inbox all write through it, so that an event handler and a request run the same
//! store code inside one transaction.

use sqlx::{Connection, PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use super::lite::{WriteSavepoint, WriteTx};
use super::span::StoreSpan;
use super::{Backend, Db};

/// An open transaction, begun by [`Db::begin_write`] (or [`Db::begin_read`]).
///
/// A write transaction on SQLite holds the write lock from its start (`BEGIN IMMEDIATE`): a
/// deferred transaction that read first and wrote later could find, at its first write, that
/// another instance wrote in between, and fail rather than wait; with the lock taken first, what
/// it reads cannot change before it writes. On PostgreSQL it is an ordinary READ COMMITTED
/// transaction, and each read-modify-write starts by locking the rows it is about (`FOR UPDATE`,
/// [`super::Query::push_lock_rows_of`]) or by a conditional update.
///
/// Dropped without [`Tx::commit`] (an early return, a `?`, a cancelled request), it is rolled
/// back: sqlx queues the `ROLLBACK` on the connection before it can be used again, so a pooled
/// connection never carries an open transaction to its next user. A `COMMIT` that fails (SQLite
/// busy at commit) leaves the transaction open, and it is rolled back the same way.
#[derive(Debug)]
pub enum Tx {
    /// A write transaction on a SQLite file, in the calling task ([`super::lite`]).
    Lite(WriteTx),
    /// A SQLite transaction on sqlx: a read transaction, or any on an in-memory store.
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A borrowed connection inside some transaction: what the outbox appends through, whatever
/// transaction type the service uses (`&mut *tx` of a `sqlx::Transaction` or a pooled
/// connection it began itself).
#[derive(Debug)]
pub enum Conn<'a> {
    Lite(&'a mut WriteTx),
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Db {
    /// Begins a write transaction. Its span shows the wait for a connection and, on SQLite,
    /// for the store's write lock.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        let span = StoreSpan::start(self.backend(), "BEGIN");
        let result = match self {
            Db::Sqlite(db) => match db.writer() {
                Some(writer) => writer.begin().await.map(Tx::Lite),
                None => db
                    .pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map(Tx::Sqlite),
            },
            Db::Postgres(pool) => pool.begin().await.map(Tx::Postgres),
        };
        span.end(&result);
        result
    }

    /// Begins a read-only transaction that sees one snapshot of the store from its first read
    /// to its end, for a report made of several reads that must agree with each other.
    pub async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        let span = StoreSpan::start(self.backend(), "BEGIN");
        let result = match self {
            // In WAL mode a transaction reads one snapshot from its first read to its end, and
            // a deferred one takes no lock: readers never wait for the writer.
            Db::Sqlite(db) => db.pool().begin().await.map(Tx::Sqlite),
            Db::Postgres(pool) => pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map(Tx::Postgres),
        };
        span.end(&result);
        result
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Lite(_) | Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// The transaction's connection.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Lite(tx) => Conn::Lite(tx),
            Tx::Sqlite(tx) => Conn::Sqlite(&mut *tx),
            Tx::Postgres(tx) => Conn::Postgres(&mut *tx),
        }
    }

    /// Makes the transactions that take the same `key` run one after another from here to
    /// their end: PostgreSQL's transaction-scoped advisory lock. On SQLite nothing is needed: a
    /// write transaction holds the store's write lock from its start. Keys are the service's
    /// own (each service has its own database).
    pub async fn serialize_on(&mut self, key: i64) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(tx) = self {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let span = StoreSpan::start(self.backend(), "COMMIT");
        let result = match self {
            Tx::Lite(tx) => tx.commit(),
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        };
        span.end(&result);
        result
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Lite(tx) => tx.rollback(),
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// A savepoint inside a [`Tx`] (sqlx's nested transaction): released on commit, rolled back to
/// on rollback (or when dropped), without ending the transaction around it. For work inside a
/// caller's transaction that may have to leave no trace while the rest goes on.
#[derive(Debug)]
pub enum Savepoint<'t> {
    Lite(WriteSavepoint<'t>),
    Sqlite(Transaction<'t, Sqlite>),
    Postgres(Transaction<'t, Postgres>),
}

impl Tx {
    /// Begins a savepoint; the transaction is usable again once it ends.
    pub async fn savepoint(&mut self) -> Result<Savepoint<'_>, sqlx::Error> {
        Ok(match self {
            Tx::Lite(tx) => Savepoint::Lite(tx.savepoint()?),
            Tx::Sqlite(tx) => Savepoint::Sqlite((**tx).begin().await?),
            Tx::Postgres(tx) => Savepoint::Postgres((**tx).begin().await?),
        })
    }
}

impl Savepoint<'_> {
    /// The savepoint's connection.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Savepoint::Lite(savepoint) => Conn::Lite(savepoint.tx()),
            Savepoint::Sqlite(tx) => Conn::Sqlite(tx),
            Savepoint::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Savepoint::Lite(savepoint) => savepoint.commit(),
            Savepoint::Sqlite(tx) => tx.commit().await,
            Savepoint::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Savepoint::Lite(savepoint) => savepoint.rollback(),
            Savepoint::Sqlite(tx) => tx.rollback().await,
            Savepoint::Postgres(tx) => tx.rollback().await,
        }
    }
}

impl<'a> From<&'a mut SqliteConnection> for Conn<'a> {
    fn from(conn: &'a mut SqliteConnection) -> Conn<'a> {
        Conn::Sqlite(conn)
    }
}

impl<'a> From<&'a mut PgConnection> for Conn<'a> {
    fn from(conn: &'a mut PgConnection) -> Conn<'a> {
        Conn::Postgres(conn)
    }
}

impl Conn<'_> {
    /// The same connection, borrowed again for a shorter time.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Lite(tx) => Conn::Lite(tx),
            Conn::Sqlite(conn) => Conn::Sqlite(conn),
            Conn::Postgres(conn) => Conn::Postgres(conn),
        }
    }
}
