//! What the tests share: a fake catalog and a fake orders event feed on real sockets, catalog
//! clients, stores.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use brigade_chassis::db::{migrate, Db};
use brigade_chassis::testing::{serve_in_background, static_client};
use cart::lines::{self, RuleError, StoredCart};
use cart::store::Changed;
use cart::{Store, MIGRATIONS};
use catalog_api::{CatalogClient, Product, ProductBatch, ProductsByIds};
use uuid::Uuid;

/// A catalog whose products a test can change, answering `POST /v1/products/batch` as the real
/// one does, on a real socket.
#[derive(Clone)]
pub struct FakeCatalog {
    products: Arc<Mutex<HashMap<Uuid, Product>>>,
    pub address: SocketAddr,
}

impl FakeCatalog {
    pub async fn start() -> FakeCatalog {
        let products = Arc::new(Mutex::new(HashMap::new()));
        let router = Router::new()
            .route(catalog_api::paths::PRODUCTS_BATCH, post(batch))
            .with_state(products.clone());
        let address = serve_in_background(router).await;
        FakeCatalog { products, address }
    }

    /// Adds (or replaces) product number `n`, priced `amount_minor` in `currency`.
    pub fn put(&self, n: u128, amount_minor: i64, currency: &str) -> Product {
        let product = product(n, amount_minor, currency);
        self.products
            .lock()
            .unwrap()
            .insert(product.id, product.clone());
        product
    }

    pub fn delete(&self, id: Uuid) {
        self.products.lock().unwrap().remove(&id);
    }

    pub fn client(&self) -> CatalogClient {
        catalog_client(vec![self.address])
    }
}

async fn batch(
    State(products): State<Arc<Mutex<HashMap<Uuid, Product>>>>,
    Json(request): Json<ProductsByIds>,
) -> Json<ProductBatch> {
    let products = products.lock().unwrap();
    let mut answer = ProductBatch {
        items: Vec::new(),
        missing: Vec::new(),
    };
    for id in request.ids {
        match products.get(&id) {
            Some(product) => answer.items.push(product.clone()),
            None => answer.missing.push(id),
        }
    }
    Json(answer)
}

pub fn product(n: u128, amount_minor: i64, currency: &str) -> Product {
    Product {
        id: Uuid::from_u128(0x0c47_0000_0000_0000_0000_0000_0000_0000 + n),
        sku: format!("TST-{n:04}"),
        name: format!("Test product {n}"),
        description: "Made by a test.".into(),
        image_url: "/images/test.jpg".into(),
        ..catalog_api::testing::product(n, amount_minor, currency)
    }
}

/// A catalog client for the instances at `addresses`.
pub fn catalog_client(addresses: Vec<SocketAddr>) -> CatalogClient {
    CatalogClient::new(static_client("catalog", addresses))
}

/// A catalog client whose one instance refuses every connection: the catalog is down.
pub async fn dead_catalog() -> CatalogClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    catalog_client(vec![address])
}

/// `db` with the cart's schema.
pub async fn migrated(db: Db) -> cart::Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    cart::Store::new(db)
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(4).await.unwrap()
}

pub use brigade_chassis::testing::FakeFeed;

/// Sets product `n`'s quantity in the user's cart (priced n × 1 EUR).
pub async fn set(store: &Store, user: Uuid, n: u128, quantity: u32) -> StoredCart {
    let product = product(n, 100 * n as i64, "EUR");
    store
        .change(user, |lines, version| {
            lines::set_quantity(lines, &product, quantity, version)
        })
        .await
        .unwrap()
        .unwrap()
        .cart
}

/// Removes the line of product `product_id` from the user's cart through [`Store::change`].
pub async fn remove(store: &Store, user: Uuid, product_id: Uuid) -> Changed<()> {
    store
        .change(user, |lines, _| {
            lines::remove(lines, product_id);
            Ok::<_, RuleError>(())
        })
        .await
        .unwrap()
        .unwrap()
}

/// Empties the user's cart through [`Store::change`].
pub async fn clear(store: &Store, user: Uuid) -> Changed<()> {
    store
        .change(user, |lines, _| {
            lines.clear();
            Ok::<_, RuleError>(())
        })
        .await
        .unwrap()
        .unwrap()
}

/// Each line's SKU and quantity, in the cart's order.
pub fn quantities(cart: &StoredCart) -> Vec<(String, u32)> {
    cart.lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect()
}
