//! What the tests share: processors over migrated stores, requests, and the audit check.

use std::time::Duration;

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::Outbox;
use brigade_chassis::time::now_ms;
use payments::processor::{Charged, RefundError};
use payments::store::{NewCharge, Recorded};
use payments::{Processor, Store, MIGRATIONS};
use payments_api::{
    test_cards, ChargeRequest, ChargeStatus, LedgerFilter, LedgerPage, RefundRequest,
};
use uuid::Uuid;

/// How long the slow card waits in tests.
pub const SLOW_DELAY: Duration = Duration::from_millis(300);

/// A processor over `db`, migrated.
pub async fn processor(db: Db) -> Processor {
    migrate(&db, MIGRATIONS).await.unwrap();
    Processor::new(Store::new(db, Outbox::new()), SLOW_DELAY)
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(4).await.unwrap()
}

/// A charge of 19.99 EUR for `order_id` on `card`.
pub fn request(order_id: Uuid, card: &str) -> ChargeRequest {
    ChargeRequest {
        order_id,
        amount_minor: 1999,
        currency: "EUR".into(),
        card_number: card.into(),
    }
}

/// The whole ledger of one order.
pub async fn ledger_of(store: &Store, order_id: Uuid) -> LedgerPage {
    store
        .ledger(&LedgerFilter {
            order_id: Some(order_id),
            after: 0,
            limit: 500,
        })
        .await
        .unwrap()
}

/// Asserts that the audit finds nothing wrong.
pub async fn assert_audit_clean(store: &Store) {
    let audit = store.audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
}

/// A pending slow-card charge recorded directly, as an instance does before it waits, due at
/// `settle_at_ms`.
pub async fn pending_charge(
    store: &Store,
    order_id: Uuid,
    settle_at_ms: i64,
) -> payments_api::Charge {
    let key = format!("pending-{order_id}");
    let fingerprint = payments::card::fingerprint(test_cards::SLOW);
    let new = NewCharge {
        id: Uuid::new_v4(),
        idempotency_key: &key,
        order_id,
        amount_minor: 1999,
        currency: "EUR",
        card_last4: "0259",
        card_fingerprint: &fingerprint,
        status: ChargeStatus::Pending,
        decline_code: None,
        settle_at_ms: Some(settle_at_ms),
        now_ms: now_ms(),
    };
    match store.record_charge(&new).await.unwrap() {
        Recorded::Inserted(charge) => charge,
        other => panic!("{other:?}"),
    }
}

/// Charges through `processor` under `key`, which must not fail.
pub async fn charge(processor: &Processor, key: &str, request: &ChargeRequest) -> Charged {
    processor
        .charge(key, request)
        .await
        .unwrap_or_else(|e| panic!("charging with {key}: {e}"))
}

/// The charge made through `processor` under `key` for `order_id` on `card` (as [`request`]
/// makes it), which must not fail.
pub async fn charged(
    processor: &Processor,
    key: &str,
    order_id: Uuid,
    card: &str,
) -> payments_api::Charge {
    charge(processor, key, &request(order_id, card))
        .await
        .charge
}

/// Refunds charge `id` in full through `processor` (under `key` when given, with no reason).
pub async fn refund(
    processor: &Processor,
    id: Uuid,
    key: Option<&str>,
) -> Result<payments_api::Charge, RefundError> {
    processor.refund(id, key, &RefundRequest::default()).await
}
