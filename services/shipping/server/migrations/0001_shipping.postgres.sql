-- The shipping schema on PostgreSQL. Kept in step with 0001_shipping.sqlite.sql; never edited
-- once released: a change is a new migration. Ids are UUIDs as text on both backends.

-- One shipment per order: the primary key is what makes a repeated OrderConfirmed change nothing.
CREATE TABLE shipments (
    order_id           TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('created')),
    tracking_number    TEXT NOT NULL UNIQUE,
    carrier            TEXT NOT NULL,
    country            TEXT NOT NULL CHECK (length(country) = 2),
    -- YYYY-MM-DD, UTC.
    estimated_delivery TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL
);
