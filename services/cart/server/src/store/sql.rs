//! Every statement the store runs, written once for both engines. PostgreSQL keeps ids as
//! `uuid`: parameters travel as text and are cast there ([`Query::push_uuid`]), and ids leave as
//! text (`CAST(… AS TEXT)`), the one form both backends decode.

use brigade_chassis::db::Query;
use uuid::Uuid;

use crate::lines::Line;

/// The cart and its lines in one statement, so that both come from one snapshot. A user whose
/// cart never changed has no row.
pub(super) fn load(user_id: Uuid) -> Query {
    let mut query = Query::new(
        "SELECT c.version, c.updated_at_ms, CAST(l.product_id AS TEXT), l.sku, l.name, \
         l.unit_price_minor, l.currency, CAST(l.quantity AS BIGINT), l.added_version, \
         l.set_version \
         FROM carts c LEFT JOIN cart_lines l ON l.user_id = c.user_id WHERE c.user_id = ",
    );
    query
        .push_uuid(user_id)
        .push(" ORDER BY l.added_version, l.product_id");
    query
}

/// Counts the change and returns the version it makes. It is the first statement of every
/// change, and a write: on SQLite the transaction holds the write lock from its start
/// (`BEGIN IMMEDIATE`), so nothing read can change before the write; on PostgreSQL it locks the
/// cart's row until commit. Either way, changes to one cart run one at a time.
pub(super) fn bump(user_id: Uuid, now_ms: i64) -> Query {
    let mut query = Query::new("INSERT INTO carts (user_id, version, updated_at_ms) VALUES (");
    query
        .push_uuid(user_id)
        .push(", 1, ")
        .push_bind(now_ms)
        .push(
            ") ON CONFLICT (user_id) DO UPDATE \
             SET version = carts.version + 1, updated_at_ms = excluded.updated_at_ms \
             RETURNING version",
        );
    query
}

/// The lines, inside a change.
pub(super) fn lines(user_id: Uuid) -> Query {
    let mut query = Query::new(
        "SELECT CAST(product_id AS TEXT), sku, name, unit_price_minor, currency, \
         CAST(quantity AS BIGINT), added_version, set_version FROM cart_lines WHERE user_id = ",
    );
    query
        .push_uuid(user_id)
        .push(" ORDER BY added_version, product_id");
    query
}

pub(super) fn delete_line(user_id: Uuid, product_id: Uuid) -> Query {
    let mut query = Query::new("DELETE FROM cart_lines WHERE user_id = ");
    query
        .push_uuid(user_id)
        .push(" AND product_id = ")
        .push_uuid(product_id);
    query
}

/// Inserts a line or rewrites it; a line keeps its place (`added_version`) when rewritten.
pub(super) fn write_line(user_id: Uuid, line: &Line) -> Query {
    let mut query = Query::new(
        "INSERT INTO cart_lines \
         (user_id, product_id, sku, name, unit_price_minor, currency, quantity, added_version, \
          set_version) VALUES (",
    );
    query
        .push_uuid(user_id)
        .push(", ")
        .push_uuid(line.product_id)
        .push(", ")
        .push_bind(line.sku.as_str())
        .push(", ")
        .push_bind(line.name.as_str())
        .push(", ")
        .push_bind(line.unit_price.amount_minor)
        .push(", ")
        .push_bind(line.unit_price.currency.as_str())
        .push(", ")
        .push_bind(line.quantity)
        .push(", ")
        .push_bind(line.added_version)
        .push(", ")
        .push_bind(line.set_version)
        .push(
            ") ON CONFLICT (user_id, product_id) DO UPDATE SET sku = excluded.sku, \
               name = excluded.name, unit_price_minor = excluded.unit_price_minor, \
             currency = excluded.currency, quantity = excluded.quantity, \
             set_version = excluded.set_version",
        );
    query
}
