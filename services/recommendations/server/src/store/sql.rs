//! Every statement the store runs, with its values. Written once with `?` placeholders for both
//! backends (the chassis' `Query` numbers them for PostgreSQL): ids are text and counters are
//! integers on both, and every statement here is plain SQL that both engines read the same way.

use brigade_chassis::db::Query;

/// The columns every read answers, in this order: [`super::ItemRow`].
const ITEM_COLUMNS: &str = "p.product_id, p.sku, p.name, p.price_minor, p.currency, p.image_url";

/// Products bought together with one product, most often first; ties go to the more popular
/// (orders, then units), then to the smaller id. Only products whose facts are known. Every
/// co-purchased product has a popularity row: both are written by the same order's transaction.
pub(super) fn together_with_product(product_id: &str, limit: i64) -> Query {
    Query::new(&format!(
        "SELECT {ITEM_COLUMNS}, c.orders
     FROM co_purchases c
     JOIN products p ON p.product_id = c.other_id
     JOIN popularity pop ON pop.product_id = c.other_id
     WHERE c.product_id = ?
     ORDER BY c.orders DESC, pop.orders DESC, pop.units DESC, c.other_id
     LIMIT ?"
    ))
    .bind(product_id)
    .bind(limit)
}

/// Products bought together with anything the user bought, except what the user bought; the
/// score sums the co-purchase counts over the user's products. Order and ties as
/// [`together_with_product`].
pub(super) fn together_for_user(user_id: &str, limit: i64) -> Query {
    Query::new(&format!(
        "SELECT {ITEM_COLUMNS}, CAST(SUM(c.orders) AS BIGINT) AS score
     FROM user_purchases mine
     JOIN co_purchases c ON c.product_id = mine.product_id
     JOIN products p ON p.product_id = c.other_id
     JOIN popularity pop ON pop.product_id = c.other_id
     WHERE mine.user_id = ?
       AND NOT EXISTS (
           SELECT 1 FROM user_purchases bought
           WHERE bought.user_id = ? AND bought.product_id = c.other_id)
     GROUP BY p.product_id, p.sku, p.name, p.price_minor, p.currency, p.image_url,
              pop.orders, pop.units
     ORDER BY score DESC, pop.orders DESC, pop.units DESC, p.product_id
     LIMIT ?"
    ))
    .bind(user_id)
    .bind(user_id)
    .bind(limit)
}

/// The most bought products whose facts are known: orders, then units, then the smaller id.
pub(super) fn popular(limit: i64) -> Query {
    Query::new(&format!(
        "SELECT {ITEM_COLUMNS}, pop.orders
     FROM popularity pop
     JOIN products p ON p.product_id = pop.product_id
     ORDER BY pop.orders DESC, pop.units DESC, pop.product_id
     LIMIT ?"
    ))
    .bind(limit)
}

/// [`popular`] without what the user bought.
pub(super) fn popular_for_user(user_id: &str, limit: i64) -> Query {
    Query::new(&format!(
        "SELECT {ITEM_COLUMNS}, pop.orders
     FROM popularity pop
     JOIN products p ON p.product_id = pop.product_id
     WHERE NOT EXISTS (
         SELECT 1 FROM user_purchases bought
         WHERE bought.user_id = ? AND bought.product_id = pop.product_id)
     ORDER BY pop.orders DESC, pop.units DESC, pop.product_id
     LIMIT ?"
    ))
    .bind(user_id)
    .bind(limit)
}

/// Inserts or replaces a product's facts. Parameters: product id, sku, name, price (minor
/// units), currency, image URL, category.
pub(super) const UPSERT_PRODUCT: &str = "
    INSERT INTO products (product_id, sku, name, price_minor, currency, image_url, category)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (product_id) DO UPDATE SET
        sku = excluded.sku, name = excluded.name, price_minor = excluded.price_minor,
        currency = excluded.currency, image_url = excluded.image_url,
        category = excluded.category";

/// One order more, and its units, for each `(product id, units)`.
pub(super) fn count_popularity(products: &[(&String, i64)]) -> Query {
    let mut query = Query::new(&format!(
        "INSERT INTO popularity (product_id, orders, units) VALUES {}
         ON CONFLICT (product_id) DO UPDATE SET
             orders = popularity.orders + 1, units = popularity.units + excluded.units",
        values("(?, 1, ?)", products.len())
    ));
    for (id, units) in products {
        query = query.bind(*id).bind(*units);
    }
    query
}

/// One order more for each of `products` of a user.
pub(super) fn count_user_purchases(user_id: &str, products: &[(&String, i64)]) -> Query {
    let mut query = Query::new(&format!(
        "INSERT INTO user_purchases (user_id, product_id, orders) VALUES {}
         ON CONFLICT (user_id, product_id) DO UPDATE SET orders = user_purchases.orders + 1",
        values("(?, ?, 1)", products.len())
    ));
    for (id, _) in products {
        query = query.bind(user_id).bind(*id);
    }
    query
}

/// One order more for every ordered pair of distinct products among `products`. The pairs are made by the engine (a self-join), so an order of n products
/// binds n values rather than n × (n − 1) pairs. The ids must be distinct: an upsert may not
/// touch one row twice. (`WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the
/// insert, not to a join.)
pub(super) fn count_co_purchases(products: &[(&String, i64)]) -> Query {
    let mut query = Query::new(&format!(
        "WITH items (product_id) AS (VALUES {})
         INSERT INTO co_purchases (product_id, other_id, orders)
         SELECT a.product_id, b.product_id, 1
         FROM items a JOIN items b ON a.product_id <> b.product_id
         WHERE true
         ON CONFLICT (product_id, other_id) DO UPDATE SET orders = co_purchases.orders + 1",
        values("(?)", products.len())
    ));
    for (id, _) in products {
        query = query.bind(*id);
    }
    query
}

/// `row` `rows` times, comma-separated: the VALUES list of a statement built at run time. Only
/// placeholders ever go into the text; values travel beside it, in the [`Query`].
fn values(row: &str, rows: usize) -> String {
    vec![row; rows].join(", ")
}

#[cfg(test)]
mod tests {
    use brigade_chassis::db::Backend;

    use super::*;

    #[test]
    fn run_time_statements_have_one_placeholder_per_bind() {
        let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let products: Vec<(&String, i64)> = ids.iter().map(|id| (id, 1)).collect();
        let placeholders = |query: Query| query.sql(Backend::Sqlite).matches('?').count();
        assert_eq!(placeholders(count_popularity(&products)), 6);
        assert_eq!(placeholders(count_user_purchases("u", &products[..2])), 4);
        let pairs = count_co_purchases(&products).sql(Backend::Postgres);
        assert!(pairs.contains("VALUES ($1), ($2), ($3)"), "{pairs}");
    }
}
