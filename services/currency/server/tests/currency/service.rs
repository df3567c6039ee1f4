//! Real instances on real sockets, started the way `main` starts them, called through the typed
//! client that other services use, and restarted over the same store.

use brigade_chassis::testing::{addresses, static_client, Instance};
use currency_api::{Conversion, CurrencyClient};

use crate::support::{replacement, sample};

async fn start(url: &str) -> Instance {
    Instance::start::<currency::Currency>(&["--database-url", url]).await
}

fn client(instances: &[&Instance]) -> CurrencyClient {
    CurrencyClient::new(static_client("currency", addresses(instances)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_rates_outlive_a_restart_and_the_sample_is_not_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("currency.db").display());
    // Two instances start in the same moment on a new store: one loads the sample.
    let (a, b) = tokio::join!(start(&url), start(&url));
    let currency = client(&[&a, &b]);
    assert_eq!(currency.currencies().await.unwrap(), sample());
    let converted = currency
        .convert(&Conversion::new("USD", "JPY", 1234))
        .await
        .unwrap();
    assert_eq!(converted.to.amount_minor, 1917);

    let table = replacement(
        "2026-12-05",
        &[("EUR", "1"), ("USD", "1.25"), ("CHF", "0.95")],
    );
    let replaced = currency.replace_rates(&table).await.unwrap();
    assert_eq!(replaced.date, "2026-12-05");
    a.stop().await.unwrap();
    b.stop().await.unwrap();

    let again = start(&url).await;
    let currency = client(&[&again]);
    assert_eq!(currency.currencies().await.unwrap(), replaced);
    let converted = currency
        .convert(&Conversion::new("USD", "CHF", 1000))
        .await
        .unwrap();
    assert_eq!(
        (converted.to.amount_minor, converted.date.as_str()),
        (760, "2026-12-05")
    );

    // The service's problems reach the caller intact.
    let gone = currency
        .convert(&Conversion::new("JPY", "USD", 1))
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((gone.status, gone.code()), (422, "unknown-currency"));
    assert_eq!(gone.extensions["currency"], "JPY");
    let bad = currency
        .replace_rates(&replacement("2026-12-06", &[("USD", "1")]))
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((bad.status, bad.code()), (400, "invalid-parameter"));
    again.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly() {
    brigade_chassis::testing::assert_stops_promptly::<currency::Currency>(&[]).await;
}
