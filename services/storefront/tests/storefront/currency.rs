//! Prices in the shopper's currency: the header's picker changes every price (converted with
//! the currency service's own arithmetic), the checkout page totals lines and shipping in it,
//! and a checkout pays in it (the order page shows the charged amount and the catalog's). The
//! currency service killed: prices in the catalog's currency with a note and no picker, and a
//! checkout in another currency orders nothing, says so and offers the catalog's currency,
//! keeping the form.
use std::time::Duration;

use brigade_chassis::testing::static_client;
use catalog_api::{CatalogClient, Money};
use currency_api::{CurrencyClient, CurrencyList};
use http::StatusCode;
use shipping_api::{QuoteItem, QuoteRequest, ShippingClient};
use storefront::format_money;
use uuid::Uuid;

use crate::support::{checkout_fields, Browser, Options, Page, Shop};

/// The currency service's table, and a product's price, asked of the services themselves.
async fn table_and_price(shop: &Shop, id: &str) -> (CurrencyList, Money) {
    let currency = shop.currency.as_ref().unwrap();
    let table = CurrencyClient::new(static_client("currency", vec![currency.address]))
        .currencies()
        .await
        .unwrap();
    let product = CatalogClient::new(static_client("catalog", vec![shop.catalog.address]))
        .get_product(id.parse::<Uuid>().unwrap())
        .await
        .unwrap();
    (table, product.price)
}

/// `price` plus shipping's quote for one unit of `sku` to `country`.
async fn with_shipping(shop: &Shop, sku: &str, price: &Money, country: &str) -> Money {
    let quote = ShippingClient::new(static_client("shipping", vec![shop.shipping.address]))
        .quote(&QuoteRequest {
            country: country.into(),
            items: vec![QuoteItem {
                sku: sku.into(),
                quantity: 1,
                unit_weight_grams: None,
            }],
        })
        .await
        .unwrap();
    Money {
        amount_minor: price.amount_minor + quote.cost.amount_minor,
        currency: price.currency.clone(),
    }
}

/// Chooses `code` in the header's form of the page at `back`, and gives that page again.
async fn choose(browser: &mut Browser, code: &str, back: &str) -> Page {
    let chosen = browser
        .post("/currency", &[("currency", code), ("back", back)])
        .await;
    browser.follow(&chosen).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_converts_every_price_and_a_checkout_pays_in_the_currency() {
    let shop = Shop::start(Options::default()).await;
    let (mut browser, product, id, page) = shop.shopper_on_a_product().await;
    let (table, price) = table_and_price(&shop, &id).await;
    let dollars = |money: &Money| format_money(&table.convert(money, "USD").unwrap());
    page.says(
        StatusCode::OK,
        &["action=\"/currency\"", &format_money(&price)],
    )
    .lacks(&["currency-note"]);

    let page = choose(&mut browser, "USD", &product).await;
    page.says(
        StatusCode::OK,
        &[&dollars(&price), "<option value=\"USD\" selected>"],
    )
    .lacks(&[&format_money(&price)]);
    // Every page: the home page's cards too.
    assert!(!browser.get("/").await.body.contains('€'));

    browser.sign_up("Ada", "ada.usd@example.com").await;
    browser.add_to_cart(&product, "1").await;
    browser
        .get("/cart")
        .await
        .says(StatusCode::OK, &[&dollars(&price)]);
    // Before placing: the lines, shipping to the form's country (Germany first) and the total,
    // converted whole as orders will convert it.
    let sku = {
        let catalog = CatalogClient::new(static_client("catalog", vec![shop.catalog.address]));
        catalog.get_product(id.parse().unwrap()).await.unwrap().sku
    };
    let to_germany = with_shipping(&shop, &sku, &price, "DE").await;
    browser.get("/checkout").await.says(
        StatusCode::OK,
        &[
            "Shipping",
            "to Germany",
            "Total to pay",
            &dollars(&to_germany),
        ],
    );

    // Placed (to Great Britain): charged in dollars, the catalog's amount shown beside.
    let placed = browser.check_out("4242424242424242", None).await;
    let order = browser.follow(&placed).await;
    let to_britain = with_shipping(&shop, &sku, &price, "GB").await;
    order.says(
        StatusCode::OK,
        &[
            "Confirmed",
            "Total charged (USD)",
            &dollars(&to_britain),
            "Total in the catalog's currency",
            &format_money(&to_britain),
            "Charged in USD: converted from",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_killed_shows_catalog_prices_and_a_foreign_checkout_orders_nothing() {
    let mut shop = Shop::start(Options::default()).await;
    let (mut browser, product, _, _) = shop.shopper_on_a_product().await;
    browser.sign_up("Grace", "grace.gbp@example.com").await;
    browser.add_to_cart(&product, "1").await;
    choose(&mut browser, "GBP", "/")
        .await
        .says(StatusCode::OK, &["£"]);

    shop.kill_currency().await;
    // The storefront keeps the table briefly: within seconds, pages are in euros and say so.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let home = loop {
        let home = browser.get("/").await;
        if home.body.contains("currency-note") || tokio::time::Instant::now() > deadline {
            break home;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    home.says(
        StatusCode::OK,
        &["€", "Prices are shown in the catalog&#39;s currency"],
    )
    .lacks(&["£", "action=\"/currency\""]);
    browser
        .get(&product)
        .await
        .says(StatusCode::OK, &["€", "currency-note"]);

    // Checking out in pounds cannot be done: said, nothing ordered, the form kept, and the way
    // forward offered.
    let refused = browser.check_out("4242424242424242", None).await;
    refused
        .says(
            StatusCode::SERVICE_UNAVAILABLE,
            &[
                "Prices cannot be converted",
                "nothing was ordered or charged",
                "Pay in EUR instead",
                "Ada Lovelace",
                "N1 9GU",
            ],
        )
        .lacks(&["Internal"]);
    browser
        .get("/orders")
        .await
        .says(StatusCode::OK, &["You have no orders yet"]);

    // Paying in the catalog's currency: the same form again, then the order goes through.
    let fields = checkout_fields("4242424242424242");
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let attempt = refused.input("attempt").unwrap();
    form.push(("attempt", &attempt));
    form.push(("pay_in", "EUR"));
    browser
        .post("/checkout", &form)
        .await
        .says(StatusCode::OK, &["Ada Lovelace", "Place order"]);
    let placed = browser.check_out("4242424242424242", None).await;
    browser
        .follow(&placed)
        .await
        .says(StatusCode::OK, &["Confirmed", "Total charged (EUR)"])
        .lacks(&["converted from"]);
}
