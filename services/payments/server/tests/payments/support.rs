//! What the tests share: processors over migrated stores, requests, and the audit check.

use std::time::Duration;

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::Outbox;
use payments::{Processor, Store, MIGRATIONS};
use payments_api::{ChargeRequest, LedgerFilter, LedgerPage};
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
