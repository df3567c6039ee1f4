//! The cart's store: one cart per user, on SQLite or PostgreSQL.
//!
//! Reads take one statement ([`Store::load`]). Every change runs in one transaction
//! ([`Store::change`]): count the change first (which serialises changes to the cart), read the
//! lines, let the caller's rules edit them in memory, write only what differs, commit. A change
//! that turns out to change nothing is rolled back, so the version counts real changes only.

mod rows;
mod sql;

use brigade_chassis::db::Db;
use sqlx::{Postgres, Sqlite, Transaction};
use uuid::Uuid;

use crate::lines::{self, Line, StoredCart};

/// A failure of the store itself: the caller's input was fine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cart store query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("cart line for product {product_id} is unreadable: {reason}")]
    Corrupt { product_id: String, reason: String },
}

/// What a change did.
#[derive(Debug)]
pub struct Changed<T> {
    /// The cart after the change (or as it is, when nothing changed).
    pub cart: StoredCart,
    /// What the caller's edit returned.
    pub outcome: T,
    /// False when the edit left the lines as they were: nothing was written.
    pub changed: bool,
}

/// Runs `$body` with `$conn` (a connection of either backend) and `$sql` (the statement text of
/// that backend): the same query code, type-checked once per backend.
macro_rules! on_backend {
    ($target:expr, $stmt:expr, |$conn:ident, $sql:ident| $body:expr) => {
        match $target {
            Target::Sqlite($conn) => {
                let $sql = $stmt.sqlite;
                $body
            }
            Target::Postgres($conn) => {
                let $sql = $stmt.postgres;
                $body
            }
        }
    };
}

/// A transaction on either backend.
enum Target<S, P> {
    Sqlite(S),
    Postgres(P),
}

type Tx = Target<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

/// Carts. Cheap to clone: it is a pool handle.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// `db` must have [`crate::MIGRATIONS`] applied.
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    /// The user's cart; empty (version 0) when it never changed.
    pub async fn load(&self, user_id: Uuid) -> Result<StoredCart, Error> {
        let pool = match &self.db {
            Db::Sqlite(pool) => Target::Sqlite(pool),
            Db::Postgres(pool) => Target::Postgres(pool),
        };
        let rows: Vec<rows::LoadRow> = on_backend!(pool, sql::LOAD, |pool, text| {
            sqlx::query_as(text)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?
        });
        let Some(&(version, updated_at_ms, ..)) = rows.first() else {
            return Ok(StoredCart::empty());
        };
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            lines.extend(rows::loaded_line(row)?);
        }
        Ok(StoredCart {
            version,
            updated_at_ms,
            lines,
        })
    }

    /// Applies `edit` to the user's lines in one transaction. `edit` gets the lines as they are
    /// now and the version this change makes (to stamp new lines with); when it refuses
    /// (`Err`), nothing is written and its error is returned inside `Ok`.
    pub async fn change<T, E>(
        &self,
        user_id: Uuid,
        edit: impl FnOnce(&mut Vec<Line>, i64) -> Result<T, E>,
    ) -> Result<Result<Changed<T>, E>, Error> {
        let now = i64::try_from(brigade_chassis::time::unix_ms()).unwrap_or(i64::MAX);
        let mut tx = match &self.db {
            Db::Sqlite(pool) => Target::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Target::Postgres(pool.begin().await?),
        };
        let version = bump(&mut tx, user_id, now).await?;
        let before = read_lines(&mut tx, user_id).await?;
        let mut after = before.clone();
        let outcome = match edit(&mut after, version) {
            Ok(outcome) => outcome,
            Err(refused) => {
                rollback(tx).await?;
                return Ok(Err(refused));
            }
        };
        let changes = lines::diff(&before, &after);
        if changes.is_empty() {
            // Nothing to count: undo the version bump, and answer the cart as it is.
            rollback(tx).await?;
            return Ok(Ok(Changed {
                cart: self.load(user_id).await?,
                outcome,
                changed: false,
            }));
        }
        for product_id in &changes.deleted {
            delete_line(&mut tx, user_id, *product_id).await?;
        }
        for line in &changes.written {
            write_line(&mut tx, user_id, line).await?;
        }
        commit(tx).await?;
        after.sort_by_key(|l| (l.added_version, l.product_id.to_string()));
        Ok(Ok(Changed {
            cart: StoredCart {
                version,
                updated_at_ms: now,
                lines: after,
            },
            outcome,
            changed: true,
        }))
    }
}

async fn bump(tx: &mut Tx, user_id: Uuid, now: i64) -> Result<i64, Error> {
    let (version,): (i64,) = on_backend!(tx, sql::BUMP, |tx, text| {
        sqlx::query_as(text)
            .bind(user_id.to_string())
            .bind(now)
            .fetch_one(&mut **tx)
            .await?
    });
    Ok(version)
}

async fn read_lines(tx: &mut Tx, user_id: Uuid) -> Result<Vec<Line>, Error> {
    let rows: Vec<rows::LineRow> = on_backend!(tx, sql::LINES, |tx, text| {
        sqlx::query_as(text)
            .bind(user_id.to_string())
            .fetch_all(&mut **tx)
            .await?
    });
    rows.into_iter().map(rows::line).collect()
}

async fn delete_line(tx: &mut Tx, user_id: Uuid, product_id: Uuid) -> Result<(), Error> {
    on_backend!(tx, sql::DELETE_LINE, |tx, text| {
        sqlx::query(text)
            .bind(user_id.to_string())
            .bind(product_id.to_string())
            .execute(&mut **tx)
            .await
            .map(drop)?
    });
    Ok(())
}

async fn write_line(tx: &mut Tx, user_id: Uuid, line: &Line) -> Result<(), Error> {
    // The schema allows at most 99; the rules allow no more, so this never saturates.
    let quantity = i32::try_from(line.quantity).unwrap_or(i32::MAX);
    on_backend!(tx, sql::WRITE_LINE, |tx, text| {
        sqlx::query(text)
            .bind(user_id.to_string())
            .bind(line.product_id.to_string())
            .bind(line.sku.as_str())
            .bind(line.name.as_str())
            .bind(line.unit_price.amount_minor)
            .bind(line.unit_price.currency.as_str())
            .bind(quantity)
            .bind(line.added_version)
            .execute(&mut **tx)
            .await
            .map(drop)?
    });
    Ok(())
}

async fn commit(tx: Tx) -> Result<(), Error> {
    match tx {
        Target::Sqlite(tx) => tx.commit().await?,
        Target::Postgres(tx) => tx.commit().await?,
    }
    Ok(())
}

async fn rollback(tx: Tx) -> Result<(), Error> {
    match tx {
        Target::Sqlite(tx) => tx.rollback().await?,
        Target::Postgres(tx) => tx.rollback().await?,
    }
    Ok(())
}
