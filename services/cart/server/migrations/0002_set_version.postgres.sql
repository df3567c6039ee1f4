-- Set versions on PostgreSQL, kept in step with 0002_set_version.sqlite.sql: the cart's version
-- when the shopper last set a line's quantity. A confirmed order takes nothing from a line set
-- after the cart version it was priced from. 0 for lines set before this column: every order
-- counts them as priced, as before.
ALTER TABLE cart_lines ADD COLUMN set_version BIGINT NOT NULL DEFAULT 0;
