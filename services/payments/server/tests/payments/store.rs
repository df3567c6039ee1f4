//! The processor and its store: each test is written once, as a function of a fresh store, and
//! run against SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable,
//! unless CI).

use std::collections::HashSet;
use std::time::Duration;

use brigade_chassis::db::Db;
use brigade_chassis::time::now_ms;
use payments::processor::{ChargeError, Charged, RefundError};
use payments::store::RefundError as Refused;
use payments::{Processor, Store};
use payments_api::{
    test_cards, ChargeRequest, ChargeStatus, DeclineCode, LedgerFilter, LedgerKind, RefundRequest,
    ViolationKind,
};
use uuid::Uuid;

use crate::support::{
    assert_audit_clean, charge, charged, ledger_of, pending_charge, processor, refund, request,
    second_pool, SLOW_DELAY,
};

brigade_chassis::store_suite!(
    each_test_card_has_its_outcome,
    a_repeated_request_returns_the_same_charge_and_writes_one_entry,
    a_key_reused_with_another_request_is_refused,
    concurrent_requests_with_one_key_across_two_pools_make_one_charge,
    a_charged_order_is_not_charged_again_under_another_key,
    refunds_are_idempotent_and_balance_the_ledger,
    refunds_are_refused_for_charges_that_hold_no_money,
    a_processor_error_records_nothing_and_may_be_tried_again,
    a_duplicate_during_the_slow_wait_gets_the_same_single_charge,
    a_slow_charge_completes_when_its_caller_gives_up,
    a_pending_charge_left_by_a_stopped_instance_is_settled,
    bad_input_is_refused_before_anything_is_written,
    the_ledger_pages_in_order_and_filters_by_order,
    the_audit_finds_a_ledger_that_disagrees_and_the_ledger_is_append_only,
);

async fn each_test_card_has_its_outcome(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    let cases = [
        (test_cards::APPROVED, ChargeStatus::Captured, None),
        ("5555555555554444", ChargeStatus::Captured, None),
        (
            test_cards::DECLINED,
            ChargeStatus::Declined,
            Some(DeclineCode::CardDeclined),
        ),
        (
            test_cards::INSUFFICIENT_FUNDS,
            ChargeStatus::Declined,
            Some(DeclineCode::InsufficientFunds),
        ),
        (test_cards::SLOW, ChargeStatus::Captured, None),
    ];
    for (card, status, decline_code) in cases {
        let order = Uuid::new_v4();
        let charged = charge(&processor, &format!("key-{card}"), &request(order, card)).await;
        assert!(charged.created);
        let made = &charged.charge;
        assert_eq!(
            (made.status, made.decline_code),
            (status, decline_code),
            "{card}"
        );
        assert_eq!(made.order_id, order);
        assert_eq!((made.amount_minor, made.currency.as_str()), (1999, "EUR"));
        assert_eq!(made.card_last4, &card[card.len() - 4..]);
        assert_eq!(made.refunded_amount_minor, 0);
        assert_eq!(store.charge(made.id).await.unwrap().unwrap().charge, *made);
        let entries = ledger_of(store, order).await.items;
        match status {
            ChargeStatus::Captured => {
                assert_eq!(entries.len(), 1, "{card}");
                assert_eq!(entries[0].kind, LedgerKind::Capture);
                assert_eq!(
                    (entries[0].charge_id, entries[0].amount_minor),
                    (made.id, 1999)
                );
            }
            _ => assert!(entries.is_empty(), "{card}: {entries:?}"),
        }
    }
    let failed = processor
        .charge(
            "key-error",
            &request(Uuid::new_v4(), test_cards::PROCESSOR_ERROR),
        )
        .await;
    assert!(
        matches!(failed, Err(ChargeError::ProcessorFailed)),
        "{failed:?}"
    );
    let audit = store.audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{audit:?}");
    assert_eq!((audit.captures, audit.refunds), (3, 0));
    assert_eq!(
        audit.balance_minor_by_currency.get("EUR"),
        Some(&(3 * 1999))
    );
}

async fn a_repeated_request_returns_the_same_charge_and_writes_one_entry(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let first = charge(&processor, "order-1", &request(order, test_cards::APPROVED)).await;
    let again = charge(&processor, "order-1", &request(order, test_cards::APPROVED)).await;
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(again.charge, first.charge);
    // A decline is remembered too: repeating it does not ask the card network again.
    let declined_order = Uuid::new_v4();
    let declined = request(declined_order, test_cards::DECLINED);
    let first_decline = charge(&processor, "order-2", &declined).await;
    let again_decline = charge(&processor, "order-2", &declined).await;
    assert_eq!(
        (first_decline.created, again_decline.created),
        (true, false)
    );
    assert_eq!(again_decline.charge, first_decline.charge);
    let store = processor.store();
    assert_eq!(ledger_of(store, order).await.items.len(), 1);
    assert_eq!(
        store.charges_for_order(order).await.unwrap(),
        vec![first.charge]
    );
    assert_audit_clean(store).await;
}

async fn a_key_reused_with_another_request_is_refused(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let original = request(order, test_cards::APPROVED);
    let made = charge(&processor, "reused", &original).await.charge;
    let others = [
        ChargeRequest {
            amount_minor: 2000,
            ..original.clone()
        },
        ChargeRequest {
            currency: "USD".into(),
            ..original.clone()
        },
        ChargeRequest {
            card_number: "5555555555554444".into(),
            ..original.clone()
        },
        request(Uuid::new_v4(), test_cards::APPROVED),
        // Even a card that fails at the processor: the key is already spoken for.
        request(order, test_cards::PROCESSOR_ERROR),
    ];
    for other in others {
        match processor.charge("reused", &other).await {
            Err(ChargeError::KeyReused { charge_id }) => assert_eq!(charge_id, made.id),
            unexpected => panic!("{other:?}: {unexpected:?}"),
        }
    }
    assert_eq!(
        processor
            .store()
            .charges_for_order(order)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_audit_clean(processor.store()).await;
}

async fn concurrent_requests_with_one_key_across_two_pools_make_one_charge(db: Db) {
    let other = second_pool(&db).await;
    let instances = [processor(db).await, processor(other).await];
    let order = Uuid::new_v4();
    let answers: Vec<Charged> = race(&instances, order, |_| "one-key".to_owned())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ids: HashSet<Uuid> = answers.iter().map(|a| a.charge.id).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.created).count(), 1);
    assert!(answers
        .iter()
        .all(|a| a.charge.status == ChargeStatus::Captured));
    let store = instances[0].store();
    assert_eq!(store.charges_for_order(order).await.unwrap().len(), 1);
    assert_eq!(ledger_of(store, order).await.items.len(), 1);
    assert_audit_clean(store).await;

    // Twenty keys racing for one order: exactly one capture, the rest are told it is charged.
    let order = Uuid::new_v4();
    let mut captured = 0;
    for answer in race(&instances, order, |i| format!("key-{i}")).await {
        match answer {
            Ok(charged) => {
                assert!(charged.created);
                captured += 1;
            }
            Err(ChargeError::AlreadyCharged { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(captured, 1);
    assert_eq!(ledger_of(store, order).await.items.len(), 1);
    assert_audit_clean(store).await;
}

/// Twenty approved charges of `order` at once, the `i`th under the key `key(i)`, sent to the
/// `instances` in turn; their answers in the order sent.
async fn race(
    instances: &[Processor],
    order: Uuid,
    key: impl Fn(usize) -> String,
) -> Vec<Result<Charged, ChargeError>> {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let processor = instances[i % instances.len()].clone();
            let key = key(i);
            tokio::spawn(async move {
                processor
                    .charge(&key, &request(order, test_cards::APPROVED))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

async fn a_charged_order_is_not_charged_again_under_another_key(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    // Declines do not hold the order: the shopper may try another card.
    let declined = charge(&processor, "try-1", &request(order, test_cards::DECLINED)).await;
    assert_eq!(declined.charge.status, ChargeStatus::Declined);
    let paid = charge(&processor, "try-2", &request(order, test_cards::APPROVED)).await;
    assert_eq!(paid.charge.status, ChargeStatus::Captured);
    for (key, card) in [
        ("try-3", test_cards::APPROVED),
        ("try-4", test_cards::DECLINED),
        ("try-5", test_cards::PROCESSOR_ERROR),
    ] {
        match processor.charge(key, &request(order, card)).await {
            Err(ChargeError::AlreadyCharged {
                order_id,
                charge_id,
                status,
            }) => {
                assert_eq!((order_id, charge_id), (order, paid.charge.id));
                assert_eq!(status, ChargeStatus::Captured);
            }
            unexpected => panic!("{card}: {unexpected:?}"),
        }
    }
    // Once refunded, the order may be charged again.
    refund(&processor, paid.charge.id, None).await.unwrap();
    let again = charge(&processor, "try-6", &request(order, test_cards::APPROVED)).await;
    assert_eq!(again.charge.status, ChargeStatus::Captured);
    let store = processor.store();
    assert_eq!(store.charges_for_order(order).await.unwrap().len(), 3);
    assert_eq!(ledger_of(store, order).await.items.len(), 3);
    assert_audit_clean(store).await;
}

async fn refunds_are_idempotent_and_balance_the_ledger(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let made = charged(&processor, "pay", order, test_cards::APPROVED).await;
    let reason = RefundRequest {
        reason: Some("the parcel was lost".into()),
    };
    let refunded = processor
        .refund(made.id, Some("refund-1"), &reason)
        .await
        .unwrap();
    assert_eq!(refunded.status, ChargeStatus::Refunded);
    assert_eq!(refunded.refunded_amount_minor, made.amount_minor);
    assert!(refunded.updated_at_ms >= made.updated_at_ms);
    let stored = processor
        .store()
        .charge(made.id)
        .await
        .unwrap()
        .unwrap()
        .charge;
    assert_eq!(stored, refunded);
    // Again, with the same key, another key or none: the same charge, nothing more written.
    for key in [Some("refund-1"), Some("refund-2"), None] {
        let again = refund(&processor, made.id, key).await.unwrap();
        assert_eq!(again, refunded, "{key:?}");
    }
    let entries = ledger_of(processor.store(), order).await.items;
    let kinds: Vec<LedgerKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [LedgerKind::Capture, LedgerKind::Refund]);
    assert!(entries.iter().all(|e| e.amount_minor == made.amount_minor));
    // A key that refunded one charge cannot refund another.
    let other = charged(&processor, "pay-2", Uuid::new_v4(), test_cards::APPROVED).await;
    match refund(&processor, other.id, Some("refund-1")).await {
        Err(RefundError::Refused(Refused::KeyReused { charge_id })) => {
            assert_eq!(charge_id, made.id)
        }
        unexpected => panic!("{unexpected:?}"),
    }
    let audit = processor.store().audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{audit:?}");
    assert_eq!((audit.captures, audit.refunds), (2, 1));
    assert_eq!(
        audit.balance_minor_by_currency.get("EUR"),
        Some(&other.amount_minor)
    );
}

async fn refunds_are_refused_for_charges_that_hold_no_money(db: Db) {
    let processor = processor(db).await;
    let declined = charged(&processor, "declined", Uuid::new_v4(), test_cards::DECLINED).await;
    match refund(&processor, declined.id, None).await {
        Err(RefundError::Refused(Refused::NotRefundable(charge))) => {
            assert_eq!(charge.status, ChargeStatus::Declined)
        }
        unexpected => panic!("{unexpected:?}"),
    }
    let unknown = Uuid::new_v4();
    match refund(&processor, unknown, None).await {
        Err(RefundError::Refused(Refused::NotFound(id))) => assert_eq!(id, unknown),
        unexpected => panic!("{unexpected:?}"),
    }
    // A pending charge holds no money yet.
    let store = processor.store();
    let pending = pending_charge(store, Uuid::new_v4(), i64::MAX).await;
    match refund(&processor, pending.id, None).await {
        Err(RefundError::Refused(Refused::NotRefundable(charge))) => {
            assert_eq!(charge.status, ChargeStatus::Pending)
        }
        unexpected => panic!("{unexpected:?}"),
    }
    assert_audit_clean(store).await;
}

async fn a_processor_error_records_nothing_and_may_be_tried_again(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let failing = request(order, test_cards::PROCESSOR_ERROR);
    for _ in 0..2 {
        let answer = processor.charge("flaky", &failing).await;
        assert!(
            matches!(answer, Err(ChargeError::ProcessorFailed)),
            "{answer:?}"
        );
    }
    let store = processor.store();
    assert!(store.charges_for_order(order).await.unwrap().is_empty());
    assert!(store.charge_by_key("flaky").await.unwrap().is_none());
    assert!(ledger_of(store, order).await.items.is_empty());
    // Nothing holds the order or the key: the same key with a working card charges it.
    let paid = charge(&processor, "flaky", &request(order, test_cards::APPROVED)).await;
    assert_eq!(paid.charge.status, ChargeStatus::Captured);
    assert_audit_clean(store).await;
}

async fn a_duplicate_during_the_slow_wait_gets_the_same_single_charge(db: Db) {
    let other = second_pool(&db).await;
    let (a, b) = (processor(db).await, processor(other).await);
    let order = Uuid::new_v4();
    let slow = request(order, test_cards::SLOW);
    let first = {
        let (a, slow) = (a.clone(), slow.clone());
        tokio::spawn(async move { a.charge("slow-key", &slow).await })
    };
    // The first request has recorded its pending charge and is waiting for the processor.
    let pending = wait_for_key(a.store(), "slow-key").await;
    assert_eq!(pending.status, ChargeStatus::Pending);
    // Meanwhile: the same request on another instance, and another key for the same order.
    let duplicate = b.charge("slow-key", &slow).await.unwrap();
    match b
        .charge("other-key", &request(order, test_cards::APPROVED))
        .await
    {
        Err(ChargeError::AlreadyCharged { charge_id, .. }) => assert_eq!(charge_id, pending.id),
        unexpected => panic!("{unexpected:?}"),
    }
    let first = first.await.unwrap().unwrap();
    assert!(first.created);
    assert!(!duplicate.created);
    assert_eq!(first.charge.id, pending.id);
    assert_eq!(first.charge.status, ChargeStatus::Captured);
    assert_eq!(duplicate.charge, first.charge);
    let waited = first.charge.updated_at_ms - first.charge.created_at_ms;
    assert!(
        waited >= SLOW_DELAY.as_millis() as i64,
        "settled after {waited} ms"
    );
    assert_eq!(ledger_of(a.store(), order).await.items.len(), 1);
    assert_audit_clean(a.store()).await;
}

async fn a_slow_charge_completes_when_its_caller_gives_up(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let slow = request(order, test_cards::SLOW);
    // The caller's deadline passes long before the processor answers.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(50),
        processor.charge("impatient", &slow),
    )
    .await;
    assert!(abandoned.is_err(), "{abandoned:?}");
    tokio::time::sleep(SLOW_DELAY + Duration::from_millis(300)).await;
    let store = processor.store();
    let settled = store
        .charge_by_key("impatient")
        .await
        .unwrap()
        .unwrap()
        .charge;
    assert_eq!(settled.status, ChargeStatus::Captured);
    // The retry returns it without waiting.
    let retried = charge(&processor, "impatient", &slow).await;
    assert_eq!((retried.created, retried.charge), (false, settled));
    assert_eq!(ledger_of(store, order).await.items.len(), 1);
    assert_audit_clean(store).await;
}

async fn a_pending_charge_left_by_a_stopped_instance_is_settled(db: Db) {
    let processor = processor(db).await;
    let store = processor.store();
    // Recorded by an instance that stopped before settling them: both are due.
    let past = now_ms() - 1000;
    let asked_again = pending_charge(store, Uuid::new_v4(), past).await;
    let forgotten = pending_charge(store, Uuid::new_v4(), past).await;
    let not_yet = pending_charge(store, Uuid::new_v4(), i64::MAX).await;
    // A repeat of the request settles it rather than waiting for nobody.
    let repeat = request(asked_again.order_id, test_cards::SLOW);
    let key = format!("pending-{}", asked_again.order_id);
    let answer = charge(&processor, &key, &repeat).await;
    assert_eq!(answer.charge.status, ChargeStatus::Captured);
    // The recovery pass settles the rest that are due, and only those.
    processor.settle_due_charges().await.unwrap();
    let status = |id| async move { store.charge(id).await.unwrap().unwrap().charge.status };
    assert_eq!(status(forgotten.id).await, ChargeStatus::Captured);
    assert_eq!(status(not_yet.id).await, ChargeStatus::Pending);
    // Settling again changes nothing.
    processor.settle_due_charges().await.unwrap();
    assert_eq!(ledger_of(store, forgotten.order_id).await.items.len(), 1);
    assert_audit_clean(store).await;
}

async fn bad_input_is_refused_before_anything_is_written(db: Db) {
    let processor = processor(db).await;
    let order = Uuid::new_v4();
    let good = request(order, test_cards::APPROVED);
    let cases = [
        ("", good.clone(), "Idempotency-Key"),
        ("with space", good.clone(), "Idempotency-Key"),
        (
            "k",
            ChargeRequest {
                amount_minor: 0,
                ..good.clone()
            },
            "amount_minor",
        ),
        (
            "k",
            ChargeRequest {
                currency: "eur".into(),
                ..good.clone()
            },
            "currency",
        ),
        ("k", request(order, "4242424242424241"), "card_number"),
    ];
    for (key, bad, parameter) in cases {
        match processor.charge(key, &bad).await {
            Err(ChargeError::Invalid(e)) => assert_eq!(e.parameter, parameter),
            unexpected => panic!("{parameter}: {unexpected:?}"),
        }
    }
    let long = RefundRequest {
        reason: Some("x".repeat(501)),
    };
    match processor.refund(Uuid::new_v4(), None, &long).await {
        Err(RefundError::Invalid(e)) => assert_eq!(e.parameter, "reason"),
        unexpected => panic!("{unexpected:?}"),
    }
    assert!(processor
        .store()
        .charges_for_order(order)
        .await
        .unwrap()
        .is_empty());
    assert_audit_clean(processor.store()).await;
}

async fn the_ledger_pages_in_order_and_filters_by_order(db: Db) {
    let processor = processor(db).await;
    let orders: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let mut charges = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        let made = charged(&processor, &format!("k{i}"), *order, test_cards::APPROVED).await;
        charges.push(made);
    }
    refund(&processor, charges[1].id, None).await.unwrap();
    let store = processor.store();
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .ledger(&LedgerFilter {
                order_id: None,
                after,
                limit: 2,
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    let expected: Vec<(Uuid, LedgerKind)> = charges
        .iter()
        .map(|c| (c.id, LedgerKind::Capture))
        .chain([(charges[1].id, LedgerKind::Refund)])
        .collect();
    let got: Vec<(Uuid, LedgerKind)> = seen.iter().map(|e| (e.charge_id, e.kind)).collect();
    assert_eq!(got, expected);
    let ids: HashSet<Uuid> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), seen.len());
    let one = ledger_of(store, orders[1]).await;
    assert_eq!(one.items.len(), 2);
    assert!(one.items.iter().all(|e| e.order_id == orders[1]));
    assert_eq!(one.next, None);
    assert_audit_clean(store).await;
}

async fn the_audit_finds_a_ledger_that_disagrees_and_the_ledger_is_append_only(db: Db) {
    let processor = processor(db.clone()).await;
    let order = Uuid::new_v4();
    let made = charged(&processor, "audited", order, test_cards::APPROVED).await;
    assert_audit_clean(processor.store()).await;
    // A refund entry written behind the store's back: the charge says captured.
    let insert = "INSERT INTO ledger_entries \
                  (id, charge_id, order_id, kind, amount_minor, currency, at_ms) \
                  VALUES ($1, $2, $3, 'refund', 1999, 'EUR', 0)";
    let args = [
        Uuid::new_v4().to_string(),
        made.id.to_string(),
        order.to_string(),
    ];
    match &db {
        Db::Sqlite(db) => {
            let insert = insert.replace('$', "?");
            let query = args.iter().fold(sqlx::query(&insert), |q, a| q.bind(a));
            query.execute(db.pool()).await.unwrap();
        }
        Db::Postgres(pool) => {
            let query = args.iter().fold(sqlx::query(insert), |q, a| q.bind(a));
            query.execute(pool).await.unwrap();
        }
    }
    let audit = processor.store().audit().await.unwrap();
    assert_eq!(audit.violations.len(), 1, "{audit:?}");
    let violation = &audit.violations[0];
    assert_eq!(violation.kind, ViolationKind::LedgerMismatch);
    assert_eq!(
        (violation.order_id, violation.charge_id),
        (order, Some(made.id))
    );
    assert_eq!(audit.balance_minor_by_currency.get("EUR"), Some(&0));
    // History cannot be rewritten, not even to repair it.
    let (update, delete) = (
        "UPDATE ledger_entries SET amount_minor = 1",
        "DELETE FROM ledger_entries",
    );
    for statement in [update, delete] {
        let refused = match &db {
            Db::Sqlite(db) => sqlx::query(statement).execute(db.pool()).await.is_err(),
            Db::Postgres(pool) => sqlx::query(statement).execute(pool).await.is_err(),
        };
        assert!(refused, "{statement}");
    }
}

/// The charge made under `key`, once there is one.
async fn wait_for_key(store: &Store, key: &str) -> payments_api::Charge {
    for _ in 0..200 {
        if let Some(stored) = store.charge_by_key(key).await.unwrap() {
            return stored.charge;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no charge under {key}");
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(payments::MIGRATIONS).await;
}
