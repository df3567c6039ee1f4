//! What the tests share: stores with the schema and sample data, and listing queries.

use brigade_chassis::db::{migrate, Db};
use catalog::{seed, Store, MIGRATIONS};
use catalog_api::{ListProducts, ProductQuery};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;

/// `db` migrated and loaded with the sample catalog.
pub async fn seeded(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    seed::ensure_sample_catalog(&db).await.unwrap();
    Store::new(db)
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    match db {
        Db::Sqlite(pool) => Db::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with((*pool.connect_options()).clone())
                .await
                .unwrap(),
        ),
        Db::Postgres(pool) => Db::Postgres(
            PgPoolOptions::new()
                .max_connections(4)
                .connect_with((*pool.connect_options()).clone())
                .await
                .unwrap(),
        ),
    }
}

/// A validated listing query from a query string.
pub fn query(query_string: &str) -> ProductQuery {
    serde_urlencoded::from_str::<ListProducts>(query_string)
        .unwrap_or_else(|e| panic!("{query_string}: {e}"))
        .validate()
        .unwrap_or_else(|e| panic!("{query_string}: {e}"))
}
