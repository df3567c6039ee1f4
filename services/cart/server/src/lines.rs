//! The cart's rules, on lines in memory: re-pricing from the catalog, setting a quantity,
//! removing, and what a change writes. No I/O here: the store runs these inside its transaction,
//! on the lines as they are at that moment, so that concurrent changes compose instead of one
//! overwriting another.

use std::collections::HashMap;

use cart_api::{Cart, CartLine, Money, EMPTY_CART_CURRENCY, MAX_LINES};
use catalog_api::{Product, ProductBatch};
use uuid::Uuid;

/// A product in a cart, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
    /// The cart's version when the product was first added; lines are shown in this order.
    pub added_version: i64,
    /// The cart's version when the shopper last changed the quantity (0 for lines set before
    /// the cart kept it). A confirmed order takes nothing from a line set after the cart
    /// version it was priced from: that quantity is what the shopper chose after checking out.
    pub set_version: i64,
}

impl Line {
    /// Takes the catalog's sku, name and price.
    fn price_from(&mut self, product: &Product) {
        self.sku.clone_from(&product.sku);
        self.name.clone_from(&product.name);
        self.unit_price = product.price.clone();
    }
}

/// A cart as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCart {
    /// 0 for a cart never changed.
    pub version: i64,
    pub updated_at_ms: i64,
    /// In the order shown.
    pub lines: Vec<Line>,
}

impl StoredCart {
    pub fn empty() -> StoredCart {
        StoredCart {
            version: 0,
            updated_at_ms: 0,
            lines: Vec::new(),
        }
    }

    pub fn product_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|l| l.product_id).collect()
    }
}

/// Why a change breaks a rule of the cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the cart already holds {MAX_LINES} products, the most it may")]
    CartFull,
    #[error("the cart's prices are in {cart}, the product's in {product}")]
    CurrencyMismatch { cart: String, product: String },
}

/// What re-pricing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repricing {
    /// Products dropped because the catalog no longer has them.
    pub removed: Vec<Uuid>,
    /// False when the prices could not be confirmed.
    pub current: bool,
}

impl Repricing {
    /// Nothing re-priced: the catalog could not be asked.
    pub fn stale() -> Repricing {
        Repricing {
            removed: Vec::new(),
            current: false,
        }
    }
}

/// Gives every line the catalog's current sku, name and price, and drops the lines whose product
/// the catalog reports missing. Lines `batch` does not mention (added by a concurrent request
/// after the catalog was asked) were priced when they were added and are left as they are.
///
/// Should the new prices mix currencies (the catalog moved one product to another currency), the
/// old prices are kept and the answer says they are not current: a cart's total needs one
/// currency, and guessing an exchange rate is not the cart's job.
pub fn reprice(lines: &mut Vec<Line>, batch: &ProductBatch) -> Repricing {
    let removed: Vec<Uuid> = lines
        .iter()
        .map(|l| l.product_id)
        .filter(|id| batch.missing.contains(id))
        .collect();
    lines.retain(|l| !removed.contains(&l.product_id));
    let products: HashMap<Uuid, &Product> = batch.items.iter().map(|p| (p.id, p)).collect();
    let mut repriced = lines.clone();
    for line in &mut repriced {
        if let Some(product) = products.get(&line.product_id) {
            line.price_from(product);
        }
    }
    let current = single_currency(&repriced);
    if current {
        *lines = repriced;
    } else {
        tracing::warn!(
            "the catalog prices a cart's products in several currencies; keeping the stored prices"
        );
    }
    Repricing { removed, current }
}

fn single_currency(lines: &[Line]) -> bool {
    lines
        .windows(2)
        .all(|w| w[0].unit_price.currency == w[1].unit_price.currency)
}

/// Adds `product` with `quantity`, or sets its line's quantity and price. `version` is the
/// version the change makes, which orders a new line after the others.
pub fn set_quantity(
    lines: &mut Vec<Line>,
    product: &Product,
    quantity: u32,
    version: i64,
) -> Result<(), RuleError> {
    if let Some(other) = lines
        .iter()
        .find(|l| l.product_id != product.id && l.unit_price.currency != product.price.currency)
    {
        return Err(RuleError::CurrencyMismatch {
            cart: other.unit_price.currency.clone(),
            product: product.price.currency.clone(),
        });
    }
    let full = lines.len() >= MAX_LINES;
    match lines.iter_mut().find(|l| l.product_id == product.id) {
        Some(line) => {
            line.price_from(product);
            // The same quantity again is no change (a repeated PUT changes nothing).
            if line.quantity != quantity {
                line.quantity = quantity;
                line.set_version = version;
            }
        }
        None if full => return Err(RuleError::CartFull),
        None => lines.push(Line {
            product_id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            unit_price: product.price.clone(),
            quantity,
            added_version: version,
            set_version: version,
        }),
    }
    Ok(())
}

/// Removes the product's line, if there is one.
pub fn remove(lines: &mut Vec<Line>, product_id: Uuid) {
    lines.retain(|l| l.product_id != product_id);
}

/// Takes what a confirmed order bought out of the cart: each ordered product's quantity goes
/// down by the quantity ordered, and its line goes when none is left. What the shopper added
/// after checking out stays: other products' lines, units of an ordered product beyond the
/// ordered quantity, and any line added or changed after `priced_at` — the cart version the
/// order was priced from — whole: the shopper emptied the cart and added the product again, or
/// asked for another quantity. Without `priced_at` (an order from before orders recorded it)
/// every line counts as priced.
pub fn take_ordered(lines: &mut Vec<Line>, ordered: &[(Uuid, u32)], priced_at: Option<i64>) {
    let priced = |line: &Line| priced_at.is_none_or(|v| line.set_version <= v);
    for &(product_id, quantity) in ordered {
        if let Some(line) = lines
            .iter_mut()
            .find(|l| l.product_id == product_id && priced(l))
        {
            line.quantity = line.quantity.saturating_sub(quantity);
        }
    }
    lines.retain(|l| l.quantity > 0);
}

/// What turns `before` into `after`: the products whose lines go, and the lines to insert or
/// update. Empty when nothing changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff<'a> {
    pub deleted: Vec<Uuid>,
    pub written: Vec<&'a Line>,
}

impl Diff<'_> {
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty() && self.written.is_empty()
    }
}

pub fn diff<'a>(before: &[Line], after: &'a [Line]) -> Diff<'a> {
    let old: HashMap<Uuid, &Line> = before.iter().map(|l| (l.product_id, l)).collect();
    let deleted = before
        .iter()
        .map(|l| l.product_id)
        .filter(|id| !after.iter().any(|l| l.product_id == *id))
        .collect();
    let written = after
        .iter()
        .filter(|l| old.get(&l.product_id) != Some(l))
        .collect();
    Diff { deleted, written }
}

/// The cart as answered.
pub fn to_wire(user_id: Uuid, cart: &StoredCart, repricing: Repricing) -> Cart {
    let currency = cart
        .lines
        .first()
        .map_or(EMPTY_CART_CURRENCY, |l| l.unit_price.currency.as_str())
        .to_owned();
    let lines: Vec<CartLine> = cart
        .lines
        .iter()
        .map(|line| CartLine {
            product_id: line.product_id,
            sku: line.sku.clone(),
            name: line.name.clone(),
            unit_price: line.unit_price.clone(),
            quantity: line.quantity,
            line_total: Money {
                // At most 99 × a catalog price: far from i64's range; saturating keeps the
                // arithmetic total all the same.
                amount_minor: line
                    .unit_price
                    .amount_minor
                    .saturating_mul(i64::from(line.quantity)),
                currency: line.unit_price.currency.clone(),
            },
        })
        .collect();
    Cart {
        user_id,
        total: Money {
            amount_minor: lines
                .iter()
                .fold(0i64, |sum, l| sum.saturating_add(l.line_total.amount_minor)),
            currency,
        },
        item_count: lines.iter().map(|l| l.quantity).sum(),
        lines,
        version: u64::try_from(cart.version).unwrap_or(0),
        updated_at_ms: u64::try_from(cart.updated_at_ms).unwrap_or(0),
        prices_current: repricing.current,
        removed: repricing.removed,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use catalog_api::testing::product;

    use super::*;

    /// Products 1, 2 and 3, at 1, 2 and 3 euros.
    fn three_products() -> (Product, Product, Product) {
        (
            product(1, 100, "EUR"),
            product(2, 200, "EUR"),
            product(3, 300, "EUR"),
        )
    }

    fn cart_of(products: &[&Product]) -> Vec<Line> {
        let mut lines = Vec::new();
        for (i, p) in products.iter().enumerate() {
            set_quantity(&mut lines, p, 1, i as i64 + 1).unwrap();
        }
        lines
    }

    #[test]
    fn setting_adds_then_changes_a_line_in_place() {
        let (a, b) = (product(1, 100, "EUR"), product(2, 250, "EUR"));
        let mut lines = cart_of(&[&a, &b]);
        set_quantity(&mut lines, &a, 3, 9).unwrap();
        assert_eq!(lines[0].product_id, a.id);
        assert_eq!((lines[0].quantity, lines[0].added_version), (3, 1));
        let cart = StoredCart {
            version: 3,
            updated_at_ms: 5,
            lines,
        };
        let wire = to_wire(Uuid::from_u128(9), &cart, Repricing::stale());
        assert_eq!(wire.total.amount_minor, 550);
        assert_eq!(wire.item_count, 4);
        assert_eq!(wire.lines[0].line_total.amount_minor, 300);
        assert!(!wire.prices_current);
    }

    #[test]
    fn a_full_cart_takes_no_new_product_but_changes_its_own() {
        let products: Vec<Product> = (0..MAX_LINES as u128)
            .map(|n| product(n, 1, "EUR"))
            .collect();
        let mut lines = cart_of(&products.iter().collect::<Vec<_>>());
        let extra = product(1000, 1, "EUR");
        assert_eq!(
            set_quantity(&mut lines, &extra, 1, 99),
            Err(RuleError::CartFull)
        );
        assert!(set_quantity(&mut lines, &products[7], 5, 99).is_ok());
    }

    #[test]
    fn another_currency_is_refused_unless_it_replaces_the_only_line() {
        let eur = product(1, 100, "EUR");
        let mut lines = cart_of(&[&eur]);
        let usd = product(2, 100, "USD");
        assert_eq!(
            set_quantity(&mut lines, &usd, 1, 2),
            Err(RuleError::CurrencyMismatch {
                cart: "EUR".into(),
                product: "USD".into()
            })
        );
        let eur_now_usd = product(1, 90, "USD");
        assert!(set_quantity(&mut lines, &eur_now_usd, 1, 2).is_ok());
    }

    #[test]
    fn repricing_takes_new_prices_and_drops_missing_products() {
        let (a, b, c) = three_products();
        let mut lines = cart_of(&[&a, &b, &c]);
        let mut cheaper = a.clone();
        cheaper.price.amount_minor = 80;
        cheaper.name = "Renamed".into();
        let batch = ProductBatch {
            items: vec![cheaper],
            missing: vec![b.id],
        };
        let repricing = reprice(&mut lines, &batch);
        assert_eq!(repricing.removed, vec![b.id]);
        assert!(repricing.current);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].unit_price.amount_minor, lines[0].name.as_str()),
            (80, "Renamed")
        );
        // Not in the batch: left as it was.
        assert_eq!(lines[1].unit_price.amount_minor, 300);
    }

    #[test]
    fn repricing_into_mixed_currencies_keeps_the_stored_prices() {
        let (a, b) = (product(1, 100, "EUR"), product(2, 200, "EUR"));
        let mut lines = cart_of(&[&a, &b]);
        let before = lines.clone();
        let batch = ProductBatch {
            items: vec![product(1, 100, "USD"), b.clone()],
            missing: vec![],
        };
        let repricing = reprice(&mut lines, &batch);
        assert!(!repricing.current);
        assert_eq!(lines, before);
    }

    #[test]
    fn the_diff_names_exactly_what_changed() {
        let (a, b, c) = three_products();
        let before = cart_of(&[&a, &b]);
        assert!(diff(&before, &before).is_empty());
        let mut after = before.clone();
        remove(&mut after, a.id);
        set_quantity(&mut after, &b, 2, 3).unwrap();
        set_quantity(&mut after, &c, 1, 3).unwrap();
        let changes = diff(&before, &after);
        assert_eq!(changes.deleted, vec![a.id]);
        assert_eq!(
            changes
                .written
                .iter()
                .map(|l| l.product_id)
                .collect::<Vec<_>>(),
            vec![b.id, c.id]
        );
    }

    #[test]
    fn an_order_takes_its_quantities_and_leaves_the_rest() {
        let (a, b, c) = three_products();
        let mut lines = cart_of(&[&a, &b, &c]);
        set_quantity(&mut lines, &a, 5, 1).unwrap();
        set_quantity(&mut lines, &b, 2, 2).unwrap();
        // 2 of a (of 5), all of b, more of c than the cart holds now, and a product it lacks.
        let ordered = [(a.id, 2), (b.id, 2), (c.id, 4), (Uuid::from_u128(99), 1)];
        take_ordered(&mut lines, &ordered, Some(3));
        let left: Vec<(Uuid, u32)> = lines.iter().map(|l| (l.product_id, l.quantity)).collect();
        assert_eq!(left, vec![(a.id, 3)]);
        assert_eq!(lines[0].added_version, 1);
        let mut none = Vec::new();
        take_ordered(&mut none, &ordered, Some(3));
        assert!(none.is_empty());
    }

    #[test]
    fn an_order_leaves_what_was_set_after_its_cart_was_read() {
        let (a, b, c) = three_products();
        // Checked out at version 3 with one of each; then removed a and, at 5, added it back
        // (the same quantity), and at 6 asked for 2 of b; at 7, 1 of c again, which is no change.
        let mut lines = cart_of(&[&a, &b, &c]);
        remove(&mut lines, a.id);
        set_quantity(&mut lines, &a, 1, 5).unwrap();
        set_quantity(&mut lines, &b, 2, 6).unwrap();
        set_quantity(&mut lines, &c, 1, 7).unwrap();
        let ordered = [(a.id, 1), (b.id, 1), (c.id, 1)];
        let mut after = lines.clone();
        take_ordered(&mut after, &ordered, Some(3));
        let left: Vec<(Uuid, u32)> = after.iter().map(|l| (l.product_id, l.quantity)).collect();
        assert_eq!(left, vec![(b.id, 2), (a.id, 1)]);
        // An order that does not say which version it was priced from takes from every line.
        take_ordered(&mut lines, &ordered, None);
        let left: Vec<(Uuid, u32)> = lines.iter().map(|l| (l.product_id, l.quantity)).collect();
        assert_eq!(left, vec![(b.id, 1)]);
        assert_eq!(lines[0].set_version, 6);
    }

    #[test]
    fn an_empty_cart_totals_zero() {
        let wire = to_wire(
            Uuid::nil(),
            &StoredCart::empty(),
            Repricing {
                removed: vec![],
                current: true,
            },
        );
        assert_eq!(wire.total.amount_minor, 0);
        assert_eq!(wire.total.currency, EMPTY_CART_CURRENCY);
        assert_eq!((wire.item_count, wire.version), (0, 0));
    }
}
