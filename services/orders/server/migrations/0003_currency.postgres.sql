-- Currency on PostgreSQL, kept in step with 0003_currency.sqlite.sql: an order paid in another currency
-- than the catalog's keeps, besides its charged total (total_minor and currency, which the saga
-- charges), how it was converted: a JSON object with the total in the catalog's currency
-- (base_total), the rate shown, both reference rates and their date, as the currency service
-- answered at checkout. NULL for an order paid in the catalog's currency.
ALTER TABLE orders ADD COLUMN conversion TEXT;
