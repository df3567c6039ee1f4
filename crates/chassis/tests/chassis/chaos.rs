//! Fault injection: inert without `--chaos`; with it, rules set through `/v1/chaos` add latency,
//! errors and aborts to the routes they name, never to health, metrics or the admin API.

use std::time::Duration;

use ::http::{Method, Request, StatusCode};
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use brigade_chassis::chaos::Chaos;
use brigade_chassis::http::{self, Limits, Protection};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::plain::PlainClient;
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{self, Instance};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::support::{get_answer, get_status};

const INFO: ServiceInfo = ServiceInfo {
    name: "victim",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

fn routes() -> Router {
    Router::new()
        .route(
            "/v1/products",
            get(|| async { axum::Json(json!({"ok": "products"})) }),
        )
        .route(
            "/v1/products/{id}",
            get(|| async { axum::Json(json!({"ok": "product"})) }),
        )
        .route(
            "/v1/orders",
            get(|| async { axum::Json(json!({"ok": "orders"})) }),
        )
}

/// The routes wrapped as a service started with `--chaos` wraps them, in process.
fn chaotic_app(metrics: Metrics) -> Router {
    let guard = testing::Harness::get().guard(INFO.name, &metrics);
    http::wrap_with(
        routes(),
        metrics,
        Limits::default(),
        Protection {
            chaos: Some(Chaos::new()),
            ..Protection::default()
        },
    )
    .layer(axum::Extension(guard))
}

/// The harness's identity for the test's instance: setting and clearing rules is an
/// operator's, and the harness is accepted wherever an operator is.
fn harness_identity() -> String {
    testing::Harness::get().token(testing::HARNESS, INFO.name)
}

/// `method` `url` with `body`, as the harness (the rules' admin routes want an identity).
async fn send_as_harness(
    client: &PlainClient,
    method: Method,
    url: &str,
    body: Option<Bytes>,
) -> brigade_chassis::plain::Answer {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header(brigade_chassis::identity::HEADER, harness_identity())
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(body.unwrap_or_default()))
        .unwrap();
    client.send_request(request).await.unwrap()
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn put_rules(body: &str) -> Request<Body> {
    Request::put("/v1/chaos")
        .header("content-type", "application/json")
        .header(brigade_chassis::identity::HEADER, harness_identity())
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn set_rules(app: &Router, rules: Value) {
    let answer = testing::send_json(app, put_rules(&rules.to_string())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// An instance started with `--chaos` whose rules are set to `rules`, and a client to call it.
async fn faulted_instance(rules: Value) -> (Instance, PlainClient) {
    let instance = Instance::start_custom(INFO, &["--chaos"], |_ctx| async { Ok(routes()) }).await;
    let client = PlainClient::default();
    let set = send_as_harness(
        &client,
        Method::PUT,
        &format!("{}/v1/chaos", instance.url()),
        Some(Bytes::from(rules.to_string())),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);
    (instance, client)
}

#[tokio::test]
async fn without_the_flag_there_is_no_admin_api_and_nothing_is_injected() {
    let instance = Instance::start_custom(INFO, &[], |_ctx| async { Ok(routes()) }).await;
    let client = PlainClient::default();
    let url = |path: &str| format!("{}{path}", instance.url());
    let rules = Bytes::from(json!({"rules": [{"error_rate": 1.0}]}).to_string());
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(rules)),
        (Method::DELETE, None),
    ] {
        let answer = client
            .send(method.clone(), &url("/v1/chaos"), body)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} /v1/chaos");
        let problem: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(problem["type"], "urn:brigade:problem:not-found");
    }
    for _ in 0..20 {
        assert_eq!(
            get_status(&client, &url("/v1/orders")).await,
            StatusCode::OK
        );
    }
    let text = instance.metrics().await;
    assert!(
        !text.contains("http_server_injected_faults_total{"),
        "{text}"
    );
    instance.stop().await.unwrap();
}

#[tokio::test]
async fn errors_hit_the_named_route_only_and_clearing_restores_service() {
    let (instance, client) =
        faulted_instance(json!({"rules": [{"route": "/v1/products", "error_rate": 1.0}]})).await;
    let url = |path: &str| format!("{}{path}", instance.url());

    for path in ["/v1/products", "/v1/products/42"] {
        let faulted = get_answer(&client, &url(path)).await;
        assert_eq!(faulted.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(faulted.headers["content-type"], "application/problem+json");
        let problem: Value = serde_json::from_slice(&faulted.body).unwrap();
        assert_eq!(problem["type"], "urn:brigade:problem:injected-fault");
        assert_eq!(problem["trace_id"].as_str().unwrap().len(), 32);
    }
    for path in ["/v1/orders", "/livez", "/readyz", "/metrics"] {
        assert_eq!(
            get_status(&client, &url(path)).await,
            StatusCode::OK,
            "{path} was faulted"
        );
    }

    let shown = get_answer(&client, &url("/v1/chaos")).await;
    let shown: Value = serde_json::from_slice(&shown.body).unwrap();
    assert_eq!(
        shown,
        json!({"rules": [{"route": "/v1/products", "latency_ms": 0, "error_rate": 1.0, "abort_rate": 0.0}]})
    );
    let text = instance.metrics().await;
    assert!(
        text.contains(r#"http_server_injected_faults_total{route="/v1/products",kind="error"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_server_injected_faults_total{route="/v1/products/{id}",kind="error"} 1"#
        ),
        "{text}"
    );

    let cleared = send_as_harness(&client, Method::DELETE, &url("/v1/chaos"), None).await;
    assert_eq!(cleared.status, StatusCode::OK);
    let cleared: Value = serde_json::from_slice(&cleared.body).unwrap();
    assert_eq!(cleared, json!({"rules": []}));
    assert_eq!(
        get_status(&client, &url("/v1/products")).await,
        StatusCode::OK
    );
    instance.stop().await.unwrap();
}

#[tokio::test]
async fn an_abort_closes_the_connection_without_an_answer() {
    let (instance, client) =
        faulted_instance(json!({"rules": [{"route": "/v1/orders", "abort_rate": 1.0}]})).await;
    let url = |path: &str| format!("{}{path}", instance.url());

    let aborted = client.send(Method::GET, &url("/v1/orders"), None).await;
    // Not even a status line: the connection closes before any answer.
    match aborted {
        Err(brigade_chassis::plain::Error::Transport { .. }) => {}
        other => panic!("expected a connection closed without an answer, got {other:?}"),
    }
    // The instance itself is fine: other routes and the admin API still answer.
    assert_eq!(
        get_status(&client, &url("/v1/products")).await,
        StatusCode::OK
    );
    let cleared = send_as_harness(&client, Method::DELETE, &url("/v1/chaos"), None).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(
        get_status(&client, &url("/v1/orders")).await,
        StatusCode::OK
    );
    instance.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_within_the_deadline() {
    let metrics = Metrics::new();
    let app = chaotic_app(metrics.clone());
    set_rules(
        &app,
        json!({"rules": [{"route": "/v1/products", "latency_ms": 2000}]}),
    )
    .await;

    let started = Instant::now();
    let slow = testing::send_json(&app, get_request("/v1/products")).await;
    assert_eq!(slow.status, StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_millis(2000));

    let started = Instant::now();
    let fast = testing::send_json(&app, get_request("/v1/orders")).await;
    assert_eq!(fast.status, StatusCode::OK);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "another route was delayed"
    );

    // A caller with 500 ms left gets its 504 when its deadline passes, not after the latency.
    let started = Instant::now();
    let late = testing::send_json(
        &app,
        Request::get("/v1/products")
            .header("brigade-deadline-ms", "500")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(late.body["type"], "urn:brigade:problem:deadline-exceeded");
    assert_eq!(started.elapsed(), Duration::from_millis(500));

    let text = metrics.encode();
    assert!(
        text.contains(
            r#"http_server_injected_faults_total{route="/v1/products",kind="latency"} 2"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_zero_rate_injects_nothing_and_a_certain_one_always() {
    let app = chaotic_app(Metrics::new());
    set_rules(
        &app,
        json!({"rules": [{"error_rate": 0.0, "abort_rate": 0.0}]}),
    )
    .await;
    for _ in 0..200 {
        let answer = testing::send_json(&app, get_request("/v1/orders")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // A whole-service rule: every business route is faulted, the admin API is not.
    set_rules(&app, json!({"rules": [{"error_rate": 1.0}]})).await;
    for path in ["/v1/orders", "/v1/products", "/v1/products/7"] {
        for _ in 0..50 {
            let answer = testing::send_json(&app, get_request(path)).await;
            assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert_eq!(answer.body["type"], "urn:brigade:problem:injected-fault");
        }
    }
    let shown = testing::send_json(&app, get_request("/v1/chaos")).await;
    assert_eq!(shown.status, StatusCode::OK);
}

#[tokio::test]
async fn the_most_specific_rule_applies() {
    let app = chaotic_app(Metrics::new());
    set_rules(
        &app,
        json!({"rules": [{"error_rate": 1.0}, {"route": "/v1/products", "error_rate": 0.0}]}),
    )
    .await;
    let products = testing::send_json(&app, get_request("/v1/products/1")).await;
    assert_eq!(products.status, StatusCode::OK);
    let orders = testing::send_json(&app, get_request("/v1/orders")).await;
    assert_eq!(orders.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_rules_are_refused_with_a_problem_naming_the_field_and_change_nothing() {
    let app = chaotic_app(Metrics::new());
    let good = json!({"rules": [{"route": "/v1/orders", "latency_ms": 10}]});
    set_rules(&app, good.clone()).await;
    let too_many: Vec<Value> = (0..33).map(|_| json!({"error_rate": 0.1})).collect();
    for (body, status, code, parameter) in [
        (
            json!({"rules": [{"error_rate": 1.5}]}).to_string(),
            400,
            "invalid-parameter",
            Some("rules[0].error_rate"),
        ),
        (
            json!({"rules": [{"abort_rate": 0.1}, {"abort_rate": -0.1}]}).to_string(),
            400,
            "invalid-parameter",
            Some("rules[1].abort_rate"),
        ),
        (
            json!({"rules": [{"latency_ms": 60_001}]}).to_string(),
            400,
            "invalid-parameter",
            Some("rules[0].latency_ms"),
        ),
        (
            json!({"rules": [{"route": "v1/orders"}]}).to_string(),
            400,
            "invalid-parameter",
            Some("rules[0].route"),
        ),
        (
            json!({"rules": too_many}).to_string(),
            400,
            "invalid-parameter",
            Some("rules"),
        ),
        (
            json!({"rules": [{"latency": 10}]}).to_string(),
            422,
            "invalid-body",
            None,
        ),
        (
            json!({"rules": [{"error_rate": "half"}]}).to_string(),
            422,
            "invalid-body",
            None,
        ),
        (json!({}).to_string(), 422, "invalid-body", None),
        ("{not json".to_owned(), 400, "bad-request", None),
    ] {
        let answer = testing::send_json(&app, put_rules(&body)).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(
            answer.body["type"],
            format!("urn:brigade:problem:{code}"),
            "{body}"
        );
        if let Some(parameter) = parameter {
            assert_eq!(answer.body["parameter"], parameter, "{body}");
        }
        assert!(!answer.body["detail"].as_str().unwrap().is_empty());
    }
    let no_type = testing::send_json(
        &app,
        Request::put("/v1/chaos")
            .header(brigade_chassis::identity::HEADER, harness_identity())
            .body(Body::from(good.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let shown = testing::send_json(&app, get_request("/v1/chaos")).await;
    assert_eq!(shown.body["rules"][0]["route"], "/v1/orders");
    assert_eq!(shown.body["rules"].as_array().unwrap().len(), 1);
}
