//! Pages when dependencies fail: recommendations down → the product page without "bought
//! together" (and home without popular products); inventory down → "availability unknown";
//! payments down → checkout says nothing was charged; catalog down → a page saying so. Never a
//! 500, never a hang.
use std::time::Duration;

use http::{header, StatusCode};

use crate::support::{first_product, Browser, Options, Shop, NOWHERE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_parts_come_and_go_without_breaking_a_page() {
    let shop = Shop::start(Options::default()).await;
    let mut browser = shop.browser();
    let home = browser.get("/").await;
    // Each card links its product twice (image and name).
    let mut products = home.links("/products/");
    products.dedup();
    let (a, b) = (products[0].clone(), products[1].clone());

    // An order of both teaches recommendations that they go together.
    browser.sign_up("Lin", "lin@example.com").await;
    for product in [&a, &b] {
        browser.add_to_cart(product, "1").await;
    }
    let placed = browser.check_out("4242424242424242", None).await;
    browser
        .follow(&placed)
        .await
        .says(StatusCode::OK, &["Confirmed"]);

    let b_name = {
        let page = browser.get(&b).await;
        crate::browsing::between(&page.body, "<h1>", "</h1>")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = browser.get(&a).await;
        assert_eq!(page.status, StatusCode::OK);
        if page.body.contains("Bought together") {
            assert!(page.body.contains(&b_name), "{}", page.body);
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let id = a.trim_start_matches("/products/");
            let url = format!(
                "{}/v1/recommendations/products/{id}",
                shop.recommendations.url()
            );
            let said = brigade_chassis::plain::PlainClient::new(Duration::from_secs(5))
                .send(http::Method::GET, &url, None)
                .await
                .unwrap();
            panic!(
                "recommendations never learnt the order: {} {}",
                said.status,
                String::from_utf8_lossy(&said.body)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The same page from a storefront whose recommendations and inventory never answer.
    let degraded = shop
        .storefront_with(&[("recommendations", NOWHERE), ("inventory", NOWHERE)])
        .await;
    let mut visitor = Browser::new(&degraded.url());
    let started = tokio::time::Instant::now();
    let page = visitor.get(&a).await;
    page.says(
        StatusCode::OK,
        &["Availability unknown", "Add to cart", "€"],
    )
    .lacks(&["Bought together", "In stock"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    visitor
        .get("/")
        .await
        .says(StatusCode::OK, &["New in"])
        .lacks(&["Popular right now"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_or_catalog_down_are_said_in_sentences_with_nothing_charged() {
    let shop = Shop::start(Options::default()).await;
    let orders_without_payments = shop.orders_paying_at(NOWHERE).await;
    let address = orders_without_payments.address.to_string();
    let storefront = shop.storefront_with(&[("orders", &address)]).await;
    let mut browser = Browser::new(&storefront.url());
    let home = browser.get("/").await;
    let product = first_product(&home);
    browser.sign_up("Max", "max@example.com").await;
    browser.add_to_cart(&product, "1").await;
    let refused = browser.check_out("4242424242424242", None).await;
    refused.says(
        StatusCode::SERVICE_UNAVAILABLE,
        &[
            "Payments are unavailable right now",
            "nothing was charged",
            "value=\"London\"",
        ],
    );
    browser
        .get("/cart")
        .await
        .says(StatusCode::OK, &["value=\"1\"", "Check out"]);

    // Without the catalog, pages say so and point home.
    let blind = shop.storefront_with(&[("catalog", NOWHERE)]).await;
    let mut visitor = Browser::new(&blind.url());
    let page = visitor.get("/").await;
    page.says(
        StatusCode::SERVICE_UNAVAILABLE,
        &["The catalog is unavailable right now", "try again"],
    );
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    visitor
        .get(&product)
        .await
        .says(StatusCode::SERVICE_UNAVAILABLE, &["The catalog"]);
}
