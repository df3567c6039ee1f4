//! The events a change of a charge announces (`PaymentCaptured`, `PaymentFailed`,
//! `PaymentRefunded`, defined in `payments_api::events`), appended to the outbox in the change's
//! transaction, after its ledger entry.
//!
//! Their subject is the order, not the charge: one order's payment events are delivered in the
//! order they happened. An order may have several charges (declined ones, and the one that was
//! captured) changed by concurrent transactions; the outbox's per-subject lock numbers their
//! events in commit order all the same.

use brigade_chassis::db::Conn;
use brigade_chassis::events::{Event, Outbox};
use payments_api::events::{Amount, PaymentCaptured, PaymentFailed, PaymentRefunded};
use payments_api::{Charge, DeclineCode};
use uuid::Uuid;

use super::Error;

/// Appends `event` through `conn`, inside the transaction that makes the change it announces.
pub(super) async fn announce<E: Event>(
    conn: Conn<'_>,
    outbox: &Outbox,
    event: &E,
) -> Result<(), Error> {
    outbox.append(conn, event).await?;
    Ok(())
}

fn amount(charge: &Charge) -> Amount {
    Amount {
        amount_minor: charge.amount_minor,
        currency: charge.currency.clone(),
    }
}

pub(super) fn captured(charge: &Charge) -> PaymentCaptured {
    PaymentCaptured {
        charge_id: charge.id,
        order_id: charge.order_id,
        amount: amount(charge),
    }
}

pub(super) fn declined(charge: &Charge, decline_code: DeclineCode) -> PaymentFailed {
    PaymentFailed {
        order_id: charge.order_id,
        charge_id: Some(charge.id),
        decline_code,
    }
}

/// `refund_id` is the id of the refund's ledger entry.
pub(super) fn refunded(charge: &Charge, refund_id: Uuid) -> PaymentRefunded {
    PaymentRefunded {
        refund_id,
        charge_id: charge.id,
        order_id: charge.order_id,
        amount: amount(charge),
    }
}
