-- The catalog's schema on PostgreSQL. Kept in step with 0001_catalog.sqlite.sql; never edited
-- once released: a change is a new migration.

CREATE TABLE categories (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Display order of the category list.
    position    INTEGER NOT NULL
);

CREATE TABLE products (
    id            UUID PRIMARY KEY,
    -- Byte-order collation, as SQLite's BINARY: sorting by name or SKU gives the same order on
    -- both backends whatever locale the database was created with.
    sku           TEXT COLLATE "C" NOT NULL UNIQUE,
    name          TEXT COLLATE "C" NOT NULL,
    description   TEXT NOT NULL,
    category      TEXT NOT NULL REFERENCES categories (slug),
    price_minor   BIGINT NOT NULL CHECK (price_minor > 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    image_url     TEXT NOT NULL,
    -- A JSON array of strings, the same representation on both backends.
    tags          TEXT NOT NULL DEFAULT '[]',
    -- Unix milliseconds: one integer sorts the same on both backends.
    created_at_ms BIGINT NOT NULL,
    -- Full-text search: names weigh most, then tags, then descriptions.
    search        TSVECTOR GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', name), 'A')
                      || setweight(to_tsvector('english', tags), 'B')
                      || setweight(to_tsvector('english', description), 'C')
                  ) STORED
);

CREATE INDEX products_category_name ON products (category, name, sku);
CREATE INDEX products_name ON products (name, sku);
CREATE INDEX products_price ON products (price_minor);
CREATE INDEX products_created ON products (created_at_ms);
CREATE INDEX products_search ON products USING GIN (search);

-- Which data sets have been loaded, so that loading happens once however many instances start.
CREATE TABLE catalog_seeds (
    name          TEXT PRIMARY KEY,
    loaded_at_ms  BIGINT NOT NULL
);
