//! Every statement the store runs, in both dialects side by side so that they stay in step.
//! PostgreSQL keeps ids as `uuid`: parameters arrive as text and are cast, and ids leave as text,
//! the one form both backends decode.

/// One statement in both dialects.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stmt {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The cart and its lines in one statement, so that both come from one snapshot. A user whose
/// cart never changed has no row. Parameters: user id.
pub(super) const LOAD: Stmt = Stmt {
    sqlite: "SELECT c.version, c.updated_at_ms, l.product_id, l.sku, l.name, \
             l.unit_price_minor, l.currency, l.quantity, l.added_version \
             FROM carts c LEFT JOIN cart_lines l ON l.user_id = c.user_id \
             WHERE c.user_id = ?1 ORDER BY l.added_version, l.product_id",
    postgres: "SELECT c.version, c.updated_at_ms, l.product_id::text, l.sku, l.name, \
               l.unit_price_minor, l.currency, l.quantity::bigint, l.added_version \
               FROM carts c LEFT JOIN cart_lines l ON l.user_id = c.user_id \
               WHERE c.user_id = $1::uuid ORDER BY l.added_version, l.product_id",
};

/// Counts the change and returns the version it makes. It is the first statement of every
/// change, and a write: on SQLite the transaction holds the write lock from its start
/// (`BEGIN IMMEDIATE`), so nothing read can change before the write; on PostgreSQL it locks the
/// cart's row until commit. Either way, changes to one cart run one at a time.
/// Parameters: user id, now (Unix ms).
pub(super) const BUMP: Stmt = Stmt {
    sqlite: "INSERT INTO carts (user_id, version, updated_at_ms) VALUES (?1, 1, ?2) \
             ON CONFLICT (user_id) DO UPDATE \
             SET version = carts.version + 1, updated_at_ms = excluded.updated_at_ms \
             RETURNING version",
    postgres: "INSERT INTO carts (user_id, version, updated_at_ms) VALUES ($1::uuid, 1, $2) \
               ON CONFLICT (user_id) DO UPDATE \
               SET version = carts.version + 1, updated_at_ms = excluded.updated_at_ms \
               RETURNING version",
};

/// The lines, inside a change. Parameters: user id.
pub(super) const LINES: Stmt = Stmt {
    sqlite: "SELECT product_id, sku, name, unit_price_minor, currency, quantity, added_version \
             FROM cart_lines WHERE user_id = ?1 ORDER BY added_version, product_id",
    postgres: "SELECT product_id::text, sku, name, unit_price_minor, currency, \
               quantity::bigint, added_version \
               FROM cart_lines WHERE user_id = $1::uuid ORDER BY added_version, product_id",
};

/// Parameters: user id, product id.
pub(super) const DELETE_LINE: Stmt = Stmt {
    sqlite: "DELETE FROM cart_lines WHERE user_id = ?1 AND product_id = ?2",
    postgres: "DELETE FROM cart_lines WHERE user_id = $1::uuid AND product_id = $2::uuid",
};

/// Inserts a line or rewrites it; a line keeps its place (`added_version`) when rewritten.
/// Parameters: user id, product id, sku, name, unit price, currency, quantity, added version.
pub(super) const WRITE_LINE: Stmt = Stmt {
    sqlite: "INSERT INTO cart_lines \
             (user_id, product_id, sku, name, unit_price_minor, currency, quantity, added_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (user_id, product_id) DO UPDATE SET sku = excluded.sku, \
             name = excluded.name, unit_price_minor = excluded.unit_price_minor, \
             currency = excluded.currency, quantity = excluded.quantity",
    postgres: "INSERT INTO cart_lines \
               (user_id, product_id, sku, name, unit_price_minor, currency, quantity, added_version) \
               VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8) \
               ON CONFLICT (user_id, product_id) DO UPDATE SET sku = excluded.sku, \
               name = excluded.name, unit_price_minor = excluded.unit_price_minor, \
               currency = excluded.currency, quantity = excluded.quantity",
};
