-- The orders schema on SQLite. Kept in step with 0001_orders.postgres.sql; never edited once
-- released: a change is a new migration. Ids are UUIDs as text on both backends.

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
    cancel_reason     TEXT,
    decline_code      TEXT,
    -- The priced lines, a JSON array of order lines: they are read and written only whole.
    lines             TEXT NOT NULL,
    total_minor       INTEGER NOT NULL CHECK (total_minor >= 0),
    currency          TEXT NOT NULL CHECK (length(currency) = 3),
    charge_id         TEXT,
    -- Where the checkout saga is: reserving, charging, committing, releasing, refunding, done.
    saga_state        TEXT NOT NULL,
    -- Kept only while the saga may still need to charge (a resumed saga repeats the charge);
    -- cleared when the saga ends.
    card_number       TEXT,
    charge_attempts   INTEGER NOT NULL DEFAULT 0,
    charge_started_ms INTEGER,
    -- The instance driving the saga, and until when its lease holds (Unix ms).
    claimed_by        TEXT,
    claimed_until_ms  INTEGER NOT NULL DEFAULT 0,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
);

CREATE INDEX orders_by_user ON orders (user_id, created_at_ms DESC, id DESC);
CREATE INDEX orders_unfinished ON orders (status, claimed_until_ms);

-- Every saga event, in order: the history that explains an order.
CREATE TABLE order_steps (
    order_id  TEXT NOT NULL REFERENCES orders (id),
    seq       INTEGER NOT NULL,
    step      TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- One row per (user, Idempotency-Key): the checkout it created, and the body it was sent with.
CREATE TABLE checkout_keys (
    user_id          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    order_id         TEXT NOT NULL REFERENCES orders (id),
    -- Until this time (Unix ms) the first request may still be waiting for the saga, so a
    -- repeat of a still-pending order is "in progress" rather than "accepted".
    answering_until_ms INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
