//! A checkout paid in another currency than the catalog's, in process with the fake port: the
//! whole total (lines and shipping) is converted, charged in that currency and recorded with
//! the base amount, the rate and its date, on both engines; a repeat answers the same order
//! without converting again. The currency service down, or without a rate for the code:
//! nothing ordered, reserved or charged. The catalog's own currency needs no conversion.

use axum::http::StatusCode;
use brigade_chassis::db::Db;
use orders_api::events::OrderConfirmed;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::http::App;
use crate::support::{events_of, Fake, SHIPPING_MINOR};

/// A checkout to France (as the shipping tests send it) paid in `currency` (none: the
/// catalog's).
fn body(currency: Option<&str>) -> String {
    let mut body: Value = serde_json::from_str(&crate::shipping::body("FR")).unwrap();
    if let Some(currency) = currency {
        body["currency"] = json!(currency);
    }
    body.to_string()
}

brigade_chassis::store_suite!(a_checkout_in_dollars_charges_and_records_the_conversion);

async fn a_checkout_in_dollars_charges_and_records_the_conversion(db: Db) {
    let app = App::on(db, Fake::new(10)).await;
    let token = app.shopper();
    let answer = app
        .checkout(Some(&token), Some("k"), &body(Some("USD")))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let order = answer.body;
    assert_eq!(order["status"], "CONFIRMED");
    // Two units of product 1 (10 EUR) and shipping (4.90 EUR), at 1.50 USD to the euro.
    let base = 2000 + SHIPPING_MINOR;
    let dollars = base * 3 / 2;
    assert_eq!(
        order["total"],
        json!({"amount_minor": dollars, "currency": "USD"})
    );
    assert_eq!(
        order["conversion"],
        json!({
            "base_total": {"amount_minor": base, "currency": "EUR"},
            "rate": "1.5",
            "from_rate": "1",
            "to_rate": "1.5",
            "rate_date": "2026-12-04",
        })
    );
    // The lines and the shipping cost stay in the catalog's currency.
    assert_eq!(order["lines"][0]["line_total"]["currency"], "EUR");
    assert_eq!(order["shipping"]["cost"]["currency"], "EUR");
    // Payments was asked for the dollars, and the confirmation announces them.
    let id: Uuid = order["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.fake.world().charged_minor.get(&id), Some(&dollars));
    let events = events_of(&app.store, id).await;
    let confirmed: OrderConfirmed = events[1].decode().unwrap();
    assert_eq!(confirmed.total.amount_minor, dollars);
    assert_eq!(confirmed.total.currency, "USD");
    let created = &order["history"][0]["detail"];
    assert!(
        created
            .as_str()
            .unwrap()
            .contains("converted from 2490 EUR at 1.5"),
        "{created}"
    );

    // Read back, and repeated with the same key: the same order, converted once.
    let read = app
        .get(&format!("/v1/orders/{id}"), Some(&token))
        .await
        .ok();
    assert_eq!(read, order);
    let again = app
        .checkout(Some(&token), Some("k"), &body(Some("USD")))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.body, order);
    assert_eq!(app.fake.world().conversions, 1);
    // The promise checker's view: the total it compares with the capture is the charged one.
    let audit = app.get("/v1/audit/orders", None).await.ok();
    assert_eq!(
        audit["items"][0]["total"],
        json!({"amount_minor": dollars, "currency": "USD"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_down_orders_nothing_in_another_currency_and_everything_in_the_catalogs() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    app.fake.world().currency_down = true;
    app.checkout(Some(&token), Some("k1"), &body(Some("GBP")))
        .await
        .problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "currency-unavailable",
            "nothing was ordered, reserved or charged",
        );
    let list = app.get("/v1/orders", Some(&token)).await.ok();
    assert_eq!(list["total"], 0, "no order left half-written");
    {
        let world = app.fake.world();
        assert!(world.reservations.is_empty() && world.charged_minor.is_empty());
    }

    // The catalog's currency, named or not, needs no conversion: it still checks out.
    for (key, currency) in [("k2", Some("EUR")), ("k3", None)] {
        let answer = app.checkout(Some(&token), Some(key), &body(currency)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        assert_eq!(answer.body["status"], "CONFIRMED");
        assert_eq!(answer.body["total"]["currency"], "EUR");
        assert_eq!(answer.body["conversion"], Value::Null);
    }
    assert_eq!(
        app.fake.world().conversions,
        1,
        "only the GBP checkout asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_currency_without_a_rate_is_refused_and_a_malformed_one_is_bad_input() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    let refused = app
        .checkout(Some(&token), Some("k1"), &body(Some("XAU")))
        .await;
    let problem = refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-currency", "XAU");
    assert_eq!(problem["parameter"], "currency");
    app.checkout(Some(&token), Some("k2"), &body(Some("usd")))
        .await
        .invalid("currency", "ISO 4217");
    let list = app.get("/v1/orders", Some(&token)).await.ok();
    assert_eq!(list["total"], 0);
    assert!(app.fake.world().charged_minor.is_empty());
}
