//! Decoding rows. Every charge query selects [`CHARGE_COLUMNS`], every ledger query
//! [`LEDGER_COLUMNS`], in this order.

use payments_api::{Charge, ChargeStatus, DeclineCode, LedgerEntry, LedgerKind};
use uuid::Uuid;

use super::Error;

pub(super) const CHARGE_COLUMNS: &str = "id, order_id, amount_minor, currency, status, \
     decline_code, card_last4, created_at_ms, updated_at_ms, refunded_amount_minor, \
     card_fingerprint, settle_at_ms";

/// The columns of [`CHARGE_COLUMNS`].
pub(super) type ChargeRow = (
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    String,
    Option<i64>,
);

pub(super) const LEDGER_COLUMNS: &str =
    "seq, id, charge_id, order_id, kind, amount_minor, currency, at_ms";

/// The columns of [`LEDGER_COLUMNS`].
pub(super) type LedgerRow = (i64, String, String, String, String, i64, String, i64);

/// A charge with what the store keeps beside its wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCharge {
    pub charge: Charge,
    /// The hash of the card number it was made with.
    pub card_fingerprint: String,
    /// For a pending charge: when it is due to be settled (Unix ms).
    pub settle_at_ms: Option<i64>,
}

pub(super) fn charge(row: ChargeRow) -> Result<StoredCharge, Error> {
    let (
        id,
        order_id,
        amount_minor,
        currency,
        status,
        decline_code,
        card_last4,
        created_at_ms,
        updated_at_ms,
        refunded_amount_minor,
        card_fingerprint,
        settle_at_ms,
    ) = row;
    let corrupt = |reason: String| Error::corrupt(&id, reason);
    let charge = Charge {
        id: uuid(&id, "id").map_err(corrupt)?,
        order_id: uuid(&order_id, "order_id").map_err(corrupt)?,
        amount_minor,
        currency,
        status: ChargeStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?,
        decline_code: decline_code
            .map(|code| {
                DeclineCode::parse(&code)
                    .ok_or_else(|| corrupt(format!("unknown decline code `{code}`")))
            })
            .transpose()?,
        card_last4,
        created_at_ms,
        updated_at_ms,
        refunded_amount_minor,
    };
    Ok(StoredCharge {
        charge,
        card_fingerprint,
        settle_at_ms,
    })
}

/// A ledger entry and its position in the ledger.
pub(super) fn ledger_entry(row: LedgerRow) -> Result<(i64, LedgerEntry), Error> {
    let (seq, id, charge_id, order_id, kind, amount_minor, currency, at_ms) = row;
    let corrupt = |reason: String| Error::corrupt(format!("ledger entry {id}"), reason);
    let entry = LedgerEntry {
        id: uuid(&id, "id").map_err(corrupt)?,
        charge_id: uuid(&charge_id, "charge_id").map_err(corrupt)?,
        order_id: uuid(&order_id, "order_id").map_err(corrupt)?,
        kind: LedgerKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
        amount_minor,
        currency,
        at_ms,
    };
    Ok((seq, entry))
}

pub(super) fn uuid(text: &str, column: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text).map_err(|e| format!("{column} `{text}` is not a UUID: {e}"))
}
