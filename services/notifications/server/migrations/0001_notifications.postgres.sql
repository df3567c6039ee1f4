-- The notifications service's store on PostgreSQL. Kept in step with 0001_notifications.sqlite.sql;
-- never edited once released: a change is a new migration.
--
-- Everything but the addresses comes from other services' events, written in the transaction
-- that records the event as applied (the chassis' inbox). Ids are the lower-case text of a UUID.

-- The shoppers the service knows: from users' UserRegistered, which carries no contact details
-- (by design), so the address is the one the shopper's own access token carries, remembered
-- when the shopper reads their messages. Email is sent only to a known address.
CREATE TABLE recipients (
    user_id          TEXT PRIMARY KEY CHECK (length(user_id) = 36),
    email            TEXT,
    registered_at_ms BIGINT
);

-- Whose order is whose: payments' PaymentRefunded names the order, not the shopper.
CREATE TABLE order_owners (
    order_id TEXT PRIMARY KEY CHECK (length(order_id) = 36),
    user_id  TEXT NOT NULL CHECK (length(user_id) = 36)
);

-- Refunds of orders not known yet (events of two producers arrive in any order): written as a
-- message when the order's owner becomes known.
CREATE TABLE waiting_refunds (
    refund_id    TEXT PRIMARY KEY CHECK (length(refund_id) = 36),
    order_id     TEXT NOT NULL CHECK (length(order_id) = 36),
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL
);

CREATE INDEX waiting_refunds_by_order ON waiting_refunds (order_id);

-- The mailbox. `origin` names the fact a message tells (kind and the event's own id), so that a
-- fact announced twice is written once. `delivery`: pending → sent by the SMTP sender, or stored
-- when no SMTP server is configured. A pending message is tried again at `next_attempt_ms`
-- (also the claim of the instance sending it).
CREATE TABLE messages (
    id              TEXT PRIMARY KEY CHECK (length(id) = 36),
    user_id         TEXT NOT NULL CHECK (length(user_id) = 36),
    kind            TEXT NOT NULL CHECK (kind IN
        ('order_confirmed', 'order_cancelled', 'payment_refunded', 'shipment_created')),
    origin          TEXT NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    delivery        TEXT NOT NULL CHECK (delivery IN ('pending', 'sent', 'stored')),
    attempts        BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_ms BIGINT NOT NULL,
    last_error      TEXT,
    sent_at_ms      BIGINT
);

-- A shopper's mailbox, newest first.
CREATE INDEX messages_by_user ON messages (user_id, created_at_ms, id);
-- The sender's pass: pending messages that are due.
CREATE INDEX messages_due ON messages (delivery, next_attempt_ms);
