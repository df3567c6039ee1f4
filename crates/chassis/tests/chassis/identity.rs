//! Service identity, attacked: a route that takes calls from one service only, called without
//! an identity, as another service, with forged, expired, foreign and misplaced tokens; the
//! local authority's tokens fetched, cached and renewed across key rotations without a failed
//! call; an instance without identity configuration refusing to start.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use brigade_chassis::auth::SigningKey;
use brigade_chassis::authority::{Authority, Minted};
use brigade_chassis::guard::{callers, Guard};
use brigade_chassis::identity::{
    AuthorityTokens, IdentityClaims, Presenter, AUTHORITY_ISSUER, HEADER, JWKS_PATH, OPERATOR,
};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{
    self, serve_in_background, Harness, Instance, TestApp, HARNESS_AUDIENCE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A payments-like route: only orders may charge, orders and operators may refund.
fn money_routes() -> Router {
    Router::new()
        .route(
            "/v1/charges",
            post(|| async { (StatusCode::CREATED, axum::Json(serde_json::json!({}))) })
                .route_layer(callers(&["orders"])),
        )
        .route(
            "/v1/charges/{id}/refund",
            post(|| async { axum::Json(serde_json::json!({})) })
                .route_layer(callers(&["orders", OPERATOR])),
        )
}

fn claims(sub: &str, aud: &str, life: i64) -> IdentityClaims {
    let now = brigade_chassis::time::unix_ms() as i64 / 1000;
    IdentityClaims {
        iss: AUTHORITY_ISSUER.to_owned(),
        sub: sub.to_owned(),
        aud: aud.to_owned(),
        iat: now as u64,
        exp: (now + life) as u64,
    }
}

#[tokio::test]
async fn a_route_takes_only_the_callers_it_declares() {
    let app = TestApp::new(money_routes());
    let charge = || app.call(Method::POST, "/v1/charges");

    let anonymous = charge().without_identity().send().await;
    anonymous.problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");

    let gateway = charge().caller("gateway").send().await;
    gateway.problem(
        StatusCode::FORBIDDEN,
        "caller-not-accepted",
        "may not call this route",
    );

    assert_eq!(
        charge().caller("orders").send().await.status,
        StatusCode::CREATED
    );

    let refund = |caller: &str| {
        app.call(Method::POST, "/v1/charges/c1/refund")
            .caller(caller)
            .send()
    };
    assert_eq!(refund(OPERATOR).await.status, StatusCode::OK);
    assert_eq!(refund("orders").await.status, StatusCode::OK);
    refund("gateway").await.problem(
        StatusCode::FORBIDDEN,
        "caller-not-accepted",
        "may not call this route",
    );
}

#[tokio::test]
async fn forged_expired_foreign_and_misplaced_tokens_are_refused() {
    let app = TestApp::new(money_routes());
    let harness = Harness::get();
    let as_token = |token: String| {
        let request = app.call(Method::POST, "/v1/charges").identity_token(&token);
        async move { request.send().await }
    };

    // Signed by a key the authority never published, with the authority's key id shape.
    let impostor = SigningKey::generate("cp-1-forged").unwrap();
    let forged = impostor
        .sign(&claims("orders", HARNESS_AUDIENCE, 60))
        .unwrap();
    as_token(forged)
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");

    // Orders' token for another service (audience-bound): not good here.
    let elsewhere = harness.token("orders", "inventory");
    as_token(elsewhere)
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");

    // A shopper's access token is not a service's identity.
    let keys = testing::TestKeys::new();
    let shopper = keys.token(uuid::Uuid::new_v4(), "ada@example.com");
    as_token(shopper)
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");

    // `alg: none`, naming orders.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_vec(&claims("orders", HARNESS_AUDIENCE, 60)).unwrap())
    );
    as_token(unsigned)
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");

    // A development identity is not believed by an instance with real identities.
    as_token("dev:orders".to_owned()).await.problem(
        StatusCode::UNAUTHORIZED,
        "identity-required",
        "identity",
    );
}

/// What a token says, unverified (the test reads what it was given).
fn claims_of(token: &str) -> IdentityClaims {
    use base64::Engine;
    let body = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn an_expired_token_of_a_trusted_key_is_refused() {
    let key = SigningKey::generate("k1").unwrap();
    let jwks = jsonwebtoken::jwk::JwkSet {
        keys: vec![key.public_jwk().clone()],
    };
    let verifier = brigade_chassis::auth::Verifier::from_jwks(&jwks).unwrap();
    let guard = Guard::signed(
        "payments",
        verifier,
        AUTHORITY_ISSUER,
        "payments",
        &Metrics::new(),
    );
    let headers = |token: String| {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(&token).unwrap());
        headers
    };
    let fresh = key.sign(&claims("orders", "payments", 60)).unwrap();
    let caller = guard.admit(&headers(fresh), &["orders"]).await.unwrap();
    assert_eq!(&*caller.service, "orders");
    let mut old = claims("orders", "payments", -600);
    old.iat -= 600;
    let expired = key.sign(&old).unwrap();
    assert!(guard.admit(&headers(expired), &["orders"]).await.is_err());
    let mut foreign = claims("orders", "payments", 60);
    foreign.iss = "someone-else".to_owned();
    let foreign = key.sign(&foreign).unwrap();
    assert!(guard.admit(&headers(foreign), &["orders"]).await.is_err());
}

#[tokio::test]
async fn refusals_are_counted_by_route_and_reason() {
    let metrics = Metrics::new();
    let guard = Harness::get().guard("payments", &metrics);
    let app = brigade_chassis::http::wrap(
        money_routes(),
        metrics.clone(),
        brigade_chassis::http::Limits::default(),
    )
    .layer(axum::Extension(guard));
    testing::TestRequest::to(&app, Method::POST, "/v1/charges")
        .without_identity()
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");
    let exposition = metrics.encode();
    assert!(
        exposition
            .contains(r#"brigade_identity_refused_total{route="/v1/charges",reason="missing"} 1"#),
        "{exposition}"
    );
}

/// The authority on a real socket, its routes as the control port serves them.
async fn serve_authority(authority: &Authority) -> String {
    let routes = authority.routes(Arc::new(|presented: &str| presented == "operator-secret"));
    format!("http://{}", serve_in_background(routes).await)
}

#[tokio::test]
async fn tokens_from_the_authority_survive_key_rotations_without_a_failed_call() {
    // Tokens live 3 s (renewed after 2 s), keys rotate every few calls: every call must still
    // be verified, by a guard that learns the keys from the authority's JWKS.
    let authority = Authority::new(Duration::from_secs(3), Duration::ZERO).unwrap();
    let url = serve_authority(&authority).await;
    let secret = authority.enrol(&["orders".to_owned()]).unwrap();
    let tokens = AuthorityTokens::new(&url, secret, "orders");
    let guard = Guard::authority("payments", &format!("{url}{JWKS_PATH}"), &Metrics::new());
    let mut key_ids = std::collections::HashSet::new();
    for call in 0..40 {
        if call % 8 == 4 {
            authority.publish_next().unwrap();
            assert!(authority.promote());
        }
        let token = tokens.token_for("payments").await.unwrap();
        key_ids.insert(
            jsonwebtoken::decode_header(token.as_bytes())
                .unwrap()
                .kid
                .unwrap(),
        );
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(&token).unwrap());
        let caller = guard.admit(&headers, &["orders"]).await;
        assert!(caller.is_ok(), "call {call}: {caller:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        key_ids.len() >= 2,
        "the tokens were renewed under new keys: {key_ids:?}"
    );
}

#[tokio::test]
async fn the_authority_speaks_for_enrolled_services_and_operators_only() {
    let authority = Authority::new(Duration::from_secs(60), Duration::ZERO).unwrap();
    let url = serve_authority(&authority).await;
    let secret = authority.enrol(&["gateway".to_owned()]).unwrap();
    // The gateway's secret does not make it orders.
    let posing = AuthorityTokens::new(&url, secret.clone(), "orders");
    assert!(posing.token_for("payments").await.is_err());
    let guessing = AuthorityTokens::new(&url, "guessed".to_owned(), "gateway");
    assert!(guessing.token_for("payments").await.is_err());
    assert!(AuthorityTokens::new(&url, secret, "gateway")
        .token_for("catalog")
        .await
        .is_ok());

    let operator = |credential: &str| {
        let body = serde_json::json!({ "audience": "payments" }).to_string();
        http::Request::builder()
            .method(Method::POST)
            .uri(format!("{url}/v1/identity/operator-token"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::AUTHORIZATION, format!("Bearer {credential}"))
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap()
    };
    let refused = testing::fetch_json(operator("wrong")).await;
    // The control port's own answer (outside the chassis' middleware: no trace id to carry).
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.body["type"],
        "urn:brigade:problem:identity-required"
    );
    let minted = testing::fetch_json(operator("operator-secret")).await.ok();
    let token = minted["token"].as_str().unwrap();
    let claims = claims_of(token);
    assert_eq!(
        (claims.sub.as_str(), claims.aud.as_str()),
        (OPERATOR, "payments")
    );
}

const CALLEE: ServiceInfo = ServiceInfo {
    name: "payments",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

#[tokio::test]
async fn an_instance_presents_its_own_name_and_is_checked_by_its_callee() {
    let callee =
        Instance::start_custom(CALLEE, &[], |_ctx| async move { Ok(money_routes()) }).await;
    let address = vec![callee.address];
    let as_orders = testing::static_client_as("payments", address.clone(), "orders");
    assert!(as_orders
        .call(Method::POST, "/v1/charges", None)
        .await
        .is_ok());
    let as_gateway = testing::static_client_as("payments", address.clone(), "gateway");
    let refused = as_gateway
        .call(Method::POST, "/v1/charges", None)
        .await
        .unwrap_err();
    assert_eq!(refused.to_problem().status, 403);
    let nobody = testing::static_client_without_identity("payments", address);
    let refused = nobody
        .call(Method::POST, "/v1/charges", None)
        .await
        .unwrap_err();
    assert_eq!(refused.to_problem().status, 401);
    // Health and metrics stay open.
    let health = nobody.call(Method::GET, "/livez", None).await;
    assert!(health.is_ok());
    callee.stop().await.unwrap();
}

#[tokio::test]
async fn development_identities_are_believed_only_in_development() {
    let callee = Instance::start_custom(CALLEE, &["--identity", "dev"], |_ctx| async move {
        Ok(money_routes())
    })
    .await;
    let call = |token: &'static str| {
        let url = format!("{}/v1/charges", callee.url());
        async move {
            let request = http::Request::builder()
                .method(Method::POST)
                .uri(url)
                .header(HEADER, token)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            testing::fetch_json(request).await.status
        }
    };
    assert_eq!(call("dev:orders").await, StatusCode::CREATED);
    assert_eq!(call("dev:gateway").await, StatusCode::FORBIDDEN);
    assert_eq!(call("orders").await, StatusCode::UNAUTHORIZED);
    callee.stop().await.unwrap();
}

#[tokio::test]
async fn an_instance_without_identity_configuration_refuses_to_start() {
    let (listener, _) = testing::loopback_listener().await;
    let args = testing::service_args(&["--identity", "auto", "--log", "warn"]);
    let served = brigade_chassis::service::serve(
        CALLEE,
        args,
        listener,
        |_ctx| async move { Ok(Router::new()) },
        std::future::pending(),
    )
    .await;
    let error = served.unwrap_err().to_string();
    assert!(error.contains("--identity dev"), "{error}");
    assert!(error.contains("brigade up"), "{error}");
}

#[tokio::test]
async fn a_minted_identity_names_its_service_to_each_audience() {
    let authority = Harness::get().authority().clone();
    let minted = Minted::new(authority, "cart");
    let token = minted.token_for("catalog").await.unwrap();
    let claims = claims_of(&token[..]);
    assert_eq!(
        (claims.sub.as_str(), claims.aud.as_str()),
        ("cart", "catalog")
    );
}
