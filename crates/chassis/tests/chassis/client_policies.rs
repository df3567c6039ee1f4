//! The client's resilience policies over real sockets: retries, Retry-After, deadlines,
//! the bulkhead, the circuit breaker, outlier ejection and optional dependencies.
//!
//! Each policy's own logic is tested with a paused clock next to it (`src/client/*.rs`); these
//! tests show that the client applies them to real calls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Router;
use brigade_chassis::client::{
    self, Availability, BreakerState, Error, Policy, ServiceClient, Unavailability,
};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::metrics::Metrics;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

/// What the scripted server answers to its n-th request.
#[derive(Debug, Clone, Copy)]
struct Reply {
    status: u16,
    retry_after: Option<u64>,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        retry_after: None,
        delay: Duration::ZERO,
    }
}

/// `status` with `Retry-After: seconds`.
fn wait_reply(status: u16, seconds: u64) -> Reply {
    Reply {
        retry_after: Some(seconds),
        ..reply(status)
    }
}

/// `status` after `delay`.
fn late_reply(status: u16, delay: Duration) -> Reply {
    Reply {
        delay,
        ..reply(status)
    }
}

/// A server answering each request as `script` says, counting the requests.
struct Scripted {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Scripted {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn scripted(script: impl Fn(usize) -> Reply + Clone + Send + Sync + 'static) -> Scripted {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let reply = script(counter.fetch_add(1, Ordering::SeqCst));
        async move {
            tokio::time::sleep(reply.delay).await;
            let status = StatusCode::from_u16(reply.status).unwrap();
            let mut response: Response = (
                status,
                axum::Json(serde_json::json!({ "status": reply.status })),
            )
                .into_response();
            if let Some(seconds) = reply.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    });
    let address = brigade_chassis::testing::serve_in_background(app).await;
    Scripted { address, hits }
}

fn client_for(
    addresses: &[SocketAddr],
    timeout: Duration,
    policy: Policy,
    metrics: &Metrics,
) -> ServiceClient {
    let peers = HashMap::from([("scripted".to_owned(), addresses.to_vec())]);
    ServiceClient::new(
        "scripted",
        Resolver::new(Source::Static(peers)),
        metrics.client.clone(),
        client::Options {
            default_timeout: timeout,
        },
    )
    .with_policy(policy)
}

fn client(server: &Scripted, policy: Policy) -> ServiceClient {
    client_for(
        &[server.address],
        Duration::from_secs(5),
        policy,
        &Metrics::new(),
    )
}

fn status_of(error: &Error) -> Option<u16> {
    match error {
        Error::Status { problem, .. } => Some(problem.status),
        _ => None,
    }
}

/// A policy that retries a failing call up to a thousand times, waiting `pause` before each retry.
fn relentless(pause: Duration) -> Policy {
    let mut policy = Policy::default();
    policy.retry.max_attempts = 1_000;
    policy.retry.backoff.base = pause;
    policy.retry.backoff.cap = pause;
    policy
}

/// Calls `GET /v1/thing`, which must fail: the error, and how long the call took.
async fn failed_get(client: &ServiceClient) -> (Error, Duration) {
    let started = Instant::now();
    let error = client
        .call(Method::GET, "/v1/thing", None)
        .await
        .unwrap_err();
    (error, started.elapsed())
}

#[tokio::test]
async fn an_idempotent_call_is_retried_after_a_5xx_and_a_post_only_with_an_idempotency_key() {
    let flaky = scripted(|n| reply(if n < 2 { 503 } else { 200 })).await;
    let answer = client(&flaky, Policy::default())
        .call(Method::GET, "/v1/thing", None)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(flaky.hits(), 3);

    let failing = scripted(|_| reply(500)).await;
    let posts = client(&failing, Policy::default());
    let error = posts
        .call(
            Method::POST,
            "/v1/thing",
            Some(bytes::Bytes::from_static(b"{}")),
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&error), Some(500));
    assert_eq!(failing.hits(), 1, "a POST without a key is never repeated");

    let mut headers = HeaderMap::new();
    headers.insert("idempotency-key", HeaderValue::from_static("order-1"));
    let error = posts
        .call_with_headers(
            Method::POST,
            "/v1/thing",
            Some(bytes::Bytes::from_static(b"{}")),
            &headers,
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&error), Some(500));
    assert_eq!(failing.hits(), 1 + 3, "three attempts, the default");
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    let conflict = scripted(|_| reply(409)).await;
    let (error, _) = failed_get(&client(&conflict, Policy::default())).await;
    assert_eq!(error.to_problem().status, 409);
    assert_eq!(conflict.hits(), 1);

    // A 429 without Retry-After says nothing about when to come back: not retried either.
    let limited = scripted(|_| reply(429)).await;
    let (error, _) = failed_get(&client(&limited, Policy::default())).await;
    assert_eq!(status_of(&error), Some(429));
    assert_eq!(limited.hits(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_when_it_fits_the_deadline() {
    for status in [429, 503] {
        let server = scripted(move |n| wait_reply(if n == 0 { status } else { 200 }, 1)).await;
        let started = Instant::now();
        let answer = client(&server, Policy::default())
            .call(Method::GET, "/v1/thing", None)
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(server.hits(), 2);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "retried after {:?}, before the Retry-After of {status}",
            started.elapsed()
        );
    }

    // Waiting one second would pass a 500 ms deadline: the caller gets the 429 at once.
    let server = scripted(|_| wait_reply(429, 1)).await;
    let impatient = client_for(
        &[server.address],
        Duration::from_millis(500),
        Policy::default(),
        &Metrics::new(),
    );
    let (error, elapsed) = failed_get(&impatient).await;
    assert_eq!(status_of(&error), Some(429));
    assert_eq!(server.hits(), 1);
    assert!(elapsed < Duration::from_millis(400));
}

#[tokio::test]
async fn retries_stop_before_the_deadline() {
    let failing = scripted(|_| reply(500)).await;
    let policy = relentless(Duration::from_millis(100));
    let deadline = Duration::from_millis(300);
    let client = client_for(&[failing.address], deadline, policy, &Metrics::new());
    let (error, elapsed) = failed_get(&client).await;
    assert!(
        elapsed <= deadline + Duration::from_millis(50),
        "{elapsed:?}"
    );
    // No wait is started that would end past the deadline, so the caller normally gets the
    // dependency's own failure rather than a timeout.
    assert!(
        matches!(error, Error::Status { .. } | Error::Timeout { .. }),
        "{error:?}"
    );
    let hits = failing.hits();
    assert!((2..100).contains(&hits), "{hits} attempts");
}

#[tokio::test]
async fn the_bulkhead_refuses_calls_beyond_its_limit_at_once() {
    let slow = scripted(|_| late_reply(200, Duration::from_millis(300))).await;
    let mut policy = Policy::default();
    policy.bulkhead.max_concurrent = 2;
    let metrics = Metrics::new();
    let client = client_for(&[slow.address], Duration::from_secs(5), policy, &metrics);
    let running: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call(Method::GET, "/v1/slow", None).await })
        })
        .collect();
    while slow.hits() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let error = client
        .call(Method::GET, "/v1/slow", None)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(
        matches!(
            error,
            Error::Unavailable {
                reason: Unavailability::Saturated,
                ..
            }
        ),
        "{error:?}"
    );
    let problem = error.to_problem();
    assert_eq!(problem.status, 503);
    assert_eq!(problem.code(), "dependency-unavailable");
    assert_eq!(slow.hits(), 2, "the refused call was not sent");
    for call in running {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }
    // Capacity is back once the calls in flight have finished.
    assert!(client.call(Method::GET, "/v1/slow", None).await.is_ok());
    assert!(metrics.encode().contains(
        r#"http_client_rejected_calls_total{dependency="scripted",reason="bulkhead_full"} 1"#
    ));
}

#[tokio::test]
async fn a_keyed_write_held_until_its_outcome_is_not_a_slow_call() {
    // Every answer takes 150 ms, past the slow-call threshold: a checkout waiting for its saga,
    // a charge waiting for a slow card.
    let holding = scripted(|_| late_reply(200, Duration::from_millis(150))).await;
    let mut policy = Policy::default();
    policy.breaker.slow_call_threshold = Duration::from_millis(100);
    let client = client(&holding, policy);
    let calls = |keyed: bool, count: usize| {
        let client = client.clone();
        async move {
            let mut headers = HeaderMap::new();
            let method = match keyed {
                true => {
                    headers.insert("idempotency-key", HeaderValue::from_static("k-1"));
                    Method::POST
                }
                false => Method::GET,
            };
            let answers = (0..count)
                .map(|_| client.call_with_headers(method.clone(), "/v1/x", None, &headers));
            for answer in futures_util::future::join_all(answers).await {
                answer.unwrap();
            }
        }
    };
    calls(true, 20).await;
    assert_eq!(
        client.breaker_state(),
        BreakerState::Closed,
        "20 held writes"
    );
    // The same length on reads is the dependency being slow: the breaker opens.
    calls(false, 20).await;
    assert_eq!(client.breaker_state(), BreakerState::Open, "20 slow reads");
}

#[tokio::test]
async fn an_open_breaker_fails_fast_and_a_probe_closes_it() {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let server = scripted(move |n| {
        if n < 10 {
            reply(404)
        } else if flag.load(Ordering::SeqCst) {
            reply(200)
        } else {
            reply(500)
        }
    })
    .await;
    let mut policy = Policy::default();
    policy.retry.max_attempts = 1;
    policy.breaker.window_calls = 4;
    policy.breaker.minimum_calls = 4;
    policy.breaker.open_for = Duration::from_millis(300);
    let metrics = Metrics::new();
    let client = client_for(&[server.address], Duration::from_secs(5), policy, &metrics);

    // 4xx answers are the caller's mistakes, not the dependency's failures.
    for _ in 0..10 {
        let error = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
        assert!(error.is_not_found());
    }
    assert_eq!(client.breaker_state(), BreakerState::Closed);

    // Two failures make half of the last four calls: the breaker opens.
    let error = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
    assert_eq!(status_of(&error), Some(500));
    assert!(!error.certainly_not_delivered(), "it was answered");
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert!(client.unavailable_now().is_none());
    let error = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
    assert_eq!(status_of(&error), Some(500));
    assert_eq!(client.breaker_state(), BreakerState::Open);
    // Known without a call: a caller can refuse work that needs this dependency.
    assert!(
        matches!(
            client.unavailable_now(),
            Some(Error::Unavailable {
                reason: Unavailability::CircuitOpen,
                ..
            })
        ),
        "{:?}",
        client.unavailable_now()
    );
    let started = Instant::now();
    let error = client.call(Method::GET, "/v1/x", None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(50));
    assert!(
        matches!(
            error,
            Error::Unavailable {
                reason: Unavailability::CircuitOpen,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_problem().status, 503);
    assert_eq!(error.to_problem().code(), "dependency-unavailable");
    assert!(error.certainly_not_delivered());
    assert_eq!(server.hits(), 12, "the open breaker sent nothing");
    let exposed = metrics.encode();
    assert!(exposed.contains(r#"http_client_breaker_state{dependency="scripted"} 1"#));
    assert!(exposed.contains(
        r#"http_client_breaker_transitions_total{dependency="scripted",state="open"} 1"#
    ));

    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.breaker_state(), BreakerState::HalfOpen);
    assert_eq!(
        client
            .call(Method::GET, "/v1/x", None)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert!(metrics
        .encode()
        .contains(r#"http_client_breaker_state{dependency="scripted"} 0"#));
}

#[tokio::test]
async fn a_caller_can_tell_a_call_that_never_reached_the_dependency() {
    // Nothing listens on a port just released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client_for(
        &[closed],
        Duration::from_secs(2),
        Policy::default(),
        &Metrics::new(),
    );
    // A POST without a key is not repeated: its refused connection is the answer.
    let error = client
        .call(Method::POST, "/v1/charges", None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.certainly_not_delivered(), "{error:?}");
    // Keyed, it is retried; every attempt is refused, so still nothing was delivered.
    let mut keyed = HeaderMap::new();
    keyed.insert("idempotency-key", HeaderValue::from_static("k"));
    let error = client
        .call_with_headers(Method::POST, "/v1/charges", None, &keyed)
        .await
        .unwrap_err();
    assert!(error.certainly_not_delivered(), "{error:?}");

    // A call that timed out may have been delivered.
    let slow = scripted(|_| Reply {
        delay: Duration::from_secs(5),
        ..reply(200)
    })
    .await;
    let error = client_for(
        &[slow.address],
        Duration::from_millis(100),
        Policy::default(),
        &Metrics::new(),
    )
    .call(Method::POST, "/v1/charges", None)
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(!error.certainly_not_delivered());

    // No instance known: refused before any call, and known before calling.
    let nowhere = client_for(
        &[],
        Duration::from_secs(1),
        Policy::default(),
        &Metrics::new(),
    );
    let error = nowhere.call(Method::GET, "/v1/x", None).await.unwrap_err();
    assert!(error.certainly_not_delivered(), "{error:?}");
    assert!(
        matches!(
            nowhere.unavailable_now(),
            Some(Error::Unavailable {
                reason: Unavailability::NoInstance,
                ..
            })
        ),
        "{:?}",
        nowhere.unavailable_now()
    );
}

#[tokio::test]
async fn an_instance_that_never_answers_costs_a_repeatable_call_half_its_deadline_not_all() {
    // Accepts the connection, never answers: a frozen (SIGSTOPped) or wedged process.
    let frozen = scripted(|_| Reply {
        delay: Duration::from_secs(60),
        ..reply(200)
    })
    .await;
    let healthy = scripted(|_| reply(200)).await;
    let client = client_for(
        &[frozen.address, healthy.address],
        Duration::from_secs(2),
        Policy::default(),
        &Metrics::new(),
    );
    // Sequential calls: each picks either instance until the frozen one has failed once.
    for _ in 0..12 {
        let started = Instant::now();
        let answer = client.call(Method::GET, "/v1/x", None).await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(started.elapsed() < Duration::from_millis(1900));
    }
    assert!(frozen.hits() >= 1, "the frozen instance was never tried");
    assert_eq!(healthy.hits(), 12);

    // A call that may not be repeated waits for its one instance, as before.
    let client = client_for(
        &[frozen.address],
        Duration::from_millis(300),
        Policy::default(),
        &Metrics::new(),
    );
    let error = client.call(Method::POST, "/v1/x", None).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

#[tokio::test]
async fn a_failing_instance_is_ejected_and_calls_keep_succeeding_on_the_healthy_one() {
    let bad = scripted(|_| reply(500)).await;
    let good = scripted(|_| reply(200)).await;
    let metrics = Metrics::new();
    let client = client_for(
        &[bad.address, good.address],
        Duration::from_secs(5),
        Policy::default(),
        &metrics,
    );
    for _ in 0..40 {
        let answer = client.call(Method::GET, "/v1/thing", None).await.unwrap();
        assert_eq!(answer.status, 200);
    }
    // Five failures in a row eject it; nothing is sent to it afterwards.
    assert_eq!(bad.hits(), 5);
    assert_eq!(good.hits(), 40);
    // Every call succeeded after its retry, so the dependency's breaker stayed closed.
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert!(metrics
        .encode()
        .contains(r#"http_client_outlier_ejections_total{dependency="scripted"} 1"#));
}

#[tokio::test]
async fn an_optional_dependency_answers_unavailable_and_passes_the_callers_mistakes_on() {
    let good = scripted(|_| reply(200)).await;
    let answer = client(&good, Policy::default())
        .optional()
        .get_json::<Value>("/v1/thing")
        .await
        .unwrap();
    assert_eq!(answer.into_option().unwrap()["status"], 200);

    let down = scripted(|_| reply(503)).await;
    let answer = client(&down, Policy::default())
        .optional()
        .get_json::<Value>("/v1/thing")
        .await
        .unwrap();
    match answer {
        Availability::Unavailable(error) => assert_eq!(status_of(&error), Some(503)),
        Availability::Available(value) => panic!("available: {value}"),
    }

    let gone = scripted(|_| reply(404)).await;
    let error = client(&gone, Policy::default())
        .optional()
        .get_json::<Value>("/v1/thing")
        .await
        .unwrap_err();
    assert!(error.is_not_found());
}

/// With a paused clock, long waits are exact and instant: a minute-long `Retry-After` is waited
/// for in full when the deadline allows it, and not at all when it does not.
#[tokio::test(start_paused = true)]
async fn retry_after_and_the_deadline_with_a_paused_clock() {
    let server = scripted(|n| wait_reply(if n == 0 { 503 } else { 200 }, 8)).await;
    let mut policy = Policy::default();
    policy.retry.max_retry_after = Duration::from_secs(60);
    let patient = client_for(
        &[server.address],
        Duration::from_secs(10),
        policy,
        &Metrics::new(),
    );
    let started = Instant::now();
    let answer = patient.call(Method::GET, "/v1/thing", None).await.unwrap();
    assert_eq!(answer.status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(8) && waited < Duration::from_secs(9),
        "{waited:?}"
    );

    let server = scripted(|_| wait_reply(503, 8)).await;
    let impatient = client_for(
        &[server.address],
        Duration::from_secs(7),
        policy,
        &Metrics::new(),
    );
    let (error, elapsed) = failed_get(&impatient).await;
    assert_eq!(status_of(&error), Some(503));
    assert_eq!(server.hits(), 1);
    assert!(elapsed < Duration::from_secs(1));
}

/// Backed-off retries with a paused clock: attempts go on while a wait still fits the deadline,
/// then the caller gets the dependency's own failure, never a wait past the deadline.
#[tokio::test(start_paused = true)]
async fn backed_off_retries_never_wait_past_the_deadline_with_a_paused_clock() {
    let failing = scripted(|_| reply(502)).await;
    let policy = relentless(Duration::from_secs(1));
    let deadline = Duration::from_secs(10);
    let client = client_for(&[failing.address], deadline, policy, &Metrics::new());
    let (error, elapsed) = failed_get(&client).await;
    assert!(elapsed < deadline, "{elapsed:?}");
    assert_eq!(status_of(&error), Some(502));
    // Waits of at most 1 s within 10 s: at least ten attempts, far fewer than a thousand.
    let hits = failing.hits();
    assert!((10..1_000).contains(&hits), "{hits} attempts");
}
