//! What goes wrong, in headless Chromium (see `chromium`): a declined card said with its
//! reason next to the card field, with no order confirmed and nothing charged; the product page
//! complete (name, price, add to cart) without "bought together" once recommendations is killed;
//! and the whole checkout with JavaScript off, the order's page following it by `<noscript>`
//! refresh until it ships.
use std::time::Duration;

use brigade_chassis::testing::chromium::{click, wait_for_text, wait_for_text_reloading, Driver};
use brigade_chassis::testing::webdriver::{Client, Locator};
use http::StatusCode;
use payments_api::{ChargeList, ChargeStatus};
use serde_json::json;

use crate::chromium::{place_order, shoot, sign_up};
use crate::support::{first_product, Options, Shop};

/// Chromium (without JavaScript when `javascript` is false) and a new shop, or `None` when
/// Chromium is not installed (the test is skipped). The driver runs while it is kept.
async fn chromium_and_shop(javascript: bool) -> Option<(Driver, Client, Shop)> {
    let (driver, chromium) = Driver::start().await?;
    let shop = Shop::start(Options::default()).await;
    let client = if javascript {
        driver.session(&chromium).await
    } else {
        driver.session_without_javascript(&chromium).await
    };
    Some((driver, client, shop))
}

/// Puts the first product of the home page in the cart the browser shows.
async fn add_first_product(client: &Client, base: &str) {
    client.goto(&format!("{base}/")).await;
    click(client, "li.card a + a").await;
    wait_for_text(client, "Add to cart").await;
    click(client, "form[action='/cart/add'] button").await;
    wait_for_text(client, "Added to your cart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_is_said_with_its_reason_and_confirms_nothing() {
    let Some((_driver, client, shop)) = chromium_and_shop(true).await else {
        return;
    };
    let base = shop.storefront.url();
    client.goto(&format!("{base}/signup")).await;
    sign_up(&client, "lin@example.com", None).await;
    wait_for_text(&client, "Welcome to Brigade").await;
    add_first_product(&client, &base).await;
    client.goto(&format!("{base}/checkout")).await;
    wait_for_text(&client, "Delivery address").await;

    // The insufficient-funds test card: the reason is said next to the card field.
    place_order(&client, "4000 0000 0000 9995", None).await;
    wait_for_text(&client, "Your card was declined").await;
    let said = client
        .find(Locator::Id("card_number-error"))
        .await
        .text()
        .await;
    assert!(
        said.contains("the card has insufficient funds") && said.contains("Nothing was charged"),
        "{said}"
    );
    let typed = client
        .execute("return document.getElementById('city').value")
        .await;
    assert_eq!(typed, json!("London"), "what was typed is kept");
    shoot(&client, "declined").await;

    // The history has the order cancelled, none confirmed.
    click(&client, "a[href='/orders']").await;
    wait_for_text(&client, "The payment was declined").await;
    let history = client.source().await;
    assert!(!history.contains("status-confirmed"), "{history}");
    shoot(&client, "orders-declined").await;

    // Payments took nothing: the order's one charge is declined.
    let heading = client
        .find(Locator::Css("ul.orders h2 a"))
        .await
        .text()
        .await;
    let order_id = heading.trim_start_matches("Order ").trim();
    let charges: ChargeList = brigade_chassis::testing::harness_get_json(
        "payments",
        &format!(
            "{}{}?order_id={order_id}",
            shop.payments.url(),
            payments_api::paths::CHARGES
        ),
    )
    .await
    .unwrap();
    assert!(!charges.items.is_empty(), "the decline is not recorded");
    assert!(
        charges
            .items
            .iter()
            .all(|c| c.status == ChargeStatus::Declined),
        "{charges:?}"
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_recommendations_killed_the_product_page_is_complete_without_them() {
    let Some((_driver, client, shop)) = chromium_and_shop(true).await else {
        return;
    };
    // An order of two products teaches recommendations that they go together.
    let mut shopper = shop.browser();
    let home = shopper.get("/").await;
    let mut products = home.links("/products/");
    products.dedup();
    shopper.sign_up("Lin", "lin@example.com").await;
    for product in &products[..2] {
        shopper.add_to_cart(product, "1").await;
    }
    let placed = shopper.check_out("4242424242424242", None).await;
    shopper
        .follow(&placed)
        .await
        .says(StatusCode::OK, &["Confirmed"]);

    let page = format!("{}{}", shop.storefront.url(), products[0]);
    wait_for_text_reloading(&client, &page, "Bought together").await;
    let name = client.find(Locator::Css("main h1")).await.text().await;
    shoot(&client, "product-recommended").await;

    shop.recommendations.stop().await.unwrap();
    let started = tokio::time::Instant::now();
    client.goto(&page).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the page waited {:?} for a dead service",
        started.elapsed()
    );
    wait_for_text(&client, "Add to cart").await;
    let shown = client.source().await;
    assert!(!shown.contains("Bought together"), "{shown}");
    assert!(shown.contains("In stock"), "{shown}");
    assert_eq!(
        client.find(Locator::Css("main h1")).await.text().await,
        name
    );
    let price = client.find(Locator::Css("main .price")).await.text().await;
    assert!(price.starts_with('€'), "{price}");
    shoot(&client, "product-without-recommendations").await;
    click(&client, "form[action='/cart/add'] button").await;
    wait_for_text(&client, "Added to your cart").await;
    wait_for_text(&client, &name).await;
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_same_checkout_works() {
    let Some((_driver, client, shop)) = chromium_and_shop(false).await else {
        return;
    };
    let base = shop.storefront.url();

    client.goto(&format!("{base}/")).await;
    wait_for_text(&client, "Welcome to Brigade").await;
    let htmx = client.execute("return typeof htmx").await;
    assert_eq!(htmx, json!("undefined"), "the page ran a script");
    shoot(&client, "nojs-home").await;

    let mut visitor = shop.browser();
    let product = first_product(&visitor.get("/").await);
    client.goto(&format!("{base}{product}")).await;
    click(&client, "form[action='/cart/add'] button").await;
    wait_for_text(&client, "Added to your cart").await;
    shoot(&client, "nojs-cart").await;
    click(&client, "main a[href^='/signup']").await;
    sign_up(&client, "ada@example.com", None).await;
    wait_for_text(&client, "Delivery address").await;
    place_order(&client, "4242 4242 4242 4242", Some("nojs-checkout")).await;
    wait_for_text(&client, "Your order is confirmed").await;
    shoot(&client, "nojs-confirmation").await;
    // No htmx: the page reloads itself (`<noscript>` refresh) until the tracking number shows.
    wait_for_text(&client, "Tracking number:").await;
    shoot(&client, "nojs-shipped").await;
    click(&client, "a[href='/orders']").await;
    wait_for_text(&client, "Your orders").await;
    for text in ["status-confirmed", "tracking number"] {
        wait_for_text(&client, text).await;
    }
    client.close().await;
}
