//! Reading the table of rates: every read sees one committed table, its date with its own
//! rates. Each test runs against SQLite and PostgreSQL, as in `store`.

use brigade_chassis::db::Db;
use currency::Store;
use currency_api::Currency;

use crate::support::{codes, currencies, sample, sampled};

/// Two tables: every rate of the second is twice the first's, and each has its own date.
fn two_tables() -> [(String, Vec<Currency>); 2] {
    let first = currencies(&[
        ("EUR", "1"),
        ("GBP", "0.5"),
        ("JPY", "100"),
        ("USD", "1.25"),
    ]);
    let second = currencies(&[("EUR", "1"), ("GBP", "1"), ("JPY", "200"), ("USD", "2.5")]);
    [("2026-01-01".into(), first), ("2026-01-02".into(), second)]
}

async fn readers_see_one_table_or_the_other_never_a_mix(db: Db) {
    let store = sampled(db.clone()).await;
    let reader = Store {
        db: db.another_pool(4).await.unwrap(),
    };
    let tables = two_tables();
    let writes = async {
        for round in 0..30 {
            let (date, table) = &tables[round % 2];
            store.replace(date, table).await.unwrap();
        }
    };
    let reads = async {
        for _ in 0..60 {
            let seen = reader.in_force().await.unwrap();
            let whole = seen.date == "2026-12-04" && seen.items == sample().items
                || tables
                    .iter()
                    .any(|(date, table)| &seen.date == date && &seen.items == table);
            assert!(whole, "a mixed table: {seen:?}");
            let pair = reader.pair("GBP", "JPY").await.unwrap();
            if let Some((_, table)) = tables.iter().find(|(date, _)| *date == pair.date) {
                assert_eq!(pair.found, [table[1].clone(), table[2].clone()]);
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(writes, reads);
}

async fn a_pair_is_read_from_one_table_with_its_date(db: Db) {
    let store = sampled(db).await;
    let pair = store.pair("USD", "JPY").await.unwrap();
    assert_eq!(pair.date, sample().date);
    assert_eq!(codes(&pair.found), ["JPY", "USD"]);
    assert_eq!(pair.get("JPY").map(|c| c.exponent), Some(0));
    assert_eq!(
        pair.get("USD").map(|c| c.rate.to_string()).as_deref(),
        Some("1.1645")
    );
    // The same currency twice is one row; unknown codes are absent, the date is still there.
    assert_eq!(
        codes(&store.pair("EUR", "EUR").await.unwrap().found),
        ["EUR"]
    );
    let unknown = store.pair("XAU", "XAG").await.unwrap();
    assert!(unknown.found.is_empty());
    assert_eq!(unknown.date, sample().date);
}

brigade_chassis::store_suite!(
    readers_see_one_table_or_the_other_never_a_mix,
    a_pair_is_read_from_one_table_with_its_date,
);
