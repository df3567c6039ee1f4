//! The charge step's decisions, apart from the calls and writes that carry them out: whether to
//! give up before another attempt, and what an attempt's answer leads to. Pure, so that every
//! outcome's transition is tested without a store or a payments service.

use std::time::Duration;

use orders_api::{CancelReason, OrderStatus};
use uuid::Uuid;

use super::port::{Charged, StepError};
use crate::store::{SagaRow, SagaState, Transition};

/// What a charge attempt's answer leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AfterCharge {
    /// The saga moves on: to committing when the charge was captured, else to releasing.
    Advance(Transition),
    /// The outcome is not known yet: record it (`outcome`, `detail`) and ask again later.
    Repeat {
        outcome: &'static str,
        detail: String,
    },
}

/// The transition from charging to releasing, which cancels the order with `reason`.
pub(super) fn to_release(
    reason: CancelReason,
    charge_id: Option<Uuid>,
    decline_code: Option<String>,
    outcome: &str,
    detail: String,
) -> Transition {
    Transition {
        from: SagaState::Charging,
        to: SagaState::Releasing,
        status: OrderStatus::Pending,
        charge_id,
        cancel_reason: Some(reason),
        decline_code,
        step: "charge",
        outcome: outcome.to_owned(),
        detail,
    }
}

/// The transition that ends charging before another attempt, when the attempts are used up or
/// the time to retry has passed since the first attempt (`now_ms`); `None` to go on charging.
pub(super) fn give_up(
    row: &SagaRow,
    max_attempts: u32,
    retry_for: Duration,
    now_ms: i64,
) -> Option<Transition> {
    let retry_for = i64::try_from(retry_for.as_millis()).unwrap_or(i64::MAX);
    let out_of_time = row
        .charge_started_ms
        .is_some_and(|started| now_ms.saturating_sub(started) > retry_for);
    (row.charge_attempts >= max_attempts || out_of_time).then(|| {
        let detail = format!(
            "the payment's outcome stayed unknown after {} attempt(s)",
            row.charge_attempts
        );
        to_release(CancelReason::PaymentFailed, None, None, "gave_up", detail)
    })
}

/// What the answer to charge attempt number `attempt` (1 for the first) leads to.
pub(super) fn after_charge(answer: Result<Charged, StepError>, attempt: u32) -> AfterCharge {
    let release = AfterCharge::Advance;
    match answer {
        Ok(Charged::Captured { charge_id }) => AfterCharge::Advance(Transition {
            from: SagaState::Charging,
            to: SagaState::Committing,
            status: OrderStatus::Pending,
            charge_id: Some(charge_id),
            cancel_reason: None,
            decline_code: None,
            step: "charge",
            outcome: "captured".to_owned(),
            detail: format!("charge {charge_id}"),
        }),
        Ok(Charged::Declined { charge_id, code }) => {
            let detail = format!("charge {charge_id} declined: {code}");
            release(to_release(
                CancelReason::PaymentDeclined,
                Some(charge_id),
                Some(code),
                "declined",
                detail,
            ))
        }
        Ok(Charged::Pending { charge_id }) => AfterCharge::Repeat {
            outcome: "pending",
            detail: format!("charge {charge_id} is still being processed"),
        },
        Ok(Charged::Refunded { charge_id }) => release(to_release(
            CancelReason::PaymentFailed,
            Some(charge_id),
            None,
            "refunded",
            format!("charge {charge_id} was refunded"),
        )),
        // Nothing reached payments on the first attempt: no charge can exist, so the order is
        // cancelled at once rather than held pending while payments is down (promise 6). After
        // an earlier attempt whose outcome is unknown, it is only one more unknown.
        Ok(Charged::NotDelivered { detail }) if attempt == 1 => release(to_release(
            CancelReason::PaymentUnavailable,
            None,
            None,
            "unavailable",
            detail,
        )),
        Ok(Charged::NotDelivered { detail }) | Err(StepError::Transient(detail)) => {
            AfterCharge::Repeat {
                outcome: "error",
                detail,
            }
        }
        // The processor refused the card itself (e.g. it fails the Luhn check): a decline in
        // effect, with the refusal as its code.
        Err(StepError::Rejected { code, detail }) => release(to_release(
            CancelReason::PaymentDeclined,
            None,
            Some(code.replace('-', "_")),
            "rejected",
            format!("{code}: {detail}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use catalog_api::Money;

    use super::*;

    fn row(attempts: u32, started_ms: Option<i64>) -> SagaRow {
        SagaRow {
            order_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            state: SagaState::Charging,
            lines: Vec::new(),
            total: Money {
                amount_minor: 100,
                currency: "EUR".to_owned(),
            },
            card_number: Some("4242424242424242".to_owned()),
            charge_id: None,
            charge_attempts: attempts,
            charge_started_ms: started_ms,
            cancel_reason: None,
            decline_code: None,
        }
    }

    /// `(next state, cancel reason, outcome)` of an advance; `None` for a repeat.
    fn next(after: AfterCharge) -> Option<(SagaState, Option<CancelReason>, String)> {
        match after {
            AfterCharge::Advance(change) => Some((change.to, change.cancel_reason, change.outcome)),
            AfterCharge::Repeat { .. } => None,
        }
    }

    #[test]
    fn charging_gives_up_after_its_attempts_or_its_time() {
        let minute = Duration::from_secs(60);
        assert_eq!(give_up(&row(0, None), 5, minute, 0), None);
        assert_eq!(give_up(&row(4, Some(0)), 5, minute, 60_000), None);
        let spent = give_up(&row(5, Some(0)), 5, minute, 1).map(|t| t.outcome);
        assert_eq!(spent.as_deref(), Some("gave_up"));
        let late = give_up(&row(1, Some(0)), 5, minute, 60_001);
        assert_eq!(
            late.map(|t| (t.to, t.cancel_reason)),
            Some((SagaState::Releasing, Some(CancelReason::PaymentFailed)))
        );
    }

    #[test]
    fn a_capture_moves_on_to_committing() {
        let id = Uuid::from_u128(9);
        let after = after_charge(Ok(Charged::Captured { charge_id: id }), 1);
        assert_eq!(
            next(after),
            Some((SagaState::Committing, None, "captured".to_owned()))
        );
    }

    #[test]
    fn a_decline_or_a_refused_card_cancels_as_declined() {
        let id = Uuid::from_u128(9);
        let declined = Charged::Declined {
            charge_id: id,
            code: "insufficient_funds".to_owned(),
        };
        let refused = StepError::Rejected {
            code: "invalid-card".to_owned(),
            detail: "fails the Luhn check".to_owned(),
        };
        let reason = Some(CancelReason::PaymentDeclined);
        assert_eq!(
            next(after_charge(Ok(declined), 2)),
            Some((SagaState::Releasing, reason, "declined".to_owned()))
        );
        match after_charge(Err(refused), 1) {
            AfterCharge::Advance(change) => {
                assert_eq!(change.decline_code.as_deref(), Some("invalid_card"));
                assert_eq!(change.cancel_reason, reason);
            }
            other => panic!("a refused card must cancel, not {other:?}"),
        }
    }

    #[test]
    fn an_unknown_outcome_is_asked_again_unless_nothing_was_ever_sent() {
        let id = Uuid::from_u128(9);
        let not_sent = || Charged::NotDelivered {
            detail: "no instance".to_owned(),
        };
        assert_eq!(
            next(after_charge(Ok(not_sent()), 1)),
            Some((
                SagaState::Releasing,
                Some(CancelReason::PaymentUnavailable),
                "unavailable".to_owned()
            ))
        );
        assert_eq!(next(after_charge(Ok(not_sent()), 2)), None);
        let transient = Err(StepError::Transient("timeout".to_owned()));
        assert_eq!(
            after_charge(transient, 1),
            AfterCharge::Repeat {
                outcome: "error",
                detail: "timeout".to_owned()
            }
        );
        let pending = after_charge(Ok(Charged::Pending { charge_id: id }), 1);
        assert!(matches!(
            pending,
            AfterCharge::Repeat {
                outcome: "pending",
                ..
            }
        ));
    }

    #[test]
    fn a_refunded_charge_cancels_as_failed() {
        let after = after_charge(
            Ok(Charged::Refunded {
                charge_id: Uuid::from_u128(9),
            }),
            1,
        );
        assert_eq!(
            next(after),
            Some((
                SagaState::Releasing,
                Some(CancelReason::PaymentFailed),
                "refunded".to_owned()
            ))
        );
    }
}
