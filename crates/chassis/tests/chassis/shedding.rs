//! Load shedding: past the concurrency limit an instance answers 503 overloaded at once, while
//! the requests it admitted complete and health, readiness and metrics stay answered.

use std::sync::Arc;
use std::time::Duration;

use ::http::{Method, Request, StatusCode};
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use brigade_chassis::health::Health;
use brigade_chassis::http::{self, Limits, Protection};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::plain::{self, Answer, PlainClient};
use brigade_chassis::problem::ProblemPage;
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{self, Instance, JsonAnswer};
use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::support::{get_answer, get_status};

const INFO: ServiceInfo = ServiceInfo {
    name: "shedder",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

/// A route whose requests announce themselves on `entered`, then wait until `gate` lets them go.
fn gated(gate: Arc<Semaphore>, entered: mpsc::UnboundedSender<()>) -> Router {
    Router::new()
        .route(
            "/v1/gated",
            get(move || {
                let gate = gate.clone();
                let entered = entered.clone();
                async move {
                    let _ = entered.send(());
                    let _pass = gate.acquire().await.unwrap();
                    "done"
                }
            }),
        )
        .route("/v1/quick", get(|| async { "quick" }))
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// `refused` is the 503 `overloaded` problem, its detail naming the limit (`"2 requests"`).
fn assert_overloaded(refused: &JsonAnswer, limit: &str) {
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    assert_eq!(refused.body["type"], "urn:brigade:problem:overloaded");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(limit), "{}", refused.body);
}

#[tokio::test(start_paused = true)]
async fn beyond_the_limit_requests_are_refused_at_once_while_admitted_ones_complete() {
    let gate = Arc::new(Semaphore::new(0));
    let (entered, mut arrivals) = mpsc::unbounded_channel();
    let metrics = Metrics::new();
    let scrape = metrics.clone();
    let health = Health::new();
    health.set_registered(true);
    let app = http::wrap_with(
        gated(gate.clone(), entered)
            .merge(health.router())
            .route("/metrics", get(move || async move { scrape.encode() })),
        metrics.clone(),
        Limits::default(),
        Protection {
            max_concurrent_requests: 2,
            ..Protection::default()
        },
    );
    let admitted: Vec<_> = (0..2)
        .map(|_| tokio::spawn(app.clone().oneshot(get_request("/v1/gated"))))
        .collect();
    arrivals.recv().await.unwrap();
    arrivals.recv().await.unwrap();

    let before = Instant::now();
    for path in ["/v1/gated", "/v1/quick"] {
        let refused = testing::send_json(&app, get_request(path)).await;
        assert_overloaded(&refused, "2 requests");
        assert_eq!(refused.content_type, "application/problem+json");
        assert_eq!(refused.headers["retry-after"], "1");
    }
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "the refusals must not wait for a place"
    );

    // Health and metrics are answered however busy the instance is.
    for path in ["/livez", "/readyz", "/metrics"] {
        let answered = app.clone().oneshot(get_request(path)).await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK, "{path}");
    }

    gate.add_permits(2);
    for request in admitted {
        let response = request.await.unwrap().unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "an admitted request failed"
        );
    }
    // The places are free again.
    let after = app.clone().oneshot(get_request("/v1/quick")).await.unwrap();
    assert_eq!(after.status(), StatusCode::OK);

    let text = metrics.encode();
    assert!(
        text.contains(r#"http_server_shed_requests_total{route="/v1/gated",method="GET"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_server_shed_requests_total{route="/v1/quick",method="GET"} 1"#),
        "{text}"
    );
    assert!(!text.contains(r#"http_server_shed_requests_total{route="/livez""#));
}

/// With `instance` limited to one request at once: a gated request holding the place (to be let
/// go), and a quick one's answer, checked to be a shed 503 with `Retry-After`.
async fn shed_behind_one_held(
    client: &PlainClient,
    instance: &Instance,
    arrivals: &mut mpsc::UnboundedReceiver<()>,
) -> (JoinHandle<Result<Answer, plain::Error>>, Answer) {
    let held = {
        let client = client.clone();
        let url = format!("{}/v1/gated", instance.url());
        tokio::spawn(async move { client.send(Method::GET, &url, None).await })
    };
    arrivals.recv().await.unwrap();
    let quick = format!("{}/v1/quick", instance.url());
    let refused = get_answer(client, &quick).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers["retry-after"], "1");
    (held, refused)
}

#[tokio::test]
async fn the_flag_sets_the_limit_of_a_running_instance_and_health_is_never_shed() {
    let gate = Arc::new(Semaphore::new(0));
    let (entered, mut arrivals) = mpsc::unbounded_channel();
    let routes = gated(gate.clone(), entered);
    let instance = Instance::start_custom(
        INFO,
        &["--max-concurrent-requests", "1"],
        move |_ctx| async move { Ok(routes) },
    )
    .await;
    let client = PlainClient::new(Duration::from_secs(5));
    let url = |path: &str| format!("{}{path}", instance.url());

    let (held, refused) = shed_behind_one_held(&client, &instance, &mut arrivals).await;
    let problem: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(problem["type"], "urn:brigade:problem:overloaded");
    assert_eq!(problem["trace_id"].as_str().unwrap().len(), 32);

    for path in ["/livez", "/readyz", "/metrics"] {
        assert_eq!(
            get_status(&client, &url(path)).await,
            StatusCode::OK,
            "{path} was shed"
        );
    }

    gate.add_permits(1);
    let done = held.await.unwrap().unwrap();
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(&done.body[..], b"done");
    assert_eq!(get_status(&client, &url("/v1/quick")).await, StatusCode::OK);
    instance.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_limit_starts_low_under_its_ceiling_and_publishes_where_it_stands() {
    let gate = Arc::new(Semaphore::new(0));
    let (entered, mut arrivals) = mpsc::unbounded_channel();
    let metrics = Metrics::new();
    let app = http::wrap_with(
        gated(gate.clone(), entered),
        metrics.clone(),
        Limits::default(),
        Protection {
            max_concurrent_requests: 256,
            adaptive_concurrency: true,
            ..Protection::default()
        },
    );
    let text = metrics.encode();
    assert!(text.contains("http_server_concurrency_limit 20"), "{text}");
    // It starts at 20 places: the 21st request is shed at once.
    let admitted: Vec<_> = (0..20)
        .map(|_| tokio::spawn(app.clone().oneshot(get_request("/v1/gated"))))
        .collect();
    for _ in 0..20 {
        arrivals.recv().await.unwrap();
    }
    let refused = testing::send_json(&app, get_request("/v1/quick")).await;
    assert_overloaded(&refused, "20 requests");
    gate.add_permits(20);
    for request in admitted {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

/// An edge that serves people shows the middleware's own refusals as its pages: overloaded,
/// deadline exceeded and an unknown route come back as HTML with the problem's status (and
/// `Retry-After` on a shed request), not as problem+json.
#[tokio::test]
async fn an_edge_renders_the_refusals_as_its_own_pages_with_their_statuses() {
    let gate = Arc::new(Semaphore::new(0));
    let (entered, mut arrivals) = mpsc::unbounded_channel();
    let routes = gated(gate.clone(), entered).route(
        "/v1/slow",
        get(|| async {
            std::future::pending::<()>().await;
            "never"
        }),
    );
    let instance = Instance::start_custom(
        INFO,
        &["--max-concurrent-requests", "1"],
        move |ctx| async move {
            ctx.render_problems(ProblemPage::new(|problem| {
                let page = format!("<p>{}: {}</p>", problem.title, problem.detail);
                ([(::http::header::CONTENT_TYPE, "text/html")], page).into_response()
            }));
            Ok(routes)
        },
    )
    .await;
    let client = PlainClient::new(Duration::from_secs(5));
    let url = |path: &str| format!("{}{path}", instance.url());
    let html = |answer: &Answer| {
        assert_eq!(answer.headers[::http::header::CONTENT_TYPE], "text/html");
        String::from_utf8_lossy(&answer.body).into_owned()
    };

    let late = Request::get(url("/v1/slow"))
        .header("brigade-deadline-ms", "50")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let late = client.send_request(late).await.unwrap();
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(html(&late).contains("deadline of 50 ms"), "{}", html(&late));

    let unknown = get_answer(&client, &url("/nowhere")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(html(&unknown).contains("no route /nowhere"));

    let (held, refused) = shed_behind_one_held(&client, &instance, &mut arrivals).await;
    assert!(
        html(&refused).contains("Overloaded: this instance"),
        "{}",
        html(&refused)
    );

    gate.add_permits(1);
    assert_eq!(held.await.unwrap().unwrap().status, StatusCode::OK);
    instance.stop().await.unwrap();
}
