//! The chassis server and client, over real sockets: one behaviour per test.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use brigade_chassis::client::{self, ServiceClient};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::plain::PlainClient;
use brigade_chassis::service::{self, ServiceInfo};
use brigade_chassis::shutdown::Reason;
use brigade_chassis::testing;
use http::Method;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{get_answer, get_status};

const INFO: ServiceInfo = ServiceInfo {
    name: "echo",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

/// Echoes what the chassis gave the handler: trace context, request id, deadline.
async fn echo(headers: HeaderMap) -> axum::Json<serde_json::Value> {
    let context = brigade_chassis::context::current();
    axum::Json(serde_json::json!({
        "traceparent": headers.get("traceparent").and_then(|v| v.to_str().ok()),
        "deadline_ms": headers.get("brigade-deadline-ms").and_then(|v| v.to_str().ok()),
        "trace_id": context.as_ref().map(|c| c.trace.trace_id_hex()),
        "request_id": context.map(|c| c.request_id),
    }))
}

fn routes() -> Router {
    Router::new().route("/v1/echo", get(echo)).route(
        "/v1/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "done"
        }),
    )
}

struct Running {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), service::Error>>,
}

async fn start(flags: &[&str]) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut all = vec!["--log", "warn", "--deregister-delay", "0ms"];
    all.extend_from_slice(flags);
    let args = testing::service_args(&all);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(service::serve(
        INFO,
        args,
        listener,
        |_ctx| async { Ok(routes()) },
        async move {
            let _ = stopped.await;
            Reason::Requested
        },
    ));
    let client = PlainClient::new(Duration::from_secs(1));
    for _ in 0..100 {
        if let Ok(answer) = client
            .send(Method::GET, &format!("http://{address}/readyz"), None)
            .await
        {
            if answer.status.is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Running {
        address,
        stop,
        task,
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let server = start(&[]).await;
    let client = PlainClient::new(Duration::from_secs(5));
    let url = format!("http://{}/v1/slow", server.address);
    let in_flight: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { client.send(Method::GET, &url, None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(()).unwrap();
    for request in in_flight {
        let answer = request
            .await
            .unwrap()
            .expect("an in-flight request was lost");
        assert_eq!(answer.status, 200);
        assert_eq!(&answer.body[..], b"done");
    }
    server.task.await.unwrap().unwrap();
    let after = PlainClient::new(Duration::from_secs(1))
        .send(Method::GET, &url, None)
        .await;
    assert!(
        after.is_err(),
        "the server still accepted after shutdown: {after:?}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_with_a_trace_id() {
    let server = start(&[]).await;
    let client = PlainClient::default();
    for (method, path, status, code) in [
        (Method::GET, "/v1/nope", 404, "not-found"),
        (Method::DELETE, "/v1/echo", 405, "method-not-allowed"),
    ] {
        let answer = client
            .send(method, &format!("http://{}{path}", server.address), None)
            .await
            .unwrap();
        assert_eq!(answer.status, status);
        let problem: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(problem["type"], format!("urn:brigade:problem:{code}"));
        assert_eq!(problem["status"], status);
        assert!(
            problem["detail"].as_str().unwrap().contains(path),
            "{problem}"
        );
        assert_eq!(problem["trace_id"].as_str().unwrap().len(), 32);
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_504_problem() {
    let server = start(&[]).await;
    let response =
        reqwest_like_get(server.address, "/v1/slow", &[("brigade-deadline-ms", "50")]).await;
    assert_eq!(response.0, 504);
    assert!(response.1.contains("deadline-exceeded"), "{}", response.1);
}

#[tokio::test]
async fn a_request_with_headers_past_the_limit_gets_431_problem() {
    let server = start(&["--header-limit", "4096"]).await;
    let within = "a".repeat(1000);
    let answer = reqwest_like_get(server.address, "/v1/echo", &[("x-filler", &within)]).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let past = "a".repeat(5000);
    let answer = reqwest_like_get(server.address, "/v1/echo", &[("x-filler", &past)]).await;
    assert_eq!(answer.0, 431, "{}", answer.1);
    assert!(answer.1.contains("headers-too-large"), "{}", answer.1);
    // Nothing of the caller's headers is echoed back.
    assert!(!answer.1.contains(&past[..100]), "{}", answer.1);
    // Many small headers count as much as one large one.
    let small = "b".repeat(100);
    let many: Vec<(String, &str)> = (0..60)
        .map(|n| (format!("x-h{n}"), small.as_str()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        reqwest_like_get(server.address, "/v1/echo", &many).await.0,
        431
    );
}

/// A GET with extra headers, returning status and body text.
async fn reqwest_like_get(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, HeaderMap) {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    let client: Client<_, Full<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut request = http::Request::get(format!("http://{address}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::default()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

#[tokio::test]
async fn trace_context_and_request_id_are_continued_and_echoed() {
    let server = start(&[]).await;
    let (status, body, headers) = reqwest_like_get(
        server.address,
        "/v1/echo",
        &[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("x-request-id", "req-123"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(echoed["request_id"], "req-123");
    assert_eq!(headers["x-request-id"], "req-123");
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "the server must answer with its own span"
    );
}

#[tokio::test]
async fn metrics_count_requests_per_route_template() {
    let server = start(&[]).await;
    let client = PlainClient::default();
    for _ in 0..3 {
        get_answer(&client, &format!("http://{}/v1/echo", server.address)).await;
    }
    let metrics = get_answer(&client, &format!("http://{}/metrics", server.address)).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(
            r#"http_server_requests_total{route="/v1/echo",method="GET",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains("http_server_request_duration_seconds_bucket"));
    assert!(text.contains(r#"brigade_service_info{service="echo",version="test""#));
}

#[tokio::test]
async fn readiness_waits_for_registration() {
    // A registry nobody listens on: the instance serves, but must not claim to be ready.
    let server = start(&["--registry-url", "http://127.0.0.1:9"]).await;
    let client = PlainClient::default();
    let live = get_status(&client, &format!("http://{}/livez", server.address)).await;
    assert_eq!(live, 200);
    let ready = get_answer(&client, &format!("http://{}/readyz", server.address)).await;
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("not registered"));
}

fn static_client(addresses: &[SocketAddr]) -> ServiceClient {
    let peers = addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let source = Source::Static(service::parse_peers(&format!("echo={peers}")).unwrap());
    ServiceClient::new(
        "echo",
        Resolver::new(source),
        Metrics::new().client,
        client::Options::default(),
    )
}

#[tokio::test]
async fn the_client_spreads_calls_and_routes_around_a_dead_instance() {
    let a = start(&[]).await;
    let b = start(&[]).await;
    // An address where nothing listens.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = static_client(&[a.address, b.address, dead]);
    for _ in 0..60 {
        let answer = client
            .call(Method::GET, "/v1/echo", None)
            .await
            .expect("a call failed");
        assert_eq!(answer.status, 200);
    }
    let served = |address: SocketAddr| async move {
        let text = get_answer(
            &PlainClient::default(),
            &format!("http://{address}/metrics"),
        )
        .await
        .body;
        String::from_utf8_lossy(&text)
            .lines()
            .find(|l| l.starts_with(r#"http_server_requests_total{route="/v1/echo""#))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (on_a, on_b) = (served(a.address).await, served(b.address).await);
    assert_eq!(on_a + on_b, 60);
    assert!(
        on_a >= 10 && on_b >= 10,
        "traffic not spread: {on_a} / {on_b}"
    );
}

#[tokio::test]
async fn the_client_propagates_trace_and_deadline() {
    let server = start(&[]).await;
    let client = static_client(&[server.address]);
    let answer = client.call(Method::GET, "/v1/echo", None).await.unwrap();
    let echoed: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let deadline: u64 = echoed["deadline_ms"].as_str().unwrap().parse().unwrap();
    assert!(deadline > 0 && deadline <= 5_000, "{deadline}");
    assert!(echoed["traceparent"].as_str().unwrap().starts_with("00-"));
}

#[tokio::test]
async fn a_dependency_problem_passes_through_and_outages_are_503() {
    let server = start(&[]).await;
    let client = static_client(&[server.address]);
    let error = client
        .call(Method::GET, "/v1/missing", None)
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.to_problem().status, 404);
    let nowhere = static_client(&[]);
    let error = nowhere
        .call(Method::GET, "/v1/echo", None)
        .await
        .unwrap_err();
    assert_eq!(error.to_problem().status, 503);
}

/// An instance that accepts connections and reads each request, then hangs up without answering:
/// what a caller sees from an instance killed mid-request.
async fn start_hanging_up() -> SocketAddr {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
        }
    });
    address
}

#[tokio::test]
async fn an_idempotent_call_is_retried_on_another_instance_when_one_hangs_up() {
    let good = start(&[]).await;
    let hanging = start_hanging_up().await;
    let client = static_client(&[hanging, good.address]);
    for _ in 0..20 {
        let answer = client
            .call(Method::GET, "/v1/echo", None)
            .await
            .expect("a GET failed");
        assert_eq!(answer.status, 200);
    }
    // A POST may have reached the instance that hung up: it is not repeated.
    let client = static_client(&[hanging]);
    let error = client
        .call(
            Method::POST,
            "/v1/echo",
            Some(bytes::Bytes::from_static(b"{}")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, client::Error::Transport { .. }),
        "{error:?}"
    );
    assert_eq!(error.to_problem().status, 503);
}

/// Starts `INFO` (which declares no dependency) with `build` and returns why it did not start.
async fn refused_start<B, F>(build: B) -> service::Error
where
    B: FnOnce(service::Context) -> F + Send + 'static,
    F: std::future::Future<Output = Result<Router, brigade_chassis::BoxError>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let args = testing::service_args(&[
        "--log",
        "warn",
        "--data-dir",
        &data_dir,
        "--peers",
        "ledger=127.0.0.1:9",
    ]);
    let started = service::serve(INFO, args, listener, build, std::future::pending());
    match tokio::time::timeout(Duration::from_secs(30), started).await {
        Ok(Err(error)) => error,
        Ok(Ok(())) => panic!("the instance stopped without an error"),
        Err(_) => panic!("the instance started although its build went beyond its declaration"),
    }
}

#[tokio::test]
async fn a_service_cannot_call_or_consume_what_it_did_not_declare() {
    // Asking for a client of an undeclared service stops the start with a typed refusal that
    // says how to fix it, before any request could be sent.
    let error = refused_start(|ctx| async move {
        ctx.client("ledger")?;
        Ok(Router::new())
    })
    .await;
    let service::Error::Build(cause) = &error else {
        panic!("not a build failure: {error}");
    };
    let refusal = cause
        .downcast_ref::<service::Undeclared>()
        .unwrap_or_else(|| panic!("not a typed refusal: {cause}"));
    assert_eq!(refusal.caller, "echo");
    assert_eq!(refusal.service, "ledger");
    let message = error.to_string();
    assert!(
        message.contains("echo calls ledger but does not declare it")
            && message.contains("DEPENDS_ON.calls"),
        "{message}"
    );

    // Subscribing to an undeclared feed is refused the same way.
    let error = refused_start(|mut ctx| async move {
        let db = ctx
            .open_store(&[brigade_chassis::events::INBOX_MIGRATION])
            .await?;
        let subscription = brigade_chassis::events::Subscription::new("ledger");
        ctx.subscribe(&db, subscription).await?;
        Ok(Router::new())
    })
    .await;
    let message = error.to_string();
    assert!(message.contains("DEPENDS_ON.consumes"), "{message}");
}
