//! Pricing a cart for an order: every line at the catalog's current price, never the cart's.

use std::collections::HashMap;

use catalog_api::{Money, ProductBatch};
use orders_api::OrderLine;
use uuid::Uuid;

use crate::saga::CartItem;

/// Why a cart cannot become an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the cart is empty")]
    Empty,
    #[error("products no longer sold: {0:?}")]
    Unavailable(Vec<Uuid>),
    #[error("the cart's products are priced in several currencies: {0:?}")]
    MixedCurrencies(Vec<String>),
    #[error("the total is too large")]
    Overflow,
}

/// The order's lines and total, from the cart's items and the catalog's answer for them.
pub fn price(
    items: &[CartItem],
    catalog: &ProductBatch,
) -> Result<(Vec<OrderLine>, Money), PricingError> {
    if items.is_empty() {
        return Err(PricingError::Empty);
    }
    let products: HashMap<Uuid, _> = catalog.items.iter().map(|p| (p.id, p)).collect();
    let missing: Vec<Uuid> = items
        .iter()
        .map(|i| i.product_id)
        .filter(|id| !products.contains_key(id))
        .collect();
    if !missing.is_empty() {
        return Err(PricingError::Unavailable(missing));
    }
    let mut currencies: Vec<String> = items
        .iter()
        .filter_map(|i| products.get(&i.product_id))
        .map(|p| p.price.currency.clone())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    let [currency] = currencies.as_slice() else {
        return Err(PricingError::MixedCurrencies(currencies));
    };
    let mut lines = Vec::with_capacity(items.len());
    let mut total: i64 = 0;
    for item in items {
        let Some(product) = products.get(&item.product_id) else {
            return Err(PricingError::Unavailable(vec![item.product_id]));
        };
        let line_total = product
            .price
            .amount_minor
            .checked_mul(i64::from(item.quantity))
            .ok_or(PricingError::Overflow)?;
        total = total
            .checked_add(line_total)
            .ok_or(PricingError::Overflow)?;
        lines.push(OrderLine {
            product_id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            unit_price: product.price.clone(),
            quantity: item.quantity,
            line_total: Money {
                amount_minor: line_total,
                currency: currency.clone(),
            },
        });
    }
    Ok((
        lines,
        Money {
            amount_minor: total,
            currency: currency.clone(),
        },
    ))
}
