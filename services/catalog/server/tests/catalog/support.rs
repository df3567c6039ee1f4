//! What the tests share: stores with the schema and sample data, and listing queries.

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::Outbox;
use catalog::{seed, Store, MIGRATIONS};
use catalog_api::{ListProducts, ProductQuery};

/// `db` migrated and loaded with the sample catalog.
pub async fn seeded(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    seed::ensure_sample_catalog(&db, &Outbox::new())
        .await
        .unwrap();
    Store::new(db)
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(4).await.unwrap()
}

/// A validated listing query from a query string.
pub fn query(query_string: &str) -> ProductQuery {
    serde_urlencoded::from_str::<ListProducts>(query_string)
        .unwrap_or_else(|e| panic!("{query_string}: {e}"))
        .validate()
        .unwrap_or_else(|e| panic!("{query_string}: {e}"))
}
