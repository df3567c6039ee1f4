//! Writing the table of rates: the sample at first start, replacements whole or not at all.
//! Each test is written once as a function of a fresh store and run against SQLite and
//! PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI); `reads`
//! has the reading side.

use brigade_chassis::db::Db;
use currency::store::Loaded;
use currency::Store;

use crate::support::{codes, currencies, migrated, sample, sampled};

async fn a_store_without_rates_gets_the_sample_once_and_keeps_what_it_has(db: Db) {
    let store = migrated(db).await;
    assert!(store.in_force().await.is_err(), "no table yet");
    let sample = sample();
    assert_eq!(store.ensure_sample(&sample).await.unwrap(), Loaded::Now);
    assert_eq!(store.in_force().await.unwrap(), sample);
    assert_eq!(store.ensure_sample(&sample).await.unwrap(), Loaded::Before);

    // Replaced rates survive every later start: the sample is not loaded over them.
    let replaced = currencies(&[("EUR", "1"), ("USD", "1.2")]);
    store.replace("2026-12-05", &replaced).await.unwrap();
    assert_eq!(store.ensure_sample(&sample).await.unwrap(), Loaded::Before);
    let in_force = store.in_force().await.unwrap();
    assert_eq!(
        (in_force.date.as_str(), in_force.items),
        ("2026-12-05", replaced)
    );
}

async fn loaders_starting_at_once_load_the_sample_once(db: Db) {
    let store = migrated(db.clone()).await;
    let other = Store {
        db: db.another_pool(4).await.unwrap(),
    };
    let sample = sample();
    let (a, b) = tokio::join!(store.ensure_sample(&sample), other.ensure_sample(&sample));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| *o == Loaded::Before);
    assert_eq!(outcomes, [Loaded::Now, Loaded::Before]);
    assert_eq!(other.in_force().await.unwrap(), sample);
}

async fn a_replacement_swaps_the_whole_table_and_its_date(db: Db) {
    let store = sampled(db).await;
    let smaller = currencies(&[("EUR", "1"), ("JPY", "158.5"), ("USD", "1.0575")]);
    store.replace("2026-12-05", &smaller).await.unwrap();
    let in_force = store.in_force().await.unwrap();
    assert_eq!(in_force.date, "2026-12-05");
    assert_eq!(codes(&in_force.items), ["EUR", "JPY", "USD"]);
    assert_eq!(in_force.items[2].rate.to_string(), "1.0575");
    assert_eq!(in_force.items[1].exponent, 0);
    // A currency left out is no longer supported.
    let pair = store.pair("USD", "GBP").await.unwrap();
    assert_eq!(codes(&pair.found), ["USD"]);
    // Putting the same table again changes nothing.
    store.replace("2026-12-05", &smaller).await.unwrap();
    assert_eq!(store.in_force().await.unwrap(), in_force);
}

async fn a_replacement_that_fails_changes_nothing(db: Db) {
    let store = sampled(db).await;
    let before = store.in_force().await.unwrap();
    // The last row breaks the schema's rule (exponents 0 to 4): the rows before it, the
    // deletion of the old rates and the new date must all be undone.
    let mut broken = currencies(&[("EUR", "1"), ("GBP", "0.9"), ("USD", "1.1")]);
    broken[2].exponent = 9;
    assert!(store.replace("2026-12-05", &broken).await.is_err());
    assert_eq!(store.in_force().await.unwrap(), before);
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(currency::MIGRATIONS).await;
}

brigade_chassis::store_suite!(
    a_store_without_rates_gets_the_sample_once_and_keeps_what_it_has,
    loaders_starting_at_once_load_the_sample_once,
    a_replacement_swaps_the_whole_table_and_its_date,
    a_replacement_that_fails_changes_nothing,
);
