//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/charges` body. Its `Debug` masks the card number, so that logging a request can
/// never leak one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    pub order_id: Uuid,
    /// In the currency's minor unit: more than 0, at most [`crate::MAX_AMOUNT_MINOR`].
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    #[serde(deserialize_with = "brigade_chassis::openapi::whole::number")]
    pub amount_minor: i64,
    /// ISO 4217 code: three upper-case letters, e.g. `EUR`.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// 12 to 19 digits passing the Luhn check (a number failing it is a 422 invalid-card); see
    /// [`crate::test_cards`].
    #[schema(pattern = "^[0-9]{12,19}$")]
    pub card_number: String,
}

impl std::fmt::Debug for ChargeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeRequest")
            .field("order_id", &self.order_id)
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("card_number", &"<masked>")
            .finish()
    }
}

/// Where a charge is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// Accepted, waiting for the processor (the slow test card). Holds the order: no other
    /// charge for it is accepted meanwhile.
    Pending,
    /// The money is taken; the ledger has its capture entry.
    Captured,
    /// The processor refused; nothing was taken. A result, not an error.
    Declined,
    /// Captured, then given back in full; the ledger has both entries.
    Refunded,
}

impl ChargeStatus {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Pending => "pending",
            ChargeStatus::Captured => "captured",
            ChargeStatus::Declined => "declined",
            ChargeStatus::Refunded => "refunded",
        }
    }

    /// The status named `name` on the wire, if any.
    pub fn parse(name: &str) -> Option<ChargeStatus> {
        [
            ChargeStatus::Pending,
            ChargeStatus::Captured,
            ChargeStatus::Declined,
            ChargeStatus::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for ChargeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the processor declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    CardDeclined,
    InsufficientFunds,
}

impl DeclineCode {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclineCode::CardDeclined => "card_declined",
            DeclineCode::InsufficientFunds => "insufficient_funds",
        }
    }

    /// The code named `name` on the wire, if any.
    pub fn parse(name: &str) -> Option<DeclineCode> {
        [DeclineCode::CardDeclined, DeclineCode::InsufficientFunds]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// One charge: one attempt to take money for an order, under one idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Charge {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub status: ChargeStatus,
    /// Set when `status` is `declined`, else null.
    pub decline_code: Option<DeclineCode>,
    /// The last four digits of the card; the number itself is never kept.
    pub card_last4: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds of the last change of status.
    pub updated_at_ms: i64,
    /// `amount_minor` once refunded (refunds are full), else 0.
    pub refunded_amount_minor: i64,
}

/// `GET /v1/charges?order_id=…`: an order's charges, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargeList {
    pub items: Vec<Charge>,
}

/// `GET /v1/charges` query string. `order_id` is text here so that a malformed one is refused
/// with a message naming it, rather than a generic parse error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChargesQuery {
    #[param(format = Uuid)]
    pub order_id: String,
}

/// `POST /v1/charges/{id}/refund` body. May be empty (`{}` or no body at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Why, for people reading the charge later; at most [`crate::MAX_REASON_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Which way money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Capture,
    Refund,
}

impl LedgerKind {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Capture => "capture",
            LedgerKind::Refund => "refund",
        }
    }

    /// The kind named `name` on the wire, if any.
    pub fn parse(name: &str) -> Option<LedgerKind> {
        [LedgerKind::Capture, LedgerKind::Refund]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// One movement of money, written in the same transaction as the change of the charge it
/// belongs to, and never changed afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub charge_id: Uuid,
    pub order_id: Uuid,
    pub kind: LedgerKind,
    /// Always positive; `kind` says the direction.
    pub amount_minor: i64,
    pub currency: String,
    pub at_ms: i64,
}

/// `GET /v1/ledger` query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// Only this order's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(format = Uuid)]
    pub order_id: Option<String>,
    /// The `next` of the previous page; absent (or empty) for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^(\+?[0-9]{1,18})?$")]
    pub after: Option<String>,
    /// Entries per page, 1 to [`crate::MAX_LEDGER_LIMIT`] (default [`crate::DEFAULT_LEDGER_LIMIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// One page of the ledger, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerEntry>,
    /// The cursor for the next page (an opaque string), or null on the last page.
    pub next: Option<String>,
}

/// What kind of inconsistency the audit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// An order has more than one captured, unrefunded charge.
    MultipleCaptures,
    /// A charge's ledger entries do not match its status.
    LedgerMismatch,
}

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Violation {
    pub kind: ViolationKind,
    pub order_id: Uuid,
    /// The charge concerned (`ledger-mismatch`), or null (`multiple-captures`, see `detail`).
    pub charge_id: Option<Uuid>,
    pub detail: String,
}

/// `GET /v1/audit`: charges checked against the ledger. `violations` is empty when every promise
/// holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Audit {
    pub violations: Vec<Violation>,
    /// Capture entries in the ledger.
    pub captures: u64,
    /// Refund entries in the ledger.
    pub refunds: u64,
    /// Captured minus refunded, per currency.
    pub balance_minor_by_currency: BTreeMap<String, i64>,
}
