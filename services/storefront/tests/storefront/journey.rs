//! A shopper's whole journey without JavaScript: a product into the cart before signing up,
//! sign up (refused once, keeping what was typed), the cart carried over, quantities changed,
//! checkout refused field by field, declined, then confirmed; the order's page and the
//! history with its steps; a shipping estimate on the cart page, and the order shipped with a
//! tracking number within seconds; the messages the shop wrote about them; a pending payment
//! followed until it settles; log out.
use http::{header, StatusCode};

use crate::browsing::between;
use crate::support::{first_product, Browser, Options, Page, Shop};

const APPROVED: &str = "4242 4242 4242 4242";
const DECLINED: &str = "4000000000000002";
const SLOW: &str = "4000000000000259";

/// The order's page once it shows its tracking number (shipping consumes the confirmation
/// and orders the shipment's announcement: a second or so).
async fn shipped(browser: &mut Browser, order_path: &str) -> Page {
    for _ in 0..100 {
        let page = browser.get(order_path).await;
        if page.body.contains("tracking-number") {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the order shows no tracking number after 10 s");
}

async fn sign_up(browser: &mut Browser, email: &str) -> Page {
    browser
        .get("/signup?next=/cart")
        .await
        .says(StatusCode::OK, &["Create my account"]);
    let bad = browser
        .post(
            "/signup",
            &[
                ("name", "Ada"),
                ("email", "ada-at-example"),
                ("password", "correct horse battery"),
                ("next", "/cart"),
            ],
        )
        .await;
    bad.says(
        StatusCode::BAD_REQUEST,
        &[
            "id=\"email-error\"",
            "is not an email address",
            "value=\"Ada\"",
            "value=\"ada-at-example\"",
        ],
    )
    .lacks(&["correct horse battery"]);
    let signed_up = browser
        .post(
            "/signup",
            &[
                ("name", "Ada"),
                ("email", email),
                ("password", "correct horse battery"),
                ("next", "/cart"),
            ],
        )
        .await;
    assert_eq!(
        signed_up.header(header::LOCATION),
        "/cart",
        "{}",
        signed_up.body
    );
    signed_up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_signs_up_and_checks_out_declined_then_confirmed() {
    let shop = Shop::start(Options::default()).await;
    let (mut browser, product, id, page) = shop.shopper_on_a_product().await;
    let name = between(&page.body, "<h1>", "</h1>");

    // A bad quantity: the product page again, the problem next to the field.
    let refused = browser
        .post("/cart/add", &[("product_id", &id), ("quantity", "0")])
        .await;
    refused.says(
        StatusCode::BAD_REQUEST,
        &[
            "id=\"quantity-error\"",
            "from 1 to 99",
            "value=\"0\"",
            &name,
        ],
    );
    let added = browser.add_to_cart(&product, "2").await;
    browser
        .follow(&added)
        .await
        .says(StatusCode::OK, &[&name, "Log in to check out"]);
    browser
        .get("/checkout")
        .await
        .says(StatusCode::SEE_OTHER, &[]);

    let anonymous_token = browser.csrf.clone();
    let signed_up = sign_up(&mut browser, "ada@example.com").await;
    let cart = browser.follow(&signed_up).await;
    assert_ne!(
        browser.csrf, anonymous_token,
        "signing in renews the CSRF token"
    );
    cart.says(
        StatusCode::OK,
        &[
            "Welcome to Brigade, Ada",
            &name,
            "value=\"2\"",
            "Check out",
            "Log out (Ada)",
        ],
    );

    // Quantities: a bad one is said on its line; a good one is kept.
    let line = format!("/cart/items/{id}");
    browser
        .post(&line, &[("quantity", "lots")])
        .await
        .says(StatusCode::BAD_REQUEST, &["value=\"lots\"", "from 1 to 99"]);
    let updated = browser.post(&line, &[("quantity", "3")]).await;
    browser
        .follow(&updated)
        .await
        .says(StatusCode::OK, &["Your cart is updated", "value=\"3\""]);

    // A shipping estimate by a plain GET form: 3 × 500 g to France is two started kilograms.
    browser.get("/cart?country=FR").await.says(
        StatusCode::OK,
        &[
            "Shipping to France: €5.90 with Brigade Post",
            "value=\"FR\" selected",
        ],
    );
    browser
        .get("/cart?country=XX")
        .await
        .says(StatusCode::OK, &["Choose a country from the list"]);

    // Checkout: every field checked, what was typed kept.
    let form = browser.get("/checkout").await;
    form.says(
        StatusCode::OK,
        &["Delivery address", "Card number", &name, "Total to pay"],
    );
    let attempt = form.input("attempt").unwrap();
    let empty = browser
        .post(
            "/checkout",
            &[
                ("attempt", &attempt),
                ("city", "Paris"),
                ("card_number", "1234"),
            ],
        )
        .await;
    empty.says(
        StatusCode::BAD_REQUEST,
        &[
            "Enter your full name",
            "Enter your street and number",
            "postal code",
            "12 to 19 digits",
            "value=\"Paris\"",
            "value=\"1234\"",
        ],
    );

    // Declined: said next to the card, nothing confirmed, a new attempt for the next try.
    let declined = browser.check_out(DECLINED, Some(&attempt)).await;
    declined.says(
        StatusCode::PAYMENT_REQUIRED,
        &[
            "Your card was declined",
            "Nothing was charged",
            "value=\"Ada Lovelace\"",
        ],
    );
    let retry = declined.input("attempt").unwrap();
    assert_ne!(retry, attempt);

    // Approved: to the order's page, confirmed.
    let confirmed = browser.check_out(APPROVED, Some(&retry)).await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    let order_path = confirmed.header(header::LOCATION).to_owned();
    let order = browser.follow(&confirmed).await;
    order.says(
        StatusCode::OK,
        &[
            "Your order is confirmed",
            "Status: <span class=\"status-confirmed\">Confirmed",
            "Payment approved",
            "Shipping</th><td class=\"num\">€17.90",
            "To Ada Lovelace, 12 Analytical Row, N1 9GU London, GB, with EuroParcel",
            &name,
        ],
    );
    // Shipped within seconds: the tracking number shown, the page no longer following it.
    shipped(&mut browser, &order_path)
        .await
        .says(StatusCode::OK, &["Tracking number: <strong", "Shipped"])
        .lacks(&["hx-trigger"]);
    // The same form sent again (a double click) places no second order.
    let repeat = browser.check_out(APPROVED, Some(&retry)).await;
    assert_eq!(repeat.header(header::LOCATION), order_path);

    let history = browser.get("/orders").await;
    history.says(
        StatusCode::OK,
        &[
            "Confirmed",
            "Cancelled",
            "The payment was declined",
            "Order placed",
            "Shipping €17.90 with EuroParcel · tracking number",
        ],
    );
    assert_eq!(history.links("/orders/").len(), 2, "{}", history.body);

    // The shop wrote to the shopper (from orders' and shipping's events, within moments): the
    // cancellation, the confirmation and the shipment, newest first, linked from the
    // navigation; each opens with its body.
    let mut mailbox = browser.get("/messages").await;
    for _ in 0..100 {
        if mailbox.links("/messages/").len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        mailbox = browser.get("/messages").await;
    }
    mailbox.says(
        StatusCode::OK,
        &[
            "href=\"/messages\"",
            "has shipped",
            "is confirmed",
            "was cancelled",
            "Order cancelled",
        ],
    );
    let links = mailbox.links("/messages/");
    browser.get(&links[0]).await.says(
        StatusCode::OK,
        &["has shipped", "its tracking number is BRG"],
    );
    browser.get(&links[1]).await.says(
        StatusCode::OK,
        &["is confirmed", "Thank you for your order", "<td>", &name],
    );
    // Another shopper's message, or none, is not found.
    for path in [
        "/messages/8f0c4f2e-1c1d-4e6a-9a4b-2b7e5d9c0a11",
        "/messages/latest",
    ] {
        browser
            .get(path)
            .await
            .says(StatusCode::NOT_FOUND, &["There is no message here"]);
    }

    // Log out: the orders are no longer shown.
    let out = browser.post("/logout", &[]).await;
    browser
        .follow(&out)
        .await
        .says(StatusCode::OK, &["You are logged out", "Log in"]);
    let gone = browser.get(&order_path).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(gone.header(header::LOCATION).starts_with("/login?next="));

    // And back in, with the wrong then the right password.
    browser.get("/login").await;
    browser
        .post(
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "wrong password!"),
                ("next", "/orders"),
            ],
        )
        .await
        .says(
            StatusCode::UNAUTHORIZED,
            &[
                "The email or the password is wrong",
                "value=\"ada@example.com\"",
            ],
        );
    let back = browser
        .post(
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
                ("next", "/orders"),
            ],
        )
        .await;
    browser
        .follow(&back)
        .await
        .says(StatusCode::OK, &["Welcome back, Ada", "Confirmed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_payment_is_followed_until_it_settles() {
    let shop = Shop::start(Options {
        slow_card_delay: Some("7s"),
    })
    .await;
    let mut browser = shop.browser();
    let home = browser.get("/").await;
    browser.sign_up("Grace", "grace@example.com").await;
    browser.add_to_cart(&first_product(&home), "1").await;

    let placed = browser.check_out(SLOW, None).await;
    let order_path = placed.header(header::LOCATION).to_owned();
    let pending = browser.follow(&placed).await;
    pending.says(
        StatusCode::OK,
        &[
            "Status: <span class=\"status-pending\">Pending",
            "hx-trigger=\"every 2s\"",
            "<noscript><meta http-equiv=\"refresh\"",
            "Refresh the status",
        ],
    );
    let fragment_path = format!("{order_path}/status");
    assert!(pending
        .body
        .contains(&format!("hx-get=\"{fragment_path}\"")));

    // The fragment htmx asks for says pending, then confirmed, then shipped with its tracking
    // number (and stops asking).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let fragment = browser.get(&fragment_path).await;
        assert_eq!(fragment.status, StatusCode::OK);
        assert!(
            fragment.body.starts_with("<section id=\"order-status\""),
            "{}",
            fragment.body
        );
        if fragment.body.contains("tracking-number") {
            assert!(
                fragment.body.contains("status-confirmed"),
                "{}",
                fragment.body
            );
            assert!(!fragment.body.contains("hx-trigger"), "{}", fragment.body);
            break;
        }
        let waiting = ["Pending", "its tracking number appears here"];
        assert!(
            waiting.iter().any(|w| fragment.body.contains(w)),
            "{}",
            fragment.body
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // Settled, the page no longer reloads itself.
    let settled = browser.get(&order_path).await;
    settled.says(StatusCode::OK, &["Confirmed"]);
    settled.lacks(&["<noscript><meta"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_sold_out_before_checkout_is_named_and_nothing_is_charged() {
    let shop = Shop::start(Options::default()).await;
    let (mut browser, product, _, page) = shop.shopper_on_a_product().await;
    let name = between(&page.body, "<h1>", "</h1>");
    let sku = between(&page.body, "SKU ", "<");
    browser.sign_up("Ada", "ada@example.com").await;
    browser.add_to_cart(&product, "1").await;

    // Someone else buys the last ones.
    let _: inventory_api::StockLevel = brigade_chassis::testing::harness_send_json(
        "inventory",
        http::Method::PUT,
        &format!(
            "{}{}",
            shop.inventory.url(),
            inventory_api::paths::stock_level(&sku)
        ),
        &serde_json::json!({ "stock": 0 }),
    )
    .await
    .unwrap();

    let refused = browser.check_out(APPROVED, None).await;
    refused.says(
        StatusCode::CONFLICT,
        &[
            &format!("{name} is no longer in stock"),
            "nothing was charged",
            "Back to your cart",
        ],
    );
    browser
        .get(&product)
        .await
        .says(StatusCode::OK, &["Out of stock"])
        .lacks(&["Add to cart"]);
    let history = browser.get("/orders").await;
    history.says(StatusCode::OK, &["Cancelled", "Not enough stock"]);
}
