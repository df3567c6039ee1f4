//! Security headers on every page, the session cookie's flags, forms refused without the
//! session's CSRF token, and the log-in and sign-up forms' rate limits.
use brigade_chassis::testing::Instance;
use http::{header, Method, StatusCode};

use crate::support::{first_product, Browser, Options, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_a_sealed_session_cookie() {
    let shop = Shop::start(Options::default()).await;
    let mut browser = shop.browser();
    let home = browser.get("/").await;
    browser.get(&first_product(&home)).await;
    assert_eq!(home.status, StatusCode::OK);
    let csp = home.header(header::CONTENT_SECURITY_POLICY);
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(home.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(home.header(header::REFERRER_POLICY), "same-origin");
    assert_eq!(home.header(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(home.header(header::CACHE_CONTROL), "no-store");
    // No inline script or style anywhere: the policy would block it.
    assert!(
        !home.body.contains("<script>") && !home.body.contains("style="),
        "{}",
        home.body
    );

    let cookie = home.header(header::SET_COOKIE).to_owned();
    assert!(
        cookie.starts_with(&format!("{}=", storefront::SESSION_COOKIE)),
        "{cookie}"
    );
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Sealed: the value says nothing of the CSRF token inside.
    let token = browser.csrf.clone().unwrap();
    assert!(!cookie.contains(&token), "{cookie}");
    // An unchanged session is not sent again.
    let again = browser.get("/").await;
    assert!(
        again.header(header::SET_COOKIE).is_empty(),
        "{:?}",
        again.headers
    );

    // Behind a TLS-terminating proxy the cookie is Secure.
    let mut over_tls = shop.browser();
    let page = over_tls
        .send(Method::GET, "/", &[("x-forwarded-proto", "https")], None)
        .await;
    assert!(
        page.header(header::SET_COOKIE).contains("Secure"),
        "{:?}",
        page.headers
    );

    // A tampered cookie opens no session: a new one is given.
    let mut tampered = shop.browser();
    tampered.set_cookie(Some(format!(
        "{}=AAAA{}",
        storefront::SESSION_COOKIE,
        &cookie[20..60]
    )));
    let fresh = tampered.get("/").await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(!fresh.header(header::SET_COOKIE).is_empty());
    assert_ne!(tampered.csrf.as_deref(), Some(token.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_sessions_csrf_token_are_refused_and_change_nothing() {
    let shop = Shop::start(Options::default()).await;
    let (mut browser, product, id, _) = shop.shopper_on_a_product().await;

    let forged = browser
        .post_raw("/cart/add", &[("product_id", &id), ("quantity", "1")])
        .await;
    forged.says(
        StatusCode::FORBIDDEN,
        &["This form has expired", "Nothing was changed"],
    );
    let wrong = browser
        .post_raw(
            "/cart/add",
            &[
                ("csrf", "0123456789abcdef"),
                ("product_id", &id),
                ("quantity", "1"),
            ],
        )
        .await;
    wrong.says(StatusCode::FORBIDDEN, &["This form has expired"]);
    // Another session's token is no good either.
    let mut other = Browser::new(&shop.storefront.url());
    other.get(&product).await;
    let stolen = other.csrf.clone().unwrap();
    browser
        .post_raw(
            "/cart/add",
            &[("csrf", &stolen), ("product_id", &id), ("quantity", "1")],
        )
        .await
        .says(StatusCode::FORBIDDEN, &[]);
    for path in ["/signup", "/login", "/logout", "/checkout"] {
        browser
            .post_raw(path, &[])
            .await
            .says(StatusCode::FORBIDDEN, &["This form has expired"]);
    }
    browser
        .get("/cart")
        .await
        .says(StatusCode::OK, &["Your cart is empty"]);

    // With the token, the same form works.
    let added = browser
        .post("/cart/add", &[("product_id", &id), ("quantity", "2")])
        .await;
    let cart = browser.follow(&added).await;
    cart.says(StatusCode::OK, &["Added to your cart", "value=\"2\""]);
    // The line's "Remove" button.
    let line = format!("/cart/items/{id}");
    let removed = browser
        .post(&line, &[("quantity", "2"), ("action", "remove")])
        .await;
    browser.follow(&removed).await.says(
        StatusCode::OK,
        &["Removed from your cart", "Your cart is empty"],
    );
}

/// OWASP API4 and API6: password guessing against one account through the log-in form stops at
/// the limit with a 429 page saying when to try again (`Retry-After` too), and sign-ups from one
/// address likewise. A storefront in front of a real users service, nothing else needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_and_sign_up_forms_are_rate_limited_with_a_page_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let users = Instance::start::<users::Users>(&["--database-url", &url]).await;
    let peers = format!("users={}", users.address);
    let storefront = Instance::start::<storefront::StorefrontService>(&[
        "--peers",
        &peers,
        "--rate-limit-log-in-per-account",
        "2/1h",
        "--rate-limit-sign-up-per-address",
        "2/1h",
    ])
    .await;
    let mut browser = Browser::new(&storefront.url());
    browser.get("/login").await;
    for guess in ["password1", "letmein"] {
        let fields = [("email", "ada@example.com"), ("password", guess)];
        let page = browser.post("/login", &fields).await;
        page.says(
            StatusCode::UNAUTHORIZED,
            &["The email or the password is wrong"],
        );
    }
    let fields = [("email", "ada@example.com"), ("password", "one more guess")];
    let refused = browser.post("/login", &fields).await;
    refused.says(
        StatusCode::TOO_MANY_REQUESTS,
        &["Too many attempts", "minutes"],
    );
    let retry: u64 = refused.header(header::RETRY_AFTER).parse().unwrap();
    assert!(retry > 60, "{retry}");
    assert_eq!(refused.header(header::X_FRAME_OPTIONS), "DENY");

    // Sign-ups from one address (each a new visitor): two, then refused.
    for (n, status) in [
        (1, StatusCode::SEE_OTHER),
        (2, StatusCode::SEE_OTHER),
        (3, StatusCode::TOO_MANY_REQUESTS),
    ] {
        let mut visitor = Browser::new(&storefront.url());
        visitor.get("/signup").await;
        let email = format!("new{n}@example.com");
        let fields = [
            ("name", "New"),
            ("email", email.as_str()),
            ("password", "correct horse battery"),
        ];
        let page = visitor.post("/signup", &fields).await;
        assert_eq!(page.status, status, "{}", page.body);
    }
    let metrics = storefront.metrics().await;
    for limit in ["log_in_per_account", "sign_up_per_address"] {
        let series = format!("http_server_rate_limited_requests_total{{limit=\"{limit}\"}} 1");
        assert!(metrics.contains(&series), "{series}");
    }
}
