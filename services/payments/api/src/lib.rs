//! The payments service's contract: a simulated card processor with idempotent charges, full
//! refunds and an append-only ledger. Callers (orders, the gateway, the promise checker) depend on
//! this crate, never on the server.
//!
//! - [`types`](crate::Charge): what goes over the wire;
//! - [`ChargeRequest::validate`] and friends: the input rules, shared so that an edge can refuse
//!   bad input with the service's own words before it costs a hop;
//! - [`test_cards`]: the card numbers that decide what the simulated processor does;
//! - [`problems`]: the problem codes callers are expected to act on;
//! - [`events`]: what it publishes (`PaymentCaptured`, `PaymentFailed`, `PaymentRefunded`);
//! - [`PaymentsClient`]: the typed client.

#![forbid(unsafe_code)]

mod client;
pub mod events;
mod rules;
mod types;

pub use client::PaymentsClient;
pub use rules::{
    check_idempotency_key, check_order_id, luhn_valid, LedgerFilter, Location, ValidationError,
    DEFAULT_LEDGER_LIMIT, MAX_AMOUNT_MINOR, MAX_CARD_DIGITS, MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_LEDGER_LIMIT, MAX_REASON_CHARS, MIN_CARD_DIGITS,
};
pub use types::{
    Audit, Charge, ChargeList, ChargeRequest, ChargeStatus, ChargesQuery, DeclineCode, LedgerEntry,
    LedgerKind, LedgerPage, LedgerQuery, RefundRequest, Violation, ViolationKind,
};

/// The payments service's routes, shared by the server's router and the client so that they
/// cannot drift.
pub mod paths {
    /// `POST`: create a charge (header `Idempotency-Key`, body [`crate::ChargeRequest`]);
    /// `GET ?order_id=`: the charges of one order.
    pub const CHARGES: &str = "/v1/charges";
    /// `GET`: the ledger, oldest first ([`crate::LedgerQuery`] as the query string).
    pub const LEDGER: &str = "/v1/ledger";
    /// `GET`: the consistency audit of charges against the ledger.
    pub const AUDIT: &str = "/v1/audit";
    /// The router's pattern for one charge.
    pub const CHARGE_PATTERN: &str = "/v1/charges/{id}";
    /// The router's pattern for refunding one charge.
    pub const REFUND_PATTERN: &str = "/v1/charges/{id}/refund";

    /// `GET`: one charge.
    pub fn charge(id: uuid::Uuid) -> String {
        format!("{CHARGES}/{id}")
    }

    /// `POST`: refund one charge in full (body [`crate::RefundRequest`]).
    pub fn refund(id: uuid::Uuid) -> String {
        format!("{CHARGES}/{id}/refund")
    }

    brigade_chassis::uuid_parameter!(
        /// The `id` of `CHARGE_PATTERN` and `REFUND_PATTERN`, read by the chassis' `PathUuid`.
        pub ChargeId = "id", "a charge id"
    );
}

/// The card numbers that decide what the simulated processor does. Any other number that passes
/// the Luhn check is approved.
pub mod test_cards {
    /// Approved: the charge is `captured`.
    pub const APPROVED: &str = "4242424242424242";
    /// Declined with `card_declined`.
    pub const DECLINED: &str = "4000000000000002";
    /// Declined with `insufficient_funds`.
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Approved after `--slow-card-delay` (default 3 s); `pending` until then.
    pub const SLOW: &str = "4000000000000259";
    /// The processor fails: 502 `processor-error`, nothing recorded.
    pub const PROCESSOR_ERROR: &str = "4000000000000119";

    /// Every test card above, for whatever must hold of each (valid numbers, documented).
    pub const ALL: [&str; 5] = [
        APPROVED,
        DECLINED,
        INSUFFICIENT_FUNDS,
        SLOW,
        PROCESSOR_ERROR,
    ];
}

/// The problem codes (the last part of a problem's `type`) that callers act on. The generic
/// ones (`invalid-parameter`, `invalid-body`, `not-found`, …) are the chassis'.
pub mod problems {
    /// 422: the `Idempotency-Key` was used before with a different body (or, on a refund, for
    /// another charge). The `charge_id` member names the charge it belongs to.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency-key-reused";
    /// 409: the order already has a captured (or pending) charge under another key; the
    /// `charge_id` and `charge_status` members name it.
    pub const ALREADY_CHARGED: &str = "already-charged";
    /// 409: the charge is declined or pending, so there is nothing to refund; the
    /// `charge_status` member names which.
    pub const NOT_REFUNDABLE: &str = "not-refundable";
    /// 502: the processor failed; nothing was recorded, and the same request may be tried again.
    pub const PROCESSOR_ERROR: &str = "processor-error";
    /// 422: the card number is not 12 to 19 digits passing the Luhn check.
    pub const INVALID_CARD: &str = "invalid-card";
}
