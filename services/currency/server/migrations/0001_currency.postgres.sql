-- The currency service's schema on PostgreSQL. Kept in step with 0001_currency.sqlite.sql; never
-- edited once released: a change is a new migration.

-- The table of rates in force: one row, its date. Replaced whole with the rates below, in one
-- transaction, so that a reader never sees one table's date with another's rates.
CREATE TABLE rate_tables (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    -- The day the rates are for, YYYY-MM-DD.
    effective_date TEXT NOT NULL,
    -- 'sample' (loaded at first start) or 'operator' (put through PUT /v1/rates).
    source        TEXT NOT NULL CHECK (source IN ('sample', 'operator')),
    -- Unix milliseconds.
    replaced_at_ms BIGINT NOT NULL
);

-- The supported currencies: units of each one euro buys, in 10^-8 units (an exact integer, never
-- a float), with the currency's ISO 4217 name and minor-unit exponent.
CREATE TABLE rates (
    code     TEXT PRIMARY KEY CHECK (length(code) = 3),
    name     TEXT NOT NULL,
    exponent INTEGER NOT NULL CHECK (exponent BETWEEN 0 AND 4),
    rate_e8  BIGINT NOT NULL CHECK (rate_e8 > 0)
);
