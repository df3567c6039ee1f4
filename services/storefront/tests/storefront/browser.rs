//! End to end in headless Chromium, driven over WebDriver (chromedriver): browse
//! → search → product → add to cart → sign up → checkout with the approving card →
//! confirmation → order history, with JavaScript on (htmx loaded under the page's CSP).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `CHROMIUM` and `CHROMEDRIVER` name others). Without them the test
//! says it was skipped, except under `CI=true`, where it fails. Screenshots of every page go to
//! `target/screenshots/` (`$CARGO_TARGET_DIR/screenshots/` when set; `BRIGADE_SCREENSHOTS`
//! overrides).
//!
//! The W3C WebDriver protocol is a handful of JSON calls, made here with the chassis' plain
//! client (`webdriver`): a WebDriver crate would bring a second `http`, a second `cookie` and an
//! MPL-licensed dependency for a test.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::support::{Options, Shop};
use crate::webdriver::{Client, Locator};

fn program(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var(variable).map_or_else(|_| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

fn screenshots_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BRIGADE_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("screenshots")
}

/// A chromedriver child process, killed when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    /// The driver, or `None` (skipped) when Chromium is not installed outside CI.
    async fn start() -> Option<(Driver, PathBuf)> {
        let found = program("CHROMEDRIVER", "/usr/bin/chromedriver")
            .zip(program("CHROMIUM", "/usr/bin/chromium"));
        let Some((driver, chromium)) = found else {
            assert!(
                !brigade_chassis::testing::required_backends(),
                "CI=true but chromium or chromedriver is missing: apt-get install chromium chromium-driver"
            );
            eprintln!("skipped: chromium or chromedriver is missing (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some((Driver { _child: child, url }, chromium));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on port {port}");
    }

    async fn session(&self, chromium: &Path) -> Client {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"],
            }
        });
        Client::connect(&self.url, capabilities).await
    }
}

/// Takes a screenshot named `name`.
async fn shoot(client: &Client, name: &str) {
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await;
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits until the page's text contains `text`.
async fn wait_for_text(client: &Client, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let source = client.source().await;
        if source.contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never said `{text}`: {source}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await;
    field.clear().await;
    field.send_keys(text).await;
}

async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.click().await;
}

/// Fills and sends the sign-up form the browser shows, with a screenshot named `shot`.
async fn sign_up(client: &Client, email: &str, shot: Option<&str>) {
    wait_for_text(client, "Create my account").await;
    for (field, text) in [
        ("name", "Ada"),
        ("email", email),
        ("password", "correct horse battery"),
    ] {
        fill(client, field, text).await;
    }
    if let Some(shot) = shot {
        shoot(client, shot).await;
    }
    click(client, "main form button").await;
}

/// Fills and sends the checkout form the browser shows, paying with `card`.
async fn place_order(client: &Client, card: &str, shot: Option<&str>) {
    for (field, text) in crate::support::checkout_fields(card) {
        if field != "country" {
            fill(client, field, &text).await;
        }
    }
    if let Some(shot) = shot {
        shoot(client, shot).await;
    }
    click(client, "main form button").await;
}

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

    client.goto(&format!("{base}/orders")).await;
    wait_for_text(&client, "Your orders").await;
    wait_for_text(&client, "Confirmed").await;
    shoot(&client, "orders").await;
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let source = loop {
        client.goto(&format!("{base}/")).await;
        let source = client.source().await;
        if source.contains("currency-note") {
            break source;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never said its prices are in the catalog's currency: {source}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(source.contains('€'), "{source}");
    assert!(!source.contains('£'), "{source}");
    assert!(
        !source.contains("currency-choice"),
        "the picker is gone: {source}"
    );
    shoot(&client, "currency-down").await;
    client.close().await;
}
