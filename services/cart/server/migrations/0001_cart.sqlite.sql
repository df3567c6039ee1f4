-- The cart's schema on SQLite. Kept in step with 0001_cart.postgres.sql; never edited once
-- released: a change is a new migration.

-- One row per user whose cart has ever changed. Every change updates this row first, which is
-- what serialises concurrent changes to one cart (the write lock on SQLite, the row lock on
-- PostgreSQL).
CREATE TABLE carts (
    user_id       TEXT PRIMARY KEY,
    version       INTEGER NOT NULL CHECK (version > 0),
    -- Unix milliseconds.
    updated_at_ms INTEGER NOT NULL
);

-- A product in a cart, with the catalog's sku, name and price as last confirmed.
CREATE TABLE cart_lines (
    user_id          TEXT NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id       TEXT NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    currency         TEXT NOT NULL CHECK (length(currency) = 3),
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    -- The cart's version when the product was first added: lines are shown in that order.
    added_version    INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
