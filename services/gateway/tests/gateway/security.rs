//! Attacks on the public API over real sockets (docs/security.md names each test against its
//! OWASP API Security risk): forged and stale access tokens, credential stuffing and scripted
//! sign-ups, checkout automation, mass assignment, headers past their limit, and what every
//! answer tells a browser (security headers, no CORS).

use base64::Engine as _;
use brigade_chassis::auth::{claims_for, Claims, SigningKey, AUDIENCE, ISSUER};
use brigade_chassis::testing::{fetch_json, Instance, JsonAnswer, TestKeys};
use gateway::GatewayService;
use http::{header, Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// `method` `path` at `gateway` with `headers` and a JSON `body`, over a real socket.
async fn send(
    gateway: &Instance,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> JsonAnswer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", gateway.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            body.to_string().into()
        }
        None => Default::default(),
    };
    fetch_json(request.body(body).unwrap()).await
}

async fn with_token(gateway: &Instance, token: &str) -> JsonAnswer {
    let bearer = format!("Bearer {token}");
    send(
        gateway,
        Method::GET,
        "/api/v1/cart",
        &[("authorization", &bearer)],
        None,
    )
    .await
}

fn base64_url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with `header` and `claims`, signed with HMAC-SHA256 under `secret`.
fn hmac_token(kid: &str, claims: &Claims, secret: &[u8]) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// What a service identity token says: orders calling the gateway, fresh.
fn service_identity() -> brigade_chassis::identity::IdentityClaims {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    brigade_chassis::identity::IdentityClaims {
        iss: brigade_chassis::identity::AUTHORITY_ISSUER.to_owned(),
        sub: "orders".to_owned(),
        aud: "gateway".to_owned(),
        iat: now,
        exp: now + 300,
    }
}

/// Every way a token can be forged or stale that the gateway must refuse, by name.
fn attacks(keys: &TestKeys, user: Uuid) -> Vec<(&'static str, String)> {
    let email = "ada@example.com";
    let fresh = || claims_for(user, email, std::time::Duration::from_secs(3600));
    let kid = keys.key.kid();
    // The public key as users publishes it: what an attacker has.
    let jwk = serde_json::to_value(keys.key.public_jwk()).unwrap();
    let x = jwk["x"].as_str().unwrap().to_owned();
    let x_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&x)
        .unwrap();
    let unsigned = format!(
        "{}.{}.",
        base64_url(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#).as_bytes()),
        base64_url(&serde_json::to_vec(&fresh()).unwrap())
    );
    let signed = |claims: &Claims| keys.key.sign(claims).unwrap();
    let mut expired = fresh();
    expired.iat -= 7200;
    expired.exp = expired.iat + 60;
    let mut foreign_audience = fresh();
    foreign_audience.aud = "another-service".to_owned();
    let mut foreign_issuer = fresh();
    foreign_issuer.iss = "someone-else".to_owned();
    assert_eq!(
        (fresh().aud, fresh().iss),
        (AUDIENCE.to_owned(), ISSUER.to_owned())
    );
    let impostor = SigningKey::generate(kid).unwrap();
    let stranger = SigningKey::generate("a-key-nobody-published").unwrap();
    let valid = signed(&fresh());
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut admin = fresh();
    admin.sub = Uuid::new_v4();
    let claims_swapped = format!(
        "{head}.{}.{signature}",
        base64_url(&serde_json::to_vec(&admin).unwrap())
    );
    vec![
        ("alg none", unsigned),
        (
            "HMAC keyed with the public key's text",
            hmac_token(kid, &fresh(), x.as_bytes()),
        ),
        (
            "HMAC keyed with the public key's bytes",
            hmac_token(kid, &fresh(), &x_bytes),
        ),
        ("unknown key id", stranger.sign(&fresh()).unwrap()),
        ("our key id, another key", impostor.sign(&fresh()).unwrap()),
        ("expired", signed(&expired)),
        ("wrong audience", signed(&foreign_audience)),
        ("wrong issuer", signed(&foreign_issuer)),
        ("claims swapped under a valid signature", claims_swapped),
        ("not a JWT", "not.a.token".to_owned()),
        // A service's identity (the header `Brigade-Identity` carries it between services),
        // replayed as a shopper's bearer token: another issuer, another key, no shopper.
        (
            "a service's identity token",
            brigade_chassis::testing::Harness::get().token("orders", "gateway"),
        ),
        // The same claims even under the users' own key: an identity is not a shopper.
        (
            "a service's identity claims under the users' key",
            keys.key.sign(&service_identity()).unwrap(),
        ),
        ("far too long", "a".repeat(5000)),
    ]
}

/// OWASP API2 (broken authentication).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_tokens_are_refused_at_the_gateway() {
    let keys = TestKeys::new();
    let jwks = keys.jwks_path();
    // No cart behind it: a token the gateway accepts goes on to a 503, a refused one stops at 401.
    let gateway = Instance::start::<GatewayService>(&["--jwks-file", &jwks]).await;
    let user = Uuid::new_v4();
    let accepted = with_token(&gateway, &keys.token(user, "ada@example.com")).await;
    assert_eq!(
        accepted.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{accepted:?}"
    );
    for (attack, token) in attacks(&keys, user) {
        let answer = with_token(&gateway, &token).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{attack}: {answer:?}"
        );
        assert_eq!(answer.content_type, "application/problem+json", "{attack}");
        assert!(
            answer.headers.contains_key(header::WWW_AUTHENTICATE),
            "{attack}"
        );
        // The refusal shows nothing of the token.
        assert!(
            !answer
                .body
                .to_string()
                .contains(&token[..token.len().min(40)]),
            "{attack}: {answer:?}"
        );
    }
}

/// A gateway in front of a real users instance, with `limits` as its flags.
async fn with_users(dir: &std::path::Path, limits: &[&str]) -> (Instance, Instance) {
    let url = format!("sqlite://{}", dir.join("users.db").display());
    let users = Instance::start::<users::Users>(&["--database-url", &url]).await;
    let peers = format!("users={}", users.address);
    let mut flags = vec!["--peers", peers.as_str()];
    flags.extend_from_slice(limits);
    (Instance::start::<GatewayService>(&flags).await, users)
}

fn rate_limited(answer: &JsonAnswer, what: &str) -> u64 {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: {answer:?}"
    );
    assert_eq!(
        answer.body["type"], "urn:brigade:problem:rate-limited",
        "{what}"
    );
    let retry: u64 = answer.header(header::RETRY_AFTER).unwrap().parse().unwrap();
    assert!(retry >= 1, "{what}: {retry}");
    assert_eq!(answer.body["retry_after"], retry, "{what}");
    retry
}

/// OWASP API4 and API6: credential stuffing against one account, and scripted sign-ups from one
/// address, stop at their limits with 429 and Retry-After, counted in the gateway's metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_and_sign_up_are_limited_per_account_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (gateway, _users) = with_users(
        dir.path(),
        &[
            "--rate-limit-log-in-per-account",
            "3/1h",
            "--rate-limit-sign-up-per-address",
            "3/1h",
        ],
    )
    .await;
    let sign_up =
        |email: &str| json!({"email": email, "password": "correct horse battery", "name": "Ada"});
    let created = send(
        &gateway,
        Method::POST,
        "/api/v1/users",
        &[],
        Some(sign_up("ada@example.com")),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");

    for guess in ["password1", "letmein", "123456"] {
        let body = json!({"email": "ada@example.com", "password": guess});
        let answer = send(&gateway, Method::POST, "/api/v1/sessions", &[], Some(body)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    }
    // The fourth try is refused before it is checked, even with the right password and the
    // e-mail written another way.
    let body = json!({"email": "ADA@example.com ", "password": "correct horse battery"});
    let refused = send(&gateway, Method::POST, "/api/v1/sessions", &[], Some(body)).await;
    let retry = rate_limited(&refused, "log-in");
    assert!(retry > 60, "three an hour: {retry}");
    assert!(!refused.body.to_string().contains("ada@example.com"));
    // Another account is not held by this one's limit.
    let body = json!({"email": "bob@example.com", "password": "whatever it is"});
    let other = send(&gateway, Method::POST, "/api/v1/sessions", &[], Some(body)).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "{other:?}");

    // Sign-ups from this address: one made above, two more, then refused.
    for email in ["b1@example.com", "b2@example.com"] {
        let answer = send(
            &gateway,
            Method::POST,
            "/api/v1/users",
            &[],
            Some(sign_up(email)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    }
    let refused = send(
        &gateway,
        Method::POST,
        "/api/v1/users",
        &[],
        Some(sign_up("b3@example.com")),
    )
    .await;
    rate_limited(&refused, "sign-up");

    let metrics = gateway.metrics().await;
    for limit in ["log_in_per_account", "sign_up_per_address"] {
        let series = format!("http_server_rate_limited_requests_total{{limit=\"{limit}\"}} 1");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    // Labels name the limit, never the address or the account it held.
    assert!(!metrics.contains("ada@example.com") && !metrics.contains("127.0.0.1"));
}

/// OWASP API6 (sensitive business flows): a shopper's checkouts past the limit are refused
/// before orders is called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_are_limited_per_shopper() {
    let keys = TestKeys::new();
    let jwks = keys.jwks_path();
    let gateway =
        Instance::start::<GatewayService>(&["--jwks-file", &jwks, "--rate-limit-checkout", "2/1h"])
            .await;
    let checkout = |token: String| {
        let gateway = &gateway;
        async move {
            let bearer = format!("Bearer {token}");
            let key = Uuid::new_v4().to_string();
            send(
                gateway,
                Method::POST,
                "/api/v1/checkout",
                &[("authorization", &bearer), ("idempotency-key", &key)],
                Some(json!({"card_number": "4242424242424242"})),
            )
            .await
        }
    };
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    for _ in 0..2 {
        // No orders behind the gateway: an attempt let through is a 503.
        let answer = checkout(keys.token(ada, "ada@example.com")).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    }
    rate_limited(
        &checkout(keys.token(ada, "ada@example.com")).await,
        "checkout",
    );
    let other = checkout(keys.token(bob, "bob@example.com")).await;
    assert_eq!(other.status, StatusCode::SERVICE_UNAVAILABLE, "{other:?}");
}

/// OWASP API3 (property-level authorization): bodies naming what the system decides (a price, a
/// status, a total, an owner) are refused whole at the edge, as the services refuse them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_assignment_of_price_status_or_owner_is_refused() {
    let keys = TestKeys::new();
    let jwks = keys.jwks_path();
    let gateway = Instance::start::<GatewayService>(&["--jwks-file", &jwks]).await;
    let bearer = format!("Bearer {}", keys.token(Uuid::new_v4(), "eve@example.com"));
    let key = Uuid::new_v4().to_string();
    let product = Uuid::new_v4();
    let item = format!("/api/v1/cart/items/{product}");
    let cases = [
        (
            Method::PUT,
            item.as_str(),
            json!({"quantity": 1, "unit_price": {"amount_minor": 1, "currency": "EUR"}}),
        ),
        (
            Method::PUT,
            item.as_str(),
            json!({"quantity": 1, "user_id": Uuid::new_v4()}),
        ),
        (
            Method::POST,
            "/api/v1/checkout",
            json!({"card_number": "4242424242424242", "total": {"amount_minor": 1, "currency": "EUR"}}),
        ),
        (
            Method::POST,
            "/api/v1/checkout",
            json!({"card_number": "4242424242424242", "status": "CONFIRMED"}),
        ),
        (
            Method::POST,
            "/api/v1/checkout",
            json!({"card_number": "4242424242424242", "user_id": Uuid::new_v4()}),
        ),
        (
            Method::POST,
            "/api/v1/users",
            json!({"email": "eve@example.com", "password": "correct horse battery", "name": "Eve", "id": Uuid::new_v4()}),
        ),
    ];
    for (method, path, body) in cases {
        let answer = send(
            &gateway,
            method.clone(),
            path,
            &[("authorization", &bearer), ("idempotency-key", &key)],
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {body}: {answer:?}"
        );
        assert_eq!(answer.body["type"], "urn:brigade:problem:invalid-body");
    }
}

/// OWASP API8 (misconfiguration): every answer carries the security headers, and no CORS
/// header lets another origin's script read an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_security_headers_and_no_cors_grant() {
    let keys = TestKeys::new();
    let jwks = keys.jwks_path();
    let gateway = Instance::start::<GatewayService>(&["--jwks-file", &jwks]).await;
    let origin = [("origin", "https://evil.example")];
    for (method, path) in [
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/api/v1/cart"),
        (Method::POST, "/api/v1/sessions"),
    ] {
        let answer = send(&gateway, method.clone(), path, &origin, None).await;
        let headers = &answer.headers;
        assert_eq!(
            headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{method} {path}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(
            !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "{method} {path}: {headers:?}"
        );
    }
}

/// OWASP API4 (resource consumption): a request whose headers are past the limit is refused
/// before any handler runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused_431() {
    let gateway = Instance::start::<GatewayService>(&[]).await;
    let huge = "x".repeat(40 * 1024);
    let answer = send(
        &gateway,
        Method::GET,
        "/api/v1/openapi.json",
        &[("x-filler", &huge)],
        None,
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{answer:?}"
    );
    assert_eq!(answer.body["type"], "urn:brigade:problem:headers-too-large");
}

/// OWASP API10 (unsafe consumption of APIs): an answer from a service behind the gateway is
/// read as strictly as user input; one that does not have the contract's shape is a 502, never
/// passed on, and nothing of it reaches the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answering_outside_its_contract_is_a_502_that_passes_nothing_on() {
    use axum::routing::post;
    let nonsense = axum::Router::new()
        .route(
            "/v1/sessions",
            post(|| async {
                axum::Json(json!({"access_token": 5, "injected": "<script>x</script>"}))
            }),
        )
        .route(
            "/v1/users",
            post(|| async { (StatusCode::CREATED, "not json at all <script>x</script>") }),
        );
    let users = brigade_chassis::testing::serve_in_background(nonsense).await;
    let peers = format!("users={users}");
    let gateway = Instance::start::<GatewayService>(&["--peers", &peers]).await;
    let credentials = json!({"email": "ada@example.com", "password": "correct horse battery"});
    let sign_up =
        json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"});
    for (path, body) in [
        ("/api/v1/sessions", credentials),
        ("/api/v1/users", sign_up),
    ] {
        let answer = send(&gateway, Method::POST, path, &[], Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{path}: {answer:?}");
        assert_eq!(answer.body["type"], "urn:brigade:problem:bad-gateway");
        assert!(!answer.body.to_string().contains("script"), "{answer:?}");
    }
}

/// OWASP API7 (server-side request forgery): no route fetches a URL a caller gives. A canary
/// listener's address is put everywhere a caller can put text (path, query, body, headers); the
/// requests are answered, and the canary was never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_given_by_callers_are_never_fetched() {
    let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/steal", canary.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (gateway, _users) = with_users(dir.path(), &[]).await;
    let encoded = serde_urlencoded::to_string([("u", url.as_str())]).unwrap();
    let encoded = encoded.trim_start_matches("u=");
    let headers = [
        ("referer", url.as_str()),
        ("x-forwarded-host", url.as_str()),
        ("forwarded", url.as_str()),
    ];
    let requests = [
        (Method::GET, format!("/api/v1/products/{encoded}"), None),
        (Method::GET, format!("/api/v1/products?q={encoded}"), None),
        (
            Method::GET,
            format!("/api/v1/convert?from={encoded}&to=EUR&amount_minor=1"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            Some(
                json!({"email": "ssrf@example.com", "password": "correct horse battery", "name": url}),
            ),
        ),
        (
            Method::POST,
            "/api/v1/shipping/quote".to_owned(),
            Some(json!({"country": url, "items": []})),
        ),
    ];
    for (method, path, body) in requests {
        let answer = send(&gateway, method.clone(), &path, &headers, body).await;
        assert!(
            answer.status.as_u16() < 500 || answer.status == StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {answer:?}"
        );
    }
    // Every request has been answered: a fetch of the canary would have connected by now.
    let connected =
        tokio::time::timeout(std::time::Duration::from_millis(200), canary.accept()).await;
    assert!(connected.is_err(), "the gateway fetched a caller's URL");
}
