//! End to end in headless Chromium, driven over WebDriver (chromedriver, see `chromium`):
//! browse → search → product → add to cart → sign up → checkout with the approving card →
//! confirmation, shipped with its tracking number in place → order history, confirmed and
//! shipped → the messages page with the confirmation, with JavaScript on (htmx loaded under the
//! page's CSP). `browser_failures` has what goes wrong, and the checkout without JavaScript.
use brigade_chassis::testing::chromium::{
    click, fill, wait_for_text, wait_for_text_reloading, Driver,
};
use brigade_chassis::testing::webdriver::Locator;
use serde_json::json;

use crate::chromium::{place_order, shoot, sign_up};
use crate::support::{Options, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_in_a_real_browser() {
    let Some((driver, chromium)) = Driver::start().await else {
        return;
    };
    let shop = Shop::start(Options::default()).await;
    let client = driver.session(&chromium).await;
    let base = shop.storefront.url();

    client.goto(&format!("{base}/")).await;
    wait_for_text(&client, "Welcome to Brigade").await;
    let htmx = client.execute("return typeof htmx").await;
    assert_eq!(htmx, "object", "htmx did not load under the page's policy");
    shoot(&client, "home").await;

    click(&client, "ul.chips a").await;
    wait_for_text(&client, "Sort by").await;
    shoot(&client, "category").await;
    let name = client
        .find(Locator::Css("li.card a + a"))
        .await
        .text()
        .await;
    let word = name
        .split_whitespace()
        .max_by_key(|w| w.len())
        .unwrap()
        .to_owned();

    fill(&client, "search-q", &word).await;
    click(&client, "form[role=search] button").await;
    wait_for_text(&client, "Results for").await;
    shoot(&client, "search").await;

    click(&client, "li.card a + a").await;
    wait_for_text(&client, "Add to cart").await;
    shoot(&client, "product").await;
    click(&client, "form[action='/cart/add'] button").await;
    wait_for_text(&client, "Added to your cart").await;
    shoot(&client, "cart").await;

    click(&client, "main a[href^='/signup']").await;
    sign_up(&client, "ada@example.com", Some("signup")).await;
    wait_for_text(&client, "Delivery address").await;
    place_order(&client, "4242 4242 4242 4242", Some("checkout")).await;
    wait_for_text(&client, "Your order is confirmed").await;
    wait_for_text(&client, "status-confirmed").await;
    shoot(&client, "confirmation").await;
    // Shipped within seconds: shipping takes the confirmation, orders records its shipment, and
    // the page (following the order with htmx) shows the tracking number in place.
    wait_for_text(&client, "Tracking number:").await;
    let tracking = client
        .find(Locator::Css("strong.tracking-number"))
        .await
        .text()
        .await;
    assert!(tracking.starts_with("BRG"), "{tracking}");
    shoot(&client, "shipped").await;

    // The history: the order confirmed, shipped, with its tracking number.
    click(&client, "a[href='/orders']").await;
    wait_for_text(&client, "Your orders").await;
    for text in [
        "status-confirmed",
        "Confirmed",
        "tracking number",
        &tracking,
        "Shipped",
    ] {
        wait_for_text(&client, text).await;
    }
    shoot(&client, "orders").await;

    // The mailbox: notifications wrote the confirmation (from orders' event, within moments).
    wait_for_text_reloading(&client, &format!("{base}/messages"), "is confirmed").await;
    shoot(&client, "messages").await;
    client
        .find(Locator::LinkText("is confirmed"))
        .await
        .click()
        .await;
    wait_for_text(&client, "Thank you for your order").await;
    shoot(&client, "message").await;
    client.close().await;
}

/// With JavaScript, a pending order's status is swapped in by htmx: the page is never reloaded
/// (a mark left in it stays) and shows the confirmation once the slow card settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_order_updates_in_place() {
    let Some((driver, chromium)) = Driver::start().await else {
        return;
    };
    let shop = Shop::start(Options {
        slow_card_delay: Some("6s"),
    })
    .await;
    let client = driver.session(&chromium).await;
    let base = shop.storefront.url();
    client.goto(&format!("{base}/signup")).await;
    sign_up(&client, "grace@example.com", None).await;
    wait_for_text(&client, "Welcome to Brigade").await;
    client.goto(&format!("{base}/")).await;
    click(&client, "li.card a + a").await;
    click(&client, "form[action='/cart/add'] button").await;
    wait_for_text(&client, "Added to your cart").await;
    client.goto(&format!("{base}/checkout")).await;
    place_order(&client, "4000 0000 0000 0259", None).await;
    wait_for_text(&client, "status-pending").await;
    shoot(&client, "pending").await;
    client
        .execute("window.brigadeMark = 'kept'; return null")
        .await;
    wait_for_text(&client, "status-confirmed").await;
    let kept = client.execute("return window.brigadeMark === 'kept'").await;
    assert_eq!(
        kept,
        json!(true),
        "the page was reloaded instead of updated"
    );
    shoot(&client, "settled").await;
    client.close().await;
}

/// The currency picker in a real browser, then the currency service killed: within seconds the
/// pages show the catalog's prices with a note saying so, and no picker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_killed_shows_catalog_prices_with_a_note() {
    let Some((driver, chromium)) = Driver::start().await else {
        return;
    };
    let mut shop = Shop::start(Options::default()).await;
    let client = driver.session(&chromium).await;
    let base = shop.storefront.url();

    client.goto(&format!("{base}/")).await;
    wait_for_text(&client, "Welcome to Brigade").await;
    click(&client, "#currency-choice option[value='GBP']").await;
    click(&client, "form.currency button").await;
    wait_for_text(&client, "£").await;
    shoot(&client, "home-in-pounds").await;

    shop.kill_currency().await;
    wait_for_text_reloading(&client, &format!("{base}/"), "currency-note").await;
    let source = client.source().await;
    assert!(source.contains('€'), "{source}");
    assert!(!source.contains('£'), "{source}");
    assert!(
        !source.contains("currency-choice"),
        "the picker is gone: {source}"
    );
    shoot(&client, "currency-down").await;
    client.close().await;
}
