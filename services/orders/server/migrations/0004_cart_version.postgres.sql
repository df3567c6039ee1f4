-- Cart versions on PostgreSQL, kept in step with 0004_cart_version.sqlite.sql: the version of
-- the shopper's cart that the order was priced from, as the cart answered at checkout.
-- OrderConfirmed carries it, so that the cart takes out only what was ordered, never what the
-- shopper set after checking out. NULL for orders placed before this column.
ALTER TABLE orders ADD COLUMN cart_version BIGINT;
