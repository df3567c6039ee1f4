-- The inventory's schema on PostgreSQL. Kept in step with 0001_inventory.sqlite.sql; never
-- edited once released: a change is a new migration.

-- One row per SKU. The CHECKs are the no-oversell promise held by the store itself: whatever a
-- bug in the service did, a statement that would promise a unit twice fails.
CREATE TABLE stock (
    -- Byte-order collation, as SQLite's BINARY and Rust's string order: every transaction locks
    -- stock rows in SKU order, and the orders must agree wherever they are computed, or two
    -- transactions could each wait for the other.
    sku           TEXT COLLATE "C" PRIMARY KEY,
    stock         BIGINT NOT NULL CHECK (stock >= 0),
    held          BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    committed     BIGINT NOT NULL DEFAULT 0 CHECK (committed >= 0),
    updated_at_ms BIGINT NOT NULL,
    CHECK (held + committed <= stock)
);

-- One row per order that ever reserved. Order ids are the canonical lower-case text of a UUID
-- on both backends, so that the SQL is the same.
CREATE TABLE reservations (
    order_id      TEXT PRIMARY KEY CHECK (length(order_id) = 36),
    status        TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired')),
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- What the expiry sweep looks for: held reservations, soonest expiry first.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at_ms) WHERE status = 'held';

-- The lines of a reservation, written with it and never changed.
CREATE TABLE reservation_lines (
    order_id TEXT NOT NULL REFERENCES reservations (order_id),
    sku      TEXT COLLATE "C" NOT NULL REFERENCES stock (sku),
    -- The line's place in the request, so that the reservation reads back as it was asked.
    position BIGINT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);

-- The audit sums lines per SKU.
CREATE INDEX reservation_lines_by_sku ON reservation_lines (sku);

-- Sample data sets loaded into this store, by name, so that each is loaded once.
CREATE TABLE inventory_seeds (
    name         TEXT PRIMARY KEY,
    loaded_at_ms BIGINT NOT NULL
);
