-- The catalog's schema on SQLite. Kept in step with 0001_catalog.postgres.sql; never edited once
-- released: a change is a new migration.

CREATE TABLE categories (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Display order of the category list.
    position    INTEGER NOT NULL
);

CREATE TABLE products (
    -- An explicit rowid: the full-text index refers to rows by it, and an implicit rowid may be
    -- renumbered by VACUUM, which would silently detach the index from its rows.
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    sku           TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    category      TEXT NOT NULL REFERENCES categories (slug),
    price_minor   INTEGER NOT NULL CHECK (price_minor > 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    image_url     TEXT NOT NULL,
    -- A JSON array of strings, the same representation on both backends.
    tags          TEXT NOT NULL DEFAULT '[]',
    -- Unix milliseconds: one integer sorts the same on both backends.
    created_at_ms INTEGER NOT NULL
);

CREATE INDEX products_category_name ON products (category, name, sku);
CREATE INDEX products_name ON products (name, sku);
CREATE INDEX products_price ON products (price_minor);
CREATE INDEX products_created ON products (created_at_ms);

-- Full-text search: an external-content FTS5 index over products, kept current by triggers.
-- porter stems English words, so that "kettles" finds "Kettle".
CREATE VIRTUAL TABLE products_fts USING fts5 (
    name,
    description,
    tags,
    content = 'products',
    content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER products_fts_after_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, description, tags)
    VALUES (new.pk, new.name, new.description, new.tags);
END;

CREATE TRIGGER products_fts_after_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, tags)
    VALUES ('delete', old.pk, old.name, old.description, old.tags);
END;

CREATE TRIGGER products_fts_after_update AFTER UPDATE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description, tags)
    VALUES ('delete', old.pk, old.name, old.description, old.tags);
    INSERT INTO products_fts (rowid, name, description, tags)
    VALUES (new.pk, new.name, new.description, new.tags);
END;

-- Which data sets have been loaded, so that loading happens once however many instances start.
CREATE TABLE catalog_seeds (
    name          TEXT PRIMARY KEY,
    loaded_at_ms  INTEGER NOT NULL
);
