//! Writing the model, from events, inside the transaction that records the event as applied
//! (the [`Conn`] the chassis' inbox hands to the handler).

use std::collections::BTreeMap;

use brigade_chassis::db::{Conn, Query};
use catalog_api::Product;
use orders_api::events::OrderConfirmed;

use super::sql;
use super::Error;

/// The most distinct products of one order whose pairs are counted as co-purchases. A larger
/// order (a bulk purchase, far above the cart's 50 lines) says little about what goes together
/// and would cost n × (n − 1) rows: its products still count as popular and as the user's.
pub const MAX_PAIRED_PRODUCTS: usize = 100;

/// The most rows one run-time statement inserts, well within both engines' limits on binds.
const ROWS_PER_STATEMENT: usize = 500;

/// Inserts or replaces what the catalog says about `product`: the facts a recommendation shows.
pub async fn record_product(conn: Conn<'_>, product: &Product) -> Result<(), Error> {
    Query::new(sql::UPSERT_PRODUCT)
        .bind(product.id)
        .bind(&product.sku)
        .bind(&product.name)
        .bind(product.price.amount_minor)
        .bind(&product.price.currency)
        .bind(&product.image_url)
        .bind(&product.category)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts a confirmed order: for each distinct product, one order and its units (summed over
/// the order's lines); for each ordered pair of distinct products, one co-purchase (both
/// directions); for the user, one purchase of each product. Products whose facts are not known
/// yet count all the same: they become recommendable when their facts arrive.
pub async fn record_order(mut conn: Conn<'_>, order: &OrderConfirmed) -> Result<(), Error> {
    let mut units: BTreeMap<String, i64> = BTreeMap::new();
    for line in &order.lines {
        *units.entry(line.product_id.to_string()).or_default() += i64::from(line.quantity);
    }
    let products: Vec<(&String, i64)> = units.iter().map(|(id, n)| (id, *n)).collect();
    for chunk in products.chunks(ROWS_PER_STATEMENT) {
        sql::count_popularity(chunk).execute(&mut conn).await?;
    }
    let user = order.user_id.to_string();
    for chunk in products.chunks(ROWS_PER_STATEMENT) {
        sql::count_user_purchases(&user, chunk)
            .execute(&mut conn)
            .await?;
    }
    if (2..=MAX_PAIRED_PRODUCTS).contains(&products.len()) {
        sql::count_co_purchases(&products)
            .execute(&mut conn)
            .await?;
    } else if products.len() > MAX_PAIRED_PRODUCTS {
        tracing::info!(
            order = %order.order_id,
            products = products.len(),
            "order too large to count as co-purchases; counted as popularity only"
        );
    }
    Ok(())
}
