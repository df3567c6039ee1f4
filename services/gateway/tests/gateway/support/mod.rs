//! What the gateway's test files share: real catalog and recommendations instances started the
//! way `main` starts them, the recommendations store filled through the service's own event
//! handlers (as orders' and the catalog's events would fill it), and a GET over a real socket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use std::path::Path;

use brigade_chassis::db::{migrate, Db, PoolOptions};
use brigade_chassis::events::{Envelope, Inbox};
use brigade_chassis::testing::{fetch_json, Instance, JsonAnswer};
use catalog_api::events::ProductChanged;
use catalog_api::Product;
use orders_api::events::OrderConfirmed;
use orders_api::OrderLine;
use uuid::Uuid;

/// A catalog instance over its own SQLite store in `dir`, with the sample catalog.
pub async fn start_catalog(dir: &Path) -> Instance {
    let url = format!("sqlite://{}", dir.join("catalog.db").display());
    Instance::start::<catalog::Catalog>(&["--database-url", &url]).await
}

/// A currency instance over its own SQLite store in `dir`, with the sample rates.
pub async fn start_currency(dir: &Path) -> Instance {
    let url = format!("sqlite://{}", dir.join("currency.db").display());
    Instance::start::<currency::Currency>(&["--database-url", &url]).await
}

/// A recommendations instance over its own SQLite store in `dir`, which knows `products` and
/// the confirmed `orders`.
pub async fn start_recommendations(
    dir: &Path,
    products: &[Product],
    orders: &[OrderConfirmed],
) -> Instance {
    let url = format!("sqlite://{}", dir.join("recommendations.db").display());
    fill_recommendations(&url, products, orders).await;
    Instance::start::<recommendations::Recommendations>(&["--database-url", &url]).await
}

/// Applies a `ProductChanged` for each product and each order to the store at `url`.
async fn fill_recommendations(url: &str, products: &[Product], orders: &[OrderConfirmed]) {
    let db = Db::connect(url, &PoolOptions::default()).await.unwrap();
    migrate(&db, recommendations::MIGRATIONS).await.unwrap();
    let inbox = Inbox::new(db.clone());
    let catalog = recommendations::events::catalog();
    for product in products {
        let changed = ProductChanged {
            product: product.clone(),
        };
        let event = Envelope::of(&changed, 1).unwrap();
        inbox.apply(&catalog, &event, None).await.unwrap();
    }
    let orders_events = recommendations::events::orders();
    for order in orders {
        let event = Envelope::of(order, 1).unwrap();
        inbox.apply(&orders_events, &event, None).await.unwrap();
    }
    db.close().await;
}

/// An order by `user` of one unit of each product, confirmed.
pub fn confirmed(user: Uuid, products: &[&Product]) -> OrderConfirmed {
    let total = products[0].price.clone();
    OrderConfirmed {
        order_id: Uuid::new_v4(),
        user_id: user,
        lines: products
            .iter()
            .map(|product| OrderLine {
                product_id: product.id,
                sku: product.sku.clone(),
                name: product.name.clone(),
                unit_price: product.price.clone(),
                quantity: 1,
                line_total: product.price.clone(),
            })
            .collect(),
        total,
        charge_id: None,
        shipping_country: None,
        cart_version: None,
    }
}

/// GET `path` from the instance at `base` over a real socket, read as JSON.
pub async fn get(base: &str, path: &str) -> JsonAnswer {
    let request = http::Request::get(format!("{base}{path}"))
        .body(Default::default())
        .unwrap();
    fetch_json(request).await
}
