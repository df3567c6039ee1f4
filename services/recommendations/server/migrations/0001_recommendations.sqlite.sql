-- The recommendations model on SQLite. Kept in step with 0001_recommendations.postgres.sql; never
-- edited once released: a change is a new migration.
--
-- Everything here is derived from other services' events (the catalog's ProductChanged, orders'
-- OrderConfirmed), written in the transaction that records the event as applied. Ids are the
-- canonical lower-case text of a UUID on both backends, so that the SQL is the same, compared
-- byte by byte (BINARY, as PostgreSQL's "C") so that ties are broken in the same order on both.

-- What the catalog last announced about a product: what a recommendation shows. Only products
-- with a row here are ever recommended.
CREATE TABLE products (
    product_id  TEXT PRIMARY KEY CHECK (length(product_id) = 36),
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    image_url   TEXT NOT NULL,
    category    TEXT NOT NULL
);

-- How often a product was bought: in how many confirmed orders, and how many units. Counted
-- whether or not the product's facts are known yet (its ProductChanged may come later).
CREATE TABLE popularity (
    product_id TEXT PRIMARY KEY CHECK (length(product_id) = 36),
    orders     INTEGER NOT NULL CHECK (orders > 0),
    units      INTEGER NOT NULL CHECK (units >= 0)
);

-- The popular fill reads the most bought first.
CREATE INDEX popularity_rank ON popularity (orders DESC, units DESC, product_id);

-- In how many confirmed orders two distinct products were bought together. Both directions are
-- stored, so that "bought with X" is one range of the primary key.
CREATE TABLE co_purchases (
    product_id TEXT NOT NULL CHECK (length(product_id) = 36),
    other_id   TEXT NOT NULL CHECK (length(other_id) = 36),
    orders     INTEGER NOT NULL CHECK (orders > 0),
    PRIMARY KEY (product_id, other_id),
    CHECK (product_id <> other_id)
);

-- What each user bought: in how many confirmed orders.
CREATE TABLE user_purchases (
    user_id    TEXT NOT NULL CHECK (length(user_id) = 36),
    product_id TEXT NOT NULL CHECK (length(product_id) = 36),
    orders     INTEGER NOT NULL CHECK (orders > 0),
    PRIMARY KEY (user_id, product_id)
);
