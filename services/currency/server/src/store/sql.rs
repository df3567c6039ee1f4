//! Every statement the store runs, written once with `?` placeholders for both engines (the
//! chassis' `Query` numbers them for PostgreSQL).

use brigade_chassis::db::{Query, Tx};
use currency_api::Currency;

/// The PostgreSQL advisory lock that serialises writers of the table. Each service has its own
/// database, so a fixed key cannot collide with another service's.
pub(super) const WRITE_LOCK_KEY: i64 = 4_217_001;

/// What the reads answer: the table's date, then a currency's code, name, exponent and rate
/// (10⁻⁸ units); the currency's columns are empty when no currency matched.
pub(super) type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The table's date joined to the currencies that match `on`, by code: one statement, so that
/// the date and the rates come from the same committed table.
fn rates_where(on: &str) -> Query {
    Query::new(&format!(
        "SELECT t.effective_date, r.code, r.name, CAST(r.exponent AS BIGINT), r.rate_e8
         FROM rate_tables t LEFT JOIN rates r ON {on}
         ORDER BY r.code"
    ))
}

/// Every currency of the table in force.
pub(super) fn every_rate() -> Query {
    rates_where("r.code IS NOT NULL")
}

/// The currencies `from` and `to`, those of them that are supported.
pub(super) fn rates_of(from: &str, to: &str) -> Query {
    rates_where("r.code IN (?, ?)").bind(from).bind(to)
}

/// The date of the table in force, if there is one.
pub(super) fn table_date() -> Query {
    Query::new("SELECT effective_date FROM rate_tables")
}

/// Makes `currencies`, dated `date`, the table in force, in `tx`.
pub(super) async fn write_table(
    tx: &mut Tx,
    date: &str,
    currencies: &[Currency],
    source: &str,
) -> Result<(), sqlx::Error> {
    Query::new("DELETE FROM rates").execute(&mut *tx).await?;
    for currency in currencies {
        Query::new("INSERT INTO rates (code, name, exponent, rate_e8) VALUES (?, ?, ?, ?)")
            .bind(&currency.code)
            .bind(&currency.name)
            .bind(currency.exponent)
            .bind(currency.rate.scaled())
            .execute(&mut *tx)
            .await?;
    }
    Query::new(
        "INSERT INTO rate_tables (id, effective_date, source, replaced_at_ms) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET effective_date = excluded.effective_date,
             source = excluded.source, replaced_at_ms = excluded.replaced_at_ms",
    )
    .bind(date)
    .bind(source)
    .bind(brigade_chassis::time::now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
