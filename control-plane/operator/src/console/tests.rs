//! The console through the whole control port: its page and files with their policy, a trace
//! joined with the traces of its events, the parked-events proxy's refusals.
use http::{header, Method, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::Link, ResourceSpans, ScopeSpans, Span};
use serde_json::Value;

use crate::testing::{attribute, client, get, operator_post, serve, sources};

#[tokio::test]
async fn the_page_and_its_files_are_served_under_a_self_only_policy() {
    let base = serve(sources(&[])).await;
    // `/` without a login: the page that says how to log in, under the same policy.
    for (path, media_type) in [
        ("/", "text/html"),
        ("/login?t=wrong", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/vendor/uplot/uPlot.iife.min.js", "text/javascript"),
        ("/console/vendor/dagre/dagre.min.js", "text/javascript"),
    ] {
        let answer = client()
            .send(Method::GET, &format!("{base}{path}"), None)
            .await
            .unwrap();
        let expected = if path.starts_with("/console/") {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(answer.status, expected, "{path}");
        let header = |name| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            header(header::CONTENT_TYPE).starts_with(media_type),
            "{path}"
        );
        let policy = header(header::CONTENT_SECURITY_POLICY);
        assert!(policy.contains("script-src 'self';"), "{path}: {policy}");
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
    }
    let (status, problem, content_type) = get(&format!("{base}/console/secrets.js")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json", "{problem}");
}

/// One span (`id`, of trace `trace`) in `service`, linking to span `link` of trace `link`.
fn span(trace: u8, id: u8, service: &str, link: Option<u8>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![attribute("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                trace_id: vec![trace; 16],
                span_id: vec![id; 8],
                name: format!("{service} work"),
                start_time_unix_nano: 1_780_000_000_000_000_000 + u64::from(id) * 1_000_000,
                end_time_unix_nano: 1_780_000_000_000_000_000 + u64::from(id) * 2_000_000,
                links: link
                    .map(|l| Link {
                        trace_id: vec![l; 16],
                        span_id: vec![l; 8],
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The services of the spans of an OTLP JSON answer.
fn services(trace: &Value) -> Vec<String> {
    let mut names: Vec<String> = trace["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["resource"]["attributes"][0]["value"]["stringValue"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_trace_is_joined_with_the_traces_that_link_to_it_transitively() {
    let sources = sources(&[]);
    // orders (trace 1) publishes; cart (2) consumes it; shipping (3) consumes what the cart's
    // handling led to; catalog (4) is unrelated.
    sources.traces.insert(ExportTraceServiceRequest {
        resource_spans: vec![
            span(1, 1, "orders", None),
            span(2, 2, "cart", Some(1)),
            span(3, 3, "shipping", Some(2)),
            span(4, 4, "catalog", None),
        ],
    });
    let base = serve(sources).await;

    let (status, joined, _) = get(&format!("{base}/v1/console/traces/{}", "01".repeat(16))).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(
        services(&joined),
        ["cart", "orders", "shipping"],
        "{joined}"
    );

    // The plain trace API still serves one trace.
    let (_, alone, _) = get(&format!("{base}/v1/traces/{}", "01".repeat(16))).await;
    assert_eq!(services(&alone), ["orders"]);

    let (status, _, _) = get(&format!("{base}/v1/console/traces/{}", "0f".repeat(16))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem, _) = get(&format!("{base}/v1/console/traces/xyz")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

#[tokio::test]
async fn parked_events_are_listed_across_services_and_a_replay_names_a_known_service() {
    let base = serve(sources(&["orders"])).await;
    // No instance is registered: nothing to ask, nothing parked.
    let (status, lists, _) = get(&format!("{base}/v1/console/parked")).await;
    assert_eq!(status, StatusCode::OK, "{lists}");
    assert_eq!(lists, serde_json::json!([]));

    // Asks the console to replay parked event e1 of `service`.
    let replay = |service: &str| {
        let url = format!("{base}/v1/console/parked/{service}/e1/replay");
        async move { operator_post(&url, None).await }
    };
    assert_eq!(replay("wishlist").await.status, StatusCode::NOT_FOUND);
    // A known service without a registered instance: the proxy says so.
    let answer = replay("orders").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let problem: Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no registered orders instance"),
        "{problem}"
    );
}
