//! The events payments publishes: exactly one per capture, decline and refund, with the order as
//! subject, and none for a request that changed nothing; each test run against SQLite and
//! PostgreSQL.

use brigade_chassis::db::Db;
use brigade_chassis::events::{stored_events, Envelope, Event};
use payments::processor::{ChargeError, RefundError};
use payments::{Processor, Store};
use payments_api::events::{Amount, PaymentCaptured, PaymentFailed, PaymentRefunded};
use payments_api::{test_cards, ChargeStatus, DeclineCode, LedgerKind};
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    assert_audit_clean, charge, charged, ledger_of, pending_charge, processor, refund, request,
    second_pool,
};

brigade_chassis::store_suite!(
    a_capture_is_announced_once,
    a_decline_is_announced_as_a_failure_and_a_processor_error_not_at_all,
    a_slow_charge_is_announced_when_it_settles_and_only_then,
    a_refund_is_announced_once_after_its_capture,
    concurrent_declines_of_one_order_number_its_events_in_turn,
);

async fn events(store: &Store) -> Vec<Envelope> {
    stored_events(store.db()).await.unwrap()
}

/// `envelope`'s payload as `E`, checked to be well-formed and about `order_id`.
fn payload<E: Event>(envelope: &Envelope, order_id: Uuid) -> E {
    assert_eq!(envelope.event_type, E::type_name());
    assert_eq!(
        (envelope.source.as_str(), envelope.schemaversion),
        ("payments", 1)
    );
    assert_eq!(envelope.subject, order_id.to_string());
    envelope.decode::<E>().unwrap()
}

/// Asserts that the events written are one: the capture of 19.99 EUR by charge `charge_id` for
/// `order`; the events.
async fn only_capture(store: &Store, charge_id: Uuid, order: Uuid) -> Vec<Envelope> {
    let written = events(store).await;
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(
        payload::<PaymentCaptured>(&written[0], order),
        PaymentCaptured {
            charge_id,
            order_id: order,
            amount: eur(1999),
        }
    );
    written
}

fn eur(amount_minor: i64) -> Amount {
    Amount {
        amount_minor,
        currency: "EUR".to_owned(),
    }
}

async fn a_capture_is_announced_once(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    let order = Uuid::new_v4();
    let made = charged(&processor, "pay-1", order, test_cards::APPROVED).await;

    let written = only_capture(store, made.id, order).await;
    assert_eq!(written[0].subjectseq, 1);
    // The JSON consumers read: no card number, nor any part of it.
    assert_eq!(
        written[0].data,
        json!({
            "charge_id": made.id,
            "order_id": order,
            "amount": {"amount_minor": 1999, "currency": "EUR"},
        })
    );

    // The same request again, and the order charged again under another key: nothing new.
    let again = charge(&processor, "pay-1", &request(order, test_cards::APPROVED)).await;
    assert!(!again.created);
    let refused = processor
        .charge("pay-2", &request(order, test_cards::APPROVED))
        .await;
    assert!(
        matches!(refused, Err(ChargeError::AlreadyCharged { .. })),
        "{refused:?}"
    );
    assert_eq!(events(store).await.len(), 1);
}

async fn a_decline_is_announced_as_a_failure_and_a_processor_error_not_at_all(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    let order = Uuid::new_v4();
    let declined = charged(&processor, "try-1", order, test_cards::DECLINED).await;
    let broke = charged(&processor, "try-2", order, test_cards::INSUFFICIENT_FUNDS).await;
    // Repeats are answered from the store and announce nothing.
    charge(&processor, "try-1", &request(order, test_cards::DECLINED)).await;
    // The processor failing records nothing, so announces nothing.
    let failed = processor
        .charge("try-3", &request(order, test_cards::PROCESSOR_ERROR))
        .await;
    assert!(
        matches!(failed, Err(ChargeError::ProcessorFailed)),
        "{failed:?}"
    );

    let written = events(store).await;
    assert_eq!(written.len(), 2, "{written:#?}");
    assert_eq!(
        payload::<PaymentFailed>(&written[0], order),
        PaymentFailed {
            order_id: order,
            charge_id: Some(declined.id),
            decline_code: DeclineCode::CardDeclined,
        }
    );
    assert_eq!(
        payload::<PaymentFailed>(&written[1], order),
        PaymentFailed {
            order_id: order,
            charge_id: Some(broke.id),
            decline_code: DeclineCode::InsufficientFunds,
        }
    );
    assert_eq!(
        written[1].data,
        json!({
            "order_id": order,
            "charge_id": broke.id,
            "decline_code": "insufficient_funds",
        })
    );
    // One order's events are numbered in the order they happened.
    let seqs: Vec<i64> = written.iter().map(|e| e.subjectseq).collect();
    assert_eq!(seqs, [1, 2]);

    // Then a card that works: the order's third event.
    let paid = charged(&processor, "try-4", order, test_cards::APPROVED).await;
    let written = events(store).await;
    assert_eq!(written.len(), 3);
    assert_eq!(
        payload::<PaymentCaptured>(&written[2], order).charge_id,
        paid.id
    );
    assert_eq!(written[2].subjectseq, 3);
}

async fn a_slow_charge_is_announced_when_it_settles_and_only_then(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    let order = Uuid::new_v4();
    let now = brigade_chassis::time::unix_ms() as i64;
    let pending = pending_charge(store, order, now + 60_000).await;
    // Pending holds the order but takes no money: nothing to announce yet, nor when settling
    // is tried before it is due.
    assert!(events(store).await.is_empty());
    let early = store.settle(pending.id, now).await.unwrap().unwrap();
    assert_eq!(early.charge.status, ChargeStatus::Pending);
    assert!(events(store).await.is_empty());

    // Due: the first settle captures and announces; every later one changes nothing.
    let settled = store
        .settle(pending.id, now + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.charge.status, ChargeStatus::Captured);
    store.settle(pending.id, now + 60_001).await.unwrap();
    only_capture(store, pending.id, order).await;

    // Through the processor, with the slow card: one capture announced.
    let other = Uuid::new_v4();
    let slow = charged(&processor, "slow", other, test_cards::SLOW).await;
    assert_eq!(slow.status, ChargeStatus::Captured);
    let written = events(store).await;
    assert_eq!(written.len(), 2, "{written:#?}");
    assert_eq!(
        payload::<PaymentCaptured>(&written[1], other).charge_id,
        slow.id
    );
    assert_audit_clean(store).await;
}

async fn a_refund_is_announced_once_after_its_capture(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    let order = Uuid::new_v4();
    let made = charged(&processor, "pay", order, test_cards::APPROVED).await;
    refund(&processor, made.id, Some("refund-1")).await.unwrap();
    // Refunding again, under any key, changes nothing and announces nothing.
    for key in [Some("refund-1"), Some("refund-2"), None] {
        refund(&processor, made.id, key).await.unwrap();
    }
    // Nor does a refused refund.
    let declined = charged(&processor, "no", Uuid::new_v4(), test_cards::DECLINED).await;
    let refused = refund(&processor, declined.id, None).await;
    assert!(
        matches!(refused, Err(RefundError::Refused(_))),
        "{refused:?}"
    );

    let written = events(store).await;
    let of_order: Vec<&Envelope> = written
        .iter()
        .filter(|e| e.subject == order.to_string())
        .collect();
    assert_eq!(of_order.len(), 2, "{written:#?}");
    assert_eq!(written.len(), 3, "the capture, the refund, the decline");
    payload::<PaymentCaptured>(of_order[0], order);
    let refund = payload::<PaymentRefunded>(of_order[1], order);
    // The refund's id is its ledger entry's.
    let entries = ledger_of(store, order).await.items;
    let entry = entries
        .iter()
        .find(|e| e.kind == LedgerKind::Refund)
        .unwrap();
    assert_eq!(
        refund,
        PaymentRefunded {
            refund_id: entry.id,
            charge_id: made.id,
            order_id: order,
            amount: eur(1999),
        }
    );
    let seqs: Vec<i64> = of_order.iter().map(|e| e.subjectseq).collect();
    assert_eq!(seqs, [1, 2]);
}

async fn concurrent_declines_of_one_order_number_its_events_in_turn(db: Db) {
    // Declined charges of one order are different rows, so no row lock orders their events:
    // only the store's own ordering keeps their sequence numbers apart. Two instances race.
    let other = Processor::new(
        Store::new(
            second_pool(&db).await,
            brigade_chassis::events::Outbox::new(),
        ),
        crate::support::SLOW_DELAY,
    );
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let attempts: Vec<_> = (0..12)
        .map(|n| {
            let instance = if n % 2 == 0 {
                processor.clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                instance
                    .charge(&format!("race-{n}"), &request(order, test_cards::DECLINED))
                    .await
            })
        })
        .collect();
    let mut charges = Vec::new();
    for attempt in attempts {
        charges.push(attempt.await.unwrap().unwrap().charge.id);
    }
    let written = events(processor.store()).await;
    assert_eq!(written.len(), 12);
    let mut seqs: Vec<i64> = written.iter().map(|e| e.subjectseq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=12).collect::<Vec<i64>>());
    // One event per charge.
    let mut announced: Vec<Uuid> = written
        .iter()
        .filter_map(|e| payload::<PaymentFailed>(e, order).charge_id)
        .collect();
    announced.sort_unstable();
    charges.sort_unstable();
    assert_eq!(announced, charges);
}
