//! A write transaction on either backend, for code shared by every service (the outbox, the
//! event inbox) and for services that write through it.

use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use super::{Backend, Db};

/// An open write transaction. On SQLite it holds the write lock from its start
/// (`BEGIN IMMEDIATE`), so what it reads cannot change before it writes; on PostgreSQL it is an
/// ordinary READ COMMITTED transaction and writers lock the rows they change.
#[derive(Debug)]
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A borrowed connection inside some transaction: what the outbox appends through, whatever
/// transaction type the service uses (`&mut *tx` of a `sqlx::Transaction` or a pooled
/// connection it began itself).
#[derive(Debug)]
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Db {
    /// Begins a write transaction.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// The transaction's connection.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(&mut *tx),
            Tx::Postgres(tx) => Conn::Postgres(&mut *tx),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
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
            Conn::Sqlite(conn) => Conn::Sqlite(conn),
            Conn::Postgres(conn) => Conn::Postgres(conn),
        }
    }
}
