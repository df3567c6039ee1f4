//! Pages when dependencies fail: recommendations down → the product page without "bought
//! together" (and home without popular products); inventory down → "availability unknown";
//! payments down → checkout says nothing was charged; catalog down → a page saying so; the
//! storefront itself too slow or too busy → the shop's page with a sentence, status kept. Never
//! a 500, never a hang, never problem+json.
use std::time::Duration;

use brigade_chassis::testing::Instance;
use http::{header, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// A request that never sends the rest of its body: it holds its place in the storefront and
/// waits, without calling any service, until the chassis' deadline ends it.
async fn stalled_form(storefront: &Instance, deadline_ms: u64) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(storefront.address)
        .await
        .unwrap();
    let head = format!(
        "POST /cart/add HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\
         brigade-deadline-ms: {deadline_ms}\r\n\r\nproduct_id="
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The chassis' own refusals reach a shopper as the shop's page: too slow → 504, too busy →
/// 503 with `Retry-After`, each a sentence with a link home, never problem+json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_slow_or_too_busy_is_a_page_with_a_sentence() {
    let storefront = Instance::start::<storefront::StorefrontService>(&[
        "--max-concurrent-requests",
        "1",
        "--peers",
        &format!("catalog={NOWHERE}"),
    ])
    .await;
    let is_page = |status: StatusCode, head: &str, body: &str, says: &str| {
        assert!(
            head.starts_with(&format!("http/1.1 {}", status.as_u16())),
            "{head}"
        );
        assert!(
            head.contains("content-type: text/html; charset=utf-8"),
            "{head}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'none'"),
            "{head}"
        );
        assert!(body.contains(says), "{body}");
        assert!(
            body.contains("<a href=\"/\">Go to the home page</a>"),
            "{body}"
        );
    };

    // Too slow: the deadline ends the request with the page, within moments of it.
    let started = tokio::time::Instant::now();
    let mut slow = stalled_form(&storefront, 300).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer))
        .await
        .expect("the stalled request was never ended")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    // Header names' case is the server's to choose.
    let head = head.to_lowercase();
    is_page(
        StatusCode::GATEWAY_TIMEOUT,
        &head,
        body,
        "could not finish this page in time",
    );

    // Too busy: while the one place is held, a page is refused at once.
    let held = stalled_form(&storefront, 10_000).await;
    let mut visitor = Browser::new(&storefront.url());
    let image = "/images/kitchen/pan.jpg";
    let mut refused = visitor.get(image).await;
    for _ in 0..100 {
        if refused.status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        refused = visitor.get(image).await;
    }
    assert_eq!(refused.header(header::RETRY_AFTER), "1");
    let head = format!(
        "http/1.1 {}\r\ncontent-type: {}\r\ncontent-security-policy: {}",
        refused.status.as_u16(),
        refused.header(header::CONTENT_TYPE),
        refused.header(header::CONTENT_SECURITY_POLICY),
    );
    is_page(
        StatusCode::SERVICE_UNAVAILABLE,
        &head,
        &refused.body,
        "So many people are shopping",
    );
    assert!(!refused.body.contains("problem"), "{}", refused.body);

    // The place freed, the shop answers again.
    drop(held);
    let mut again = visitor.get(image).await;
    for _ in 0..100 {
        if again.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        again = visitor.get(image).await;
    }
    assert_eq!(again.status, StatusCode::OK);
}
