//! Every statement the store runs. Written once with `?` placeholders for both backends (the
//! chassis' `on_db!`/`on_conn!` number them for PostgreSQL): ids are text and counters are
//! integers on both, and every statement here is plain SQL that both engines read the same way.

use brigade_chassis::db::{numbered, Conn};

/// The columns every read answers, in this order: [`super::ItemRow`].
macro_rules! item_columns {
    () => {
        "p.product_id, p.sku, p.name, p.price_minor, p.currency, p.image_url"
    };
}

/// Products bought together with one product, most often first; ties go to the more popular
/// (orders, then units), then to the smaller id. Only products whose facts are known. Every
/// co-purchased product has a popularity row: both are written by the same order's transaction.
/// Parameters: product id, limit.
pub(super) const TOGETHER_WITH_PRODUCT: &str = concat!(
    "SELECT ",
    item_columns!(),
    ", c.orders
     FROM co_purchases c
     JOIN products p ON p.product_id = c.other_id
     JOIN popularity pop ON pop.product_id = c.other_id
     WHERE c.product_id = ?
     ORDER BY c.orders DESC, pop.orders DESC, pop.units DESC, c.other_id
     LIMIT ?"
);

/// Products bought together with anything the user bought, except what the user bought; the
/// score sums the co-purchase counts over the user's products. Order and ties as
/// [`TOGETHER_WITH_PRODUCT`]. Parameters: user id, user id, limit.
pub(super) const TOGETHER_FOR_USER: &str = concat!(
    "SELECT ",
    item_columns!(),
    ", CAST(SUM(c.orders) AS BIGINT) AS score
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
);

/// The most bought products whose facts are known: orders, then units, then the smaller id.
/// Parameters: limit.
pub(super) const POPULAR: &str = concat!(
    "SELECT ",
    item_columns!(),
    ", pop.orders
     FROM popularity pop
     JOIN products p ON p.product_id = pop.product_id
     ORDER BY pop.orders DESC, pop.units DESC, pop.product_id
     LIMIT ?"
);

/// [`POPULAR`] without what the user bought. Parameters: user id, limit.
pub(super) const POPULAR_FOR_USER: &str = concat!(
    "SELECT ",
    item_columns!(),
    ", pop.orders
     FROM popularity pop
     JOIN products p ON p.product_id = pop.product_id
     WHERE NOT EXISTS (
         SELECT 1 FROM user_purchases bought
         WHERE bought.user_id = ? AND bought.product_id = pop.product_id)
     ORDER BY pop.orders DESC, pop.units DESC, pop.product_id
     LIMIT ?"
);

/// Inserts or replaces a product's facts. Parameters: product id, sku, name, price (minor
/// units), currency, image URL, category.
pub(super) const UPSERT_PRODUCT: &str = "
    INSERT INTO products (product_id, sku, name, price_minor, currency, image_url, category)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (product_id) DO UPDATE SET
        sku = excluded.sku, name = excluded.name, price_minor = excluded.price_minor,
        currency = excluded.currency, image_url = excluded.image_url,
        category = excluded.category";

/// One order more, and its units, for each of `rows` products; rows `(?, 1, ?)`: product id,
/// units.
pub(super) fn count_popularity(rows: usize) -> String {
    format!(
        "INSERT INTO popularity (product_id, orders, units) VALUES {}
         ON CONFLICT (product_id) DO UPDATE SET
             orders = popularity.orders + 1, units = popularity.units + excluded.units",
        values("(?, 1, ?)", rows)
    )
}

/// One order more for each of `rows` products of a user; rows `(?, ?, 1)`: user id, product id.
pub(super) fn count_user_purchases(rows: usize) -> String {
    format!(
        "INSERT INTO user_purchases (user_id, product_id, orders) VALUES {}
         ON CONFLICT (user_id, product_id) DO UPDATE SET orders = user_purchases.orders + 1",
        values("(?, ?, 1)", rows)
    )
}

/// One order more for every ordered pair of distinct products among `products` products; rows
/// `(?)`: product id. The pairs are made by the engine (a self-join), so an order of n products
/// binds n values rather than n × (n − 1) pairs. The ids must be distinct: an upsert may not
/// touch one row twice. (`WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the
/// insert, not to a join.)
pub(super) fn count_co_purchases(products: usize) -> String {
    format!(
        "WITH items (product_id) AS (VALUES {})
         INSERT INTO co_purchases (product_id, other_id, orders)
         SELECT a.product_id, b.product_id, 1
         FROM items a JOIN items b ON a.product_id <> b.product_id
         WHERE true
         ON CONFLICT (product_id, other_id) DO UPDATE SET orders = co_purchases.orders + 1",
        values("(?)", products)
    )
}

/// `row` `rows` times, comma-separated: the VALUES list of a statement built at run time. Only
/// placeholders ever go into the text; values travel as [`Bind`]s.
fn values(row: &str, rows: usize) -> String {
    vec![row; rows].join(", ")
}

/// A value bound to a statement built at run time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

/// Runs a statement built at run time (a VALUES list as long as an order), which the chassis
/// macros, made for a fixed list of binds, cannot. Returns the number of rows changed.
pub(super) async fn execute(
    conn: Conn<'_>,
    sql: &str,
    binds: &[Bind<'_>],
) -> Result<u64, sqlx::Error> {
    match conn {
        Conn::Sqlite(c) => {
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = match *bind {
                    Bind::Text(text) => query.bind(text),
                    Bind::Int(int) => query.bind(int),
                };
            }
            Ok(query.execute(&mut *c).await?.rows_affected())
        }
        Conn::Postgres(c) => {
            let sql = numbered(sql);
            let mut query = sqlx::query(&sql);
            for bind in binds {
                query = match *bind {
                    Bind::Text(text) => query.bind(text),
                    Bind::Int(int) => query.bind(int),
                };
            }
            Ok(query.execute(&mut *c).await?.rows_affected())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_statements_have_one_placeholder_per_bind() {
        assert_eq!(count_popularity(3).matches('?').count(), 6);
        assert_eq!(count_user_purchases(2).matches('?').count(), 4);
        let pairs = count_co_purchases(3);
        assert_eq!(pairs.matches('?').count(), 3);
        assert!(
            numbered(&pairs).contains("VALUES ($1), ($2), ($3)"),
            "{pairs}"
        );
    }
}
