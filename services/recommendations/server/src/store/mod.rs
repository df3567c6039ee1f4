//! The recommendations model on SQLite or PostgreSQL: product facts, popularity, co-purchases
//! and what each user bought.
//!
//! Writes come only from events ([`record_order`], [`record_product`]), inside the transaction in which the chassis
//! records the event as applied, so that a delivery repeated after a crash never counts an order
//! twice. Reads ([`Store::for_product`], [`Store::for_user`]) rank co-purchases first and fill
//! the rest with popular products; only products whose facts the catalog announced are shown.

mod record;
mod sql;

use std::collections::HashSet;

use brigade_chassis::db::Db;
use catalog_api::Money;
use recommendations_api::{Reason, Recommendation, Recommendations};
use uuid::Uuid;

pub use record::{record_order, record_product, MAX_PAIRED_PRODUCTS};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// What every read answers: `product_id, sku, name, price_minor, currency, image_url, score`.
type ItemRow = (String, String, String, i64, String, String, i64);

/// The model. Cheap to clone: it is a pool handle.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// `db` must have [`crate::MIGRATIONS`] applied.
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    /// Up to `limit` products to show with `product_id`: those most often bought together with
    /// it, then the most popular ones; never the product itself. A product never heard of gets
    /// the popular ones (it may be new).
    pub async fn for_product(
        &self,
        product_id: Uuid,
        limit: u32,
    ) -> Result<Recommendations, Error> {
        let id = product_id.to_string();
        let together: Vec<ItemRow> = sql::together_with_product(&id, i64::from(limit))
            .fetch_all(&self.db)
            .await?;
        let popular: Vec<ItemRow> = if together.len() < limit as usize {
            // Enough to fill the list even if every listed product and the product itself are
            // among the most popular.
            let wanted = i64::from(limit) + together.len() as i64 + 1;
            sql::popular(wanted).fetch_all(&self.db).await?
        } else {
            Vec::new()
        };
        assemble(together, popular, Some(&id), limit)
    }

    /// Up to `limit` products to show to `user_id`: those bought together with what the user
    /// bought, then the most popular ones; never one the user bought.
    pub async fn for_user(&self, user_id: Uuid, limit: u32) -> Result<Recommendations, Error> {
        let user = user_id.to_string();
        let together: Vec<ItemRow> = sql::together_for_user(&user, i64::from(limit))
            .fetch_all(&self.db)
            .await?;
        let popular: Vec<ItemRow> = if together.len() < limit as usize {
            let wanted = i64::from(limit) + together.len() as i64;
            sql::popular_for_user(&user, wanted)
                .fetch_all(&self.db)
                .await?
        } else {
            Vec::new()
        };
        assemble(together, popular, None, limit)
    }
}

/// The answer: the co-purchased products in their order, then popular ones not already listed
/// (nor `excluded`), up to `limit`.
fn assemble(
    together: Vec<ItemRow>,
    popular: Vec<ItemRow>,
    excluded: Option<&str>,
    limit: u32,
) -> Result<Recommendations, Error> {
    let limit = limit as usize;
    let mut listed: HashSet<String> = HashSet::new();
    let mut items = Vec::with_capacity(limit);
    let tagged = together
        .into_iter()
        .map(|row| (row, Reason::BoughtTogether))
        .chain(popular.into_iter().map(|row| (row, Reason::Popular)));
    for (row, reason) in tagged {
        if items.len() == limit {
            break;
        }
        if excluded == Some(row.0.as_str()) || !listed.insert(row.0.clone()) {
            continue;
        }
        items.push(item(row, reason)?);
    }
    let fallback = !items.iter().any(|i| i.reason == Reason::BoughtTogether);
    Ok(Recommendations { items, fallback })
}

fn item(row: ItemRow, reason: Reason) -> Result<Recommendation, Error> {
    let (product_id, sku, name, amount_minor, currency, image_url, score) = row;
    let corrupt = |reason: String| Error::corrupt(format!("product {product_id}"), reason);
    Ok(Recommendation {
        product_id: Uuid::parse_str(&product_id)
            .map_err(|e| corrupt(format!("the id is not a UUID: {e}")))?,
        sku,
        name,
        price: Money {
            amount_minor,
            currency,
        },
        image_url,
        reason,
        score: u64::try_from(score)
            .map_err(|_| corrupt(format!("its count {score} is negative")))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u128, score: i64) -> ItemRow {
        (
            Uuid::from_u128(n).to_string(),
            format!("SKU-{n}"),
            format!("Product {n}"),
            100,
            "EUR".to_owned(),
            "/images/p.jpg".to_owned(),
            score,
        )
    }

    fn ids(answer: &Recommendations) -> Vec<(u128, Reason)> {
        answer
            .items
            .iter()
            .map(|i| (i.product_id.as_u128(), i.reason))
            .collect()
    }

    #[test]
    fn co_purchases_come_first_then_popular_ones_not_listed_nor_excluded() {
        let excluded = Uuid::from_u128(1).to_string();
        let answer = assemble(
            vec![row(2, 5), row(3, 1)],
            vec![row(1, 9), row(3, 8), row(4, 7), row(5, 6), row(6, 5)],
            Some(&excluded),
            4,
        )
        .ok();
        assert_eq!(
            answer.as_ref().map(ids),
            Some(vec![
                (2, Reason::BoughtTogether),
                (3, Reason::BoughtTogether),
                (4, Reason::Popular),
                (5, Reason::Popular),
            ])
        );
        assert_eq!(answer.map(|a| a.fallback), Some(false));
    }

    #[test]
    fn without_co_purchases_the_answer_is_a_fallback() {
        let answer = assemble(Vec::new(), vec![row(4, 7)], None, 4).ok();
        assert_eq!(answer.as_ref().map(ids), Some(vec![(4, Reason::Popular)]));
        assert_eq!(answer.map(|a| a.fallback), Some(true));
        let nothing = assemble(Vec::new(), Vec::new(), None, 4).ok();
        assert_eq!(
            nothing.map(|a| (a.items.is_empty(), a.fallback)),
            Some((true, true))
        );
    }

    #[test]
    fn an_unreadable_row_is_an_error_not_a_guess() {
        let mut bad = row(1, 1);
        bad.0 = "not-a-uuid".to_owned();
        assert!(matches!(
            assemble(vec![bad], Vec::new(), None, 4),
            Err(Error::Corrupt { .. })
        ));
        assert!(assemble(vec![row(1, -1)], Vec::new(), None, 4).is_err());
    }
}
