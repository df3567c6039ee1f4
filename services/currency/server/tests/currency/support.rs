//! What the tests share: migrated stores, and tables of rates built from the sample's
//! currencies.

use brigade_chassis::db::{migrate, Db};
use currency::{Store, MIGRATIONS};
use currency_api::{Currency, CurrencyList, ReplaceRates};

/// The compiled sample table.
pub fn sample() -> CurrencyList {
    currency::sample::table().unwrap()
}

/// `db` with the service's schema and no rates.
pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store { db }
}

/// `db` with the service's schema and the sample table in force, as a first start leaves it.
pub async fn sampled(db: Db) -> Store {
    let store = migrated(db).await;
    store.ensure_sample(&sample()).await.unwrap();
    store
}

/// The sample's currencies `codes` at `rates` (decimal strings), as a table replacing the one
/// in force would hold them.
pub fn currencies(rates: &[(&str, &str)]) -> Vec<Currency> {
    let known = sample();
    rates
        .iter()
        .map(|(code, rate)| {
            let mut currency = known
                .items
                .iter()
                .find(|c| c.code == *code)
                .unwrap()
                .clone();
            currency.rate = rate.parse().unwrap();
            currency
        })
        .collect()
}

/// A `PUT /v1/rates` body.
pub fn replacement(date: &str, rates: &[(&str, &str)]) -> ReplaceRates {
    ReplaceRates {
        date: date.to_owned(),
        rates: rates
            .iter()
            .map(|(code, rate)| ((*code).to_owned(), (*rate).to_owned()))
            .collect(),
    }
}

/// The codes of a table, in its order.
pub fn codes(currencies: &[Currency]) -> Vec<&str> {
    currencies.iter().map(|c| c.code.as_str()).collect()
}
