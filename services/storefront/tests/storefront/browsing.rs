//! Browsing without signing in: home, a category with paging and sort, search, a product page,
//! its image and the assets, and addresses that lead nowhere.
use http::{header, StatusCode};

use crate::support::{first_product, Options, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_browses_categories_searches_and_opens_a_product() {
    let shop = Shop::start(Options::default()).await;
    let mut browser = shop.browser();

    let home = browser.get("/").await;
    home.says(
        StatusCode::OK,
        &["<h1>Welcome to Brigade</h1>", "Shop by category", "New in"],
    );
    assert_eq!(
        home.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let categories = home.links("/categories/");
    assert!(categories.len() >= 10, "{categories:?}");

    // A category, its second page, sorted by price.
    let category = &categories[0];
    let first = browser.get(category).await;
    first.says(StatusCode::OK, &["page 1 of", "Next page", "Sort by"]);
    let sorted = browser
        .get(&format!("{category}?page=2&sort=price_asc"))
        .await;
    sorted.says(
        StatusCode::OK,
        &["page 2 of", "Previous page", "value=\"price_asc\" selected"],
    );
    let prices = euro_amounts(&sorted.body);
    assert!(prices.len() > 2, "{prices:?}");
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "not ascending: {prices:?}"
    );
    let next = sorted.links(&format!("{category}?page=3"));
    assert!(
        next.iter().all(|link| link.contains("sort=price_asc")),
        "{next:?}"
    );

    // A bad page number is said, and the first page shown.
    let bad = browser.get(&format!("{category}?page=abc")).await;
    bad.says(StatusCode::OK, &["is not a page number", "page 1 of"]);

    // A product page: name, price in euros, stock, and the add-to-cart form.
    let product = first_product(&first);
    let page = browser.get(&product).await;
    page.says(
        StatusCode::OK,
        &["Add to cart", "In stock", "name=\"quantity\"", "€"],
    );
    let name = between(&page.body, "<h1>", "</h1>");

    // Search finds it by a word of its name.
    let word = name.split_whitespace().max_by_key(|w| w.len()).unwrap();
    let found = browser.get(&format!("/search?q={word}")).await;
    found.says(StatusCode::OK, &[&format!("Results for “{word}”"), &name]);
    let none = browser.get("/search?q=zzzzqqqq").await;
    none.says(StatusCode::OK, &["Nothing here"]);
    let too_long = browser.get(&format!("/search?q={}", "a".repeat(201))).await;
    too_long.says(StatusCode::BAD_REQUEST, &["at most 200 characters"]);

    // Addresses that lead nowhere are pages too.
    let unknown_product = format!("/products/{}", uuid::Uuid::new_v4());
    for (path, says) in [
        ("/products/not-an-id", "There is no product here"),
        (unknown_product.as_str(), "There is no product here"),
        ("/categories/no-such-thing", "There is no category here"),
        ("/no/such/page", "There is no page here"),
    ] {
        browser.get(path).await.says(StatusCode::NOT_FOUND, &[says]);
    }
    // A form's address opened as a page leads to the cart, not to an error.
    for path in ["/cart/add", "/logout"] {
        let opened = browser.get(path).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(opened.header(header::LOCATION), "/cart", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_images_and_assets_are_served_with_caching_headers() {
    let shop = Shop::start(Options::default()).await;
    let mut browser = shop.browser();
    let home = browser.get("/").await;
    let image = between(&home.body, "<img src=\"", "\"");
    assert!(
        image.starts_with("/images/") && image.ends_with(".jpg"),
        "{image}"
    );

    let svg = browser.get(&image).await;
    svg.says(StatusCode::OK, &["<svg", "</svg>"]);
    assert_eq!(svg.header(header::CONTENT_TYPE), "image/svg+xml");
    assert_eq!(
        svg.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(svg.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let etag = svg.header(header::ETAG).to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let again = browser
        .send(http::Method::GET, &image, &[("if-none-match", &etag)], None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.body, "");
    assert_eq!(browser.get(&image).await.body, svg.body, "deterministic");
    browser
        .get("/images/Kitchen/x.jpg")
        .await
        .says(StatusCode::NOT_FOUND, &[]);

    for asset in [
        between(&home.body, "<link rel=\"stylesheet\" href=\"", "\""),
        between(&home.body, "<script src=\"", "\""),
        between(&home.body, "<link rel=\"icon\" href=\"", "\""),
    ] {
        let answer = browser.get(&asset).await;
        assert_eq!(answer.status, StatusCode::OK, "{asset}");
        assert_eq!(
            answer.header(header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert!(!answer.header(header::ETAG).is_empty());
    }
    let htmx = between(&home.body, "<script src=\"", "\"");
    assert!(htmx.starts_with("/assets/htmx."), "{htmx}");
    assert!(browser.get(&htmx).await.body.contains("htmx"));
    // Every page names its icon, so browsers never ask for a /favicon.ico that is not there.
    let icon = browser
        .get(&between(&home.body, "<link rel=\"icon\" href=\"", "\""))
        .await;
    assert_eq!(icon.header(header::CONTENT_TYPE), "image/svg+xml");
    assert!(icon.body.starts_with("<svg"));
    browser
        .get("/assets/nothing.js")
        .await
        .says(StatusCode::NOT_FOUND, &[]);
}

/// The text between the first `start` and the next `end`.
pub fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].to_owned()
}

/// Every `€1,234.56` amount on a page's product cards, in cents.
fn euro_amounts(body: &str) -> Vec<i64> {
    body.match_indices("<span class=\"price\">€")
        .map(|(at, marker)| {
            let rest = &body[at + marker.len()..];
            let text: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
                .collect();
            text.replace([',', '.'], "").parse().unwrap()
        })
        .collect()
}
