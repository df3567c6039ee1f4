//! The in-process transport (`brigade up --colocate`): an instance served in this process is
//! called without a socket, through the same policies as over HTTP — the deadline, retries,
//! the breaker — and gets the same request (trace context, deadline, request id). The callees
//! here listen nowhere: an answer can only have come in-process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use brigade_chassis::client::{
    self, BreakerState, Colocated, ColocatedHandler, Error, Policy, ServiceClient,
};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::metrics::Metrics;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceExt;

/// A loopback address nothing listens on (bound, then let go).
fn closed_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `router` (in the chassis' middleware, as a running instance has it) as an in-process handler.
fn handler(router: Router) -> ColocatedHandler {
    let app = brigade_chassis::testing::app(router);
    client::colocated_handler(move |request: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(request).await.unwrap() }
    })
}

/// `router` alone as an in-process handler: a callee that enforces no deadline of its own.
fn bare(router: Router) -> ColocatedHandler {
    client::colocated_handler(move |request: Request<Body>| {
        let router = router.clone();
        async move { router.oneshot(request).await.unwrap() }
    })
}

/// A client of `callee` at `address`, which `colocated` may serve in-process.
fn client(
    colocated: &Colocated,
    address: SocketAddr,
    timeout: Duration,
    policy: Policy,
) -> ServiceClient {
    let peers = HashMap::from([("callee".to_owned(), vec![address])]);
    ServiceClient::new(
        "callee",
        Resolver::new(Source::Static(peers)),
        Metrics::new().client,
        client::Options {
            default_timeout: timeout,
        },
    )
    .with_policy(policy)
    .colocated(colocated.clone())
}

/// A callee answering `status` to every request, counting them.
fn counting(status: StatusCode, hits: &Arc<AtomicUsize>) -> Router {
    let hits = hits.clone();
    Router::new().route(
        "/v1/x",
        any(move || {
        hits.fetch_add(1, Ordering::SeqCst);
        async move { (status, axum::Json(json!({ "status": status.as_u16() }))).into_response() }
    }),
    )
}

#[tokio::test]
async fn a_colocated_instance_is_called_in_process_with_the_request_a_socket_would_carry() {
    let address = closed_address();
    let colocated = Colocated::new();
    let echo = Router::new().route(
        "/v1/echo",
        get(|headers: HeaderMap| async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            axum::Json(json!({
                "traceparent": header("traceparent"),
                "deadline_ms": header("brigade-deadline-ms"),
                "host": header("host"),
            }))
        }),
    );
    colocated.insert("callee", address, handler(echo));
    let client = client(
        &colocated,
        address,
        Duration::from_secs(2),
        Policy::default(),
    );

    let seen: Value = client.get_json("/v1/echo").await.unwrap();
    assert!(
        seen["traceparent"].as_str().unwrap().starts_with("00-"),
        "{seen}"
    );
    let deadline: u64 = seen["deadline_ms"].as_str().unwrap().parse().unwrap();
    assert!(deadline > 0 && deadline <= 2000, "{seen}");
    assert_eq!(seen["host"], address.to_string());

    // Only the service the address was registered for is served in-process.
    let other = ServiceClient::new(
        "other",
        Resolver::new(Source::Static(HashMap::from([(
            "other".to_owned(),
            vec![address],
        )]))),
        Metrics::new().client,
        client::Options::default(),
    )
    .colocated(colocated.clone());
    let error = other.get_json::<Value>("/v1/echo").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");

    // Once removed (the instance drains), calls go over HTTP, and meet a closed port.
    colocated.remove(address);
    let error = client.get_json::<Value>("/v1/echo").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.certainly_not_delivered());
}

#[tokio::test]
async fn the_deadline_bounds_an_in_process_call() {
    let address = closed_address();
    let colocated = Colocated::new();
    let slow = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    });
    // Without the middleware, which would answer 504 at the deadline it was sent: the
    // caller's own deadline is what ends the call.
    colocated.insert("callee", address, bare(slow));
    let client = client(
        &colocated,
        address,
        Duration::from_millis(200),
        Policy::default(),
    );

    let started = Instant::now();
    let error = client
        .call(Method::POST, "/v1/slow", None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.to_problem().status, 504);
}

#[tokio::test]
async fn retries_apply_in_process_and_only_where_safe() {
    let address = closed_address();
    let colocated = Colocated::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    // Unavailable twice, then fine.
    let flaky = Router::new().route(
        "/v1/x",
        any(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let status = if n < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                };
                (status, axum::Json(json!({ "n": n }))).into_response()
            }
        }),
    );
    colocated.insert("callee", address, handler(flaky));
    let mut policy = Policy::default();
    policy.retry.backoff.base = Duration::from_millis(1);
    let client = client(&colocated, address, Duration::from_secs(2), policy);

    let answer: Value = client.get_json("/v1/x").await.unwrap();
    assert_eq!(answer["n"], 2);
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // A POST without an idempotency key is not repeated.
    hits.store(0, Ordering::SeqCst);
    let error = client.call(Method::POST, "/v1/x", None).await.unwrap_err();
    assert_eq!(error.to_problem().status, 502, "{error:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_breaker_opens_in_process_and_then_nothing_is_sent() {
    let address = closed_address();
    let colocated = Colocated::new();
    let hits = Arc::new(AtomicUsize::new(0));
    colocated.insert(
        "callee",
        address,
        handler(counting(StatusCode::INTERNAL_SERVER_ERROR, &hits)),
    );
    let mut policy = Policy::default();
    policy.retry.max_attempts = 1;
    policy.breaker.window_calls = 4;
    policy.breaker.minimum_calls = 4;
    let client = client(&colocated, address, Duration::from_secs(2), policy);

    for _ in 0..4 {
        let error = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
        assert_eq!(error.to_problem().status, 502, "{error:?}");
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);
    // Refused without a call: the dependency is not asked while it fails.
    let refused = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
    assert_eq!(refused.to_problem().code(), "dependency-unavailable");
    assert!(refused.certainly_not_delivered());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "the open breaker sent nothing"
    );
}
