-- The users service's schema on PostgreSQL. Kept in step with 0001_users.sqlite.sql; never
-- edited once released: a change is a new migration.

CREATE TABLE users (
    -- A UUID in its hyphenated text form (text on both backends, so one query reads both).
    id            TEXT PRIMARY KEY,
    -- Trimmed and lower-cased before it gets here, so that uniqueness is case-insensitive.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- An argon2id PHC string: algorithm, parameters, salt and hash.
    password_hash TEXT NOT NULL,
    -- Unix milliseconds.
    created_at_ms BIGINT NOT NULL
);

-- The keys that sign access tokens. The one with no retired_at_ms signs; a retired one is kept
-- (and published) until every token it signed has expired.
CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    -- The Ed25519 private key, PKCS#8 DER.
    pkcs8         BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    retired_at_ms BIGINT
);

-- At most one active key, whatever two instances do at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at_ms IS NULL))
    WHERE retired_at_ms IS NULL;
