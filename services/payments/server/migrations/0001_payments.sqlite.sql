-- The payments schema on SQLite. Kept in step with 0001_payments.postgres.sql; never edited once
-- released: a change is a new migration. Ids are UUIDs kept as text on both backends, so that
-- every statement is the same on both; times are Unix milliseconds.

CREATE TABLE charges (
    id                     TEXT PRIMARY KEY,
    -- One charge per key, whichever instance receives the request: the loser of a race reads
    -- the winner's row.
    idempotency_key        TEXT NOT NULL UNIQUE,
    order_id               TEXT NOT NULL,
    amount_minor           INTEGER NOT NULL CHECK (amount_minor > 0),
    currency               TEXT NOT NULL CHECK (length(currency) = 3),
    card_last4             TEXT NOT NULL,
    -- A hash of the card number, to tell a repeated request from another one under the same key;
    -- the number itself is never stored.
    card_fingerprint       TEXT NOT NULL,
    status                 TEXT NOT NULL
                           CHECK (status IN ('pending', 'captured', 'declined', 'refunded')),
    decline_code           TEXT CHECK ((status = 'declined') = (decline_code IS NOT NULL)),
    -- A pending charge is settled (captured) by whoever sees it first once this time has passed.
    settle_at_ms           INTEGER CHECK (status <> 'pending' OR settle_at_ms IS NOT NULL),
    refunded_amount_minor  INTEGER NOT NULL DEFAULT 0,
    refund_reason          TEXT,
    refund_idempotency_key TEXT UNIQUE,
    created_at_ms          INTEGER NOT NULL,
    updated_at_ms          INTEGER NOT NULL
);

CREATE INDEX charges_by_order ON charges (order_id, created_at_ms);
-- Promise 2 in the schema: an order has at most one charge that holds or may come to hold its
-- money. Declined and refunded charges do not count.
CREATE UNIQUE INDEX charges_one_live_per_order ON charges (order_id)
    WHERE status IN ('pending', 'captured');
CREATE INDEX charges_pending ON charges (settle_at_ms) WHERE status = 'pending';

CREATE TABLE ledger_entries (
    -- The position in the ledger, which the `after` cursor names.
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    charge_id    TEXT NOT NULL REFERENCES charges (id),
    order_id     TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('capture', 'refund')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    at_ms        INTEGER NOT NULL,
    -- A charge is captured at most once and refunded at most once, whatever the code above does.
    UNIQUE (charge_id, kind)
);

CREATE INDEX ledger_by_order ON ledger_entries (order_id, seq);

-- The ledger is append-only: history is corrected by new entries, never rewritten.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
