-- Shipping on PostgreSQL, kept in step with 0002_shipping.sqlite.sql: an order placed with an
-- address records it with the quote shipping gave (its cost is part of total_minor), and the
-- tracking number once shipping announced the shipment. All NULL for orders without an address.

-- The address, a JSON object: read and written only whole.
ALTER TABLE orders ADD COLUMN shipping_address TEXT;
-- The quote shipping answered at checkout, a JSON object.
ALTER TABLE orders ADD COLUMN shipping_quote TEXT;
ALTER TABLE orders ADD COLUMN shipping_minor BIGINT CHECK (shipping_minor >= 0);
ALTER TABLE orders ADD COLUMN tracking_number TEXT;
