//! What the tests share: migrated stores, stock, requests, and the audit every scenario ends with.

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::Outbox;
use inventory::{Store, MIGRATIONS};
use inventory_api::{CheckedReservation, ReservationLine, ReserveRequest};

/// A fixed "now" for store tests, so that expiry is driven explicitly.
pub const NOW: u64 = 1_750_000_000_000;

/// `db` migrated, without sample stock.
pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store::new(db, Outbox::new())
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(8).await.unwrap()
}

/// Sets the stock of each SKU.
pub async fn stock(store: &Store, levels: &[(&str, u64)]) {
    for (sku, n) in levels {
        store.set_stock(sku, *n, NOW).await.unwrap();
    }
}

pub fn lines(lines: &[(&str, u32)]) -> Vec<ReservationLine> {
    lines
        .iter()
        .map(|(sku, quantity)| ReservationLine {
            sku: (*sku).to_owned(),
            quantity: *quantity,
        })
        .collect()
}

/// A valid reservation request.
pub fn request(items: &[(&str, u32)], ttl_ms: Option<u64>) -> CheckedReservation {
    ReserveRequest {
        lines: lines(items),
        ttl_ms,
    }
    .validate()
    .unwrap()
}

/// `(stock, held, committed, available)` of `sku`.
pub async fn counters(store: &Store, sku: &str) -> (u64, u64, u64, u64) {
    let level = store.level(sku).await.unwrap().unwrap();
    (level.stock, level.held, level.committed, level.available)
}

/// Fails the test unless every SKU's counters agree with its reservations.
pub async fn assert_audit_clean(store: &Store) {
    let audit = store.audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{audit:#?}");
}
