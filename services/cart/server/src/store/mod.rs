//! The cart's store: one cart per user, on SQLite or PostgreSQL.
//!
//! Reads take one statement ([`Store::load`]). Every change goes through one write path
//! (`apply`): count the change first (which serialises changes to the cart), read the lines, let
//! the caller's rules edit them in memory, write only what differs. [`Store::change`] runs it in
//! a transaction of its own and commits; [`change_in`] runs it inside a transaction the caller
//! holds (an event handler's, which also records that the event was applied). A change that
//! turns out to change nothing is rolled back (its transaction, or its savepoint), so the version
//! counts real changes only.

mod rows;
mod sql;

use brigade_chassis::db::{Conn, Tx};
use uuid::Uuid;

use crate::lines::{self, Line, StoredCart};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

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

/// What a change inside the caller's transaction did ([`change_in`]).
#[derive(Debug)]
pub struct Edited<T> {
    /// What the caller's edit returned.
    pub outcome: T,
    /// False when the edit left the lines as they were: nothing was written.
    pub changed: bool,
}

brigade_chassis::store_handle! {
    /// Carts. Cheap to clone: it is a pool handle.
    pub struct Store;
}

impl Store {
    /// The user's cart; empty (version 0) when it never changed.
    pub async fn load(&self, user_id: Uuid) -> Result<StoredCart, Error> {
        let rows: Vec<rows::LoadRow> = sql::load(user_id).fetch_all(&self.db).await?;
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
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let applied = match apply(tx.conn(), user_id, now, edit).await? {
            Ok(applied) => applied,
            Err(refused) => {
                tx.rollback().await?;
                return Ok(Err(refused));
            }
        };
        if !applied.changed {
            // Nothing to count: undo the version bump, and answer the cart as it is.
            tx.rollback().await?;
            return Ok(Ok(Changed {
                cart: self.load(user_id).await?,
                outcome: applied.outcome,
                changed: false,
            }));
        }
        tx.commit().await?;
        Ok(Ok(Changed {
            cart: StoredCart {
                version: applied.version,
                updated_at_ms: now,
                lines: applied.lines,
            },
            outcome: applied.outcome,
            changed: true,
        }))
    }
}

/// Applies `edit` to the user's lines inside `tx`, a write transaction the caller holds and
/// commits (an event handler's): the same write path as [`Store::change`], in a savepoint, so
/// that a refused edit or one that changes nothing leaves no trace (not even a version bump)
/// while the rest of `tx` goes on.
pub async fn change_in<T, E>(
    tx: &mut Tx,
    user_id: Uuid,
    edit: impl FnOnce(&mut Vec<Line>, i64) -> Result<T, E>,
) -> Result<Result<Edited<T>, E>, Error> {
    let mut savepoint = tx.savepoint().await?;
    let applied = match apply(savepoint.conn(), user_id, now_ms(), edit).await? {
        Ok(applied) => applied,
        Err(refused) => {
            savepoint.rollback().await?;
            return Ok(Err(refused));
        }
    };
    if applied.changed {
        savepoint.commit().await?;
    } else {
        savepoint.rollback().await?;
    }
    Ok(Ok(Edited {
        outcome: applied.outcome,
        changed: applied.changed,
    }))
}

use brigade_chassis::time::now_ms;

/// What [`apply`] did.
struct Applied<T> {
    /// The version the change makes.
    version: i64,
    /// The lines after the edit, in the order shown.
    lines: Vec<Line>,
    outcome: T,
    changed: bool,
}

/// The one write path of the cart, inside the caller's transaction: counts the change (which
/// locks the cart), reads the lines, lets `edit` change them, writes only what differs. The
/// count is written even when `edit` refuses or changes nothing: the caller then rolls back.
async fn apply<T, E>(
    mut conn: Conn<'_>,
    user_id: Uuid,
    now: i64,
    edit: impl FnOnce(&mut Vec<Line>, i64) -> Result<T, E>,
) -> Result<Result<Applied<T>, E>, Error> {
    let version = bump(&mut conn, user_id, now).await?;
    let before = read_lines(&mut conn, user_id).await?;
    let mut after = before.clone();
    let outcome = match edit(&mut after, version) {
        Ok(outcome) => outcome,
        Err(refused) => return Ok(Err(refused)),
    };
    let changes = lines::diff(&before, &after);
    let changed = !changes.is_empty();
    for product_id in &changes.deleted {
        delete_line(&mut conn, user_id, *product_id).await?;
    }
    for line in &changes.written {
        write_line(&mut conn, user_id, line).await?;
    }
    after.sort_by_key(|l| (l.added_version, l.product_id.to_string()));
    Ok(Ok(Applied {
        version,
        lines: after,
        outcome,
        changed,
    }))
}

async fn bump(conn: &mut Conn<'_>, user_id: Uuid, now: i64) -> Result<i64, Error> {
    let (version,): (i64,) = sql::bump(user_id, now).fetch_one(conn).await?;
    Ok(version)
}

async fn read_lines(conn: &mut Conn<'_>, user_id: Uuid) -> Result<Vec<Line>, Error> {
    let rows: Vec<rows::LineRow> = sql::lines(user_id).fetch_all(conn).await?;
    rows.into_iter().map(rows::line).collect()
}

async fn delete_line(conn: &mut Conn<'_>, user_id: Uuid, product_id: Uuid) -> Result<(), Error> {
    sql::delete_line(user_id, product_id).execute(conn).await?;
    Ok(())
}

async fn write_line(conn: &mut Conn<'_>, user_id: Uuid, line: &Line) -> Result<(), Error> {
    sql::write_line(user_id, line).execute(conn).await?;
    Ok(())
}
