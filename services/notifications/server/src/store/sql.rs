//! Every statement the store runs. Written once with `?` placeholders for both engines (the
//! chassis' `Query` numbers them for PostgreSQL).

use brigade_chassis::db::Query;
use brigade_chassis::validation::Page;

const MESSAGE_COLUMNS: &str =
    "id, user_id, kind, subject, text_body, html_body, created_at_ms, delivery";

/// One page of a user's messages, newest first (ties: the larger id first, so pages are stable).
pub(super) fn user_page(user_id: &str, page: Page) -> Query {
    Query::new(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = ?
         ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"
    ))
    .bind(user_id)
    .bind(page.page_size)
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
}

/// Parameter: user id.
pub(super) const LATEST_MESSAGE_AT: &str =
    "SELECT MAX(created_at_ms) FROM messages WHERE user_id = ?";

/// Parameter: user id.
pub(super) const COUNT_USER_MESSAGES: &str = "SELECT COUNT(*) FROM messages WHERE user_id = ?";

/// Parameters: message id, user id.
pub(super) const USER_MESSAGE: &str = "SELECT id, user_id, kind, subject, text_body, html_body,
    created_at_ms, delivery FROM messages WHERE id = ? AND user_id = ?";

/// Parameters: user id, email.
pub(super) const REMEMBER_ADDRESS: &str = "
    INSERT INTO recipients (user_id, email) VALUES (?, ?)
    ON CONFLICT (user_id) DO UPDATE SET email = excluded.email";

/// Parameters: user id, registered at (ms), email (null in a version 1 `UserRegistered`).
/// Keeps an address already known: one learnt from the shopper's token is at least as recent as
/// the sign-up's, which may be applied late (a replay).
pub(super) const RECORD_USER: &str = "
    INSERT INTO recipients (user_id, registered_at_ms, email) VALUES (?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET registered_at_ms = excluded.registered_at_ms,
        email = COALESCE(recipients.email, excluded.email)";

/// Parameters: order id, user id.
pub(super) const RECORD_OWNER: &str = "
    INSERT INTO order_owners (order_id, user_id) VALUES (?, ?)
    ON CONFLICT (order_id) DO NOTHING";

/// Parameter: order id.
pub(super) const ORDER_OWNER: &str = "SELECT user_id FROM order_owners WHERE order_id = ?";

/// Parameters: refund id, order id, amount (minor units), currency.
pub(super) const WAIT_REFUND: &str = "
    INSERT INTO waiting_refunds (refund_id, order_id, amount_minor, currency)
    VALUES (?, ?, ?, ?) ON CONFLICT (refund_id) DO NOTHING";

/// Parameter: order id.
pub(super) const WAITING_REFUNDS: &str = "
    SELECT refund_id, amount_minor, currency FROM waiting_refunds WHERE order_id = ?
    ORDER BY refund_id";

/// Parameter: order id.
pub(super) const FORGET_WAITING_REFUNDS: &str = "DELETE FROM waiting_refunds WHERE order_id = ?";

/// Parameters: id, user id, kind, origin, subject, text, HTML, created at, delivery, next
/// attempt at. A message whose origin is stored already is not written again.
pub(super) const INSERT_MESSAGE: &str = "
    INSERT INTO messages (id, user_id, kind, origin, subject, text_body, html_body,
                          created_at_ms, delivery, next_attempt_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (origin) DO NOTHING";

/// Parameters: now, limit.
pub(super) const DUE: &str = "
    SELECT m.id, r.email, m.subject, m.text_body, m.html_body, m.attempts
    FROM messages m JOIN recipients r ON r.user_id = m.user_id
    WHERE m.delivery = 'pending' AND m.next_attempt_ms <= ? AND r.email IS NOT NULL
    ORDER BY m.next_attempt_ms, m.id LIMIT ?";

/// Parameters: claimed until, id, now.
pub(super) const CLAIM: &str = "
    UPDATE messages SET next_attempt_ms = ?
    WHERE id = ? AND delivery = 'pending' AND next_attempt_ms <= ?";

/// Parameters: sent at, id.
pub(super) const MARK_SENT: &str = "
    UPDATE messages SET delivery = 'sent', sent_at_ms = ?, last_error = NULL
    WHERE id = ? AND delivery = 'pending'";

/// Parameters: retry at, error, id.
pub(super) const MARK_FAILED: &str = "
    UPDATE messages SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ?
    WHERE id = ? AND delivery = 'pending'";
