//! The receiver through the whole control port: OTLP in (protobuf and JSON), the list and one
//! trace out, bad input refused with problems; the caps on the store itself.
use http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode as SpanStatus, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::Value;

use super::{Caps, TraceStore};
use crate::testing::{
    assert_invalid, assert_refused, attribute, get, post, post_protobuf, resource,
};

const SECOND: u64 = 1_000_000_000;
/// Some time in 2026, in nanoseconds.
const T0: u64 = 1_780_000_000 * SECOND;

/// A span of trace `trace` (one byte, repeated) in `service`.
struct SpanSpec {
    trace: u8,
    id: u8,
    parent: Option<u8>,
    service: &'static str,
    route: &'static str,
    start_ms: u64,
    duration_ms: u64,
    error: bool,
}

fn export(specs: &[SpanSpec]) -> ExportTraceServiceRequest {
    let resource_spans = specs
        .iter()
        .map(|s| ResourceSpans {
            resource: Some(resource(s.service, &format!("{}-1", s.service))),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![s.trace; 16],
                    span_id: vec![s.id; 8],
                    parent_span_id: s.parent.map(|p| vec![p; 8]).unwrap_or_default(),
                    name: format!("GET {}", s.route),
                    kind: SpanKind::Server as i32,
                    start_time_unix_nano: T0 + s.start_ms * 1_000_000,
                    end_time_unix_nano: T0 + (s.start_ms + s.duration_ms) * 1_000_000,
                    attributes: vec![attribute("http.route", s.route)],
                    status: s.error.then(|| Status {
                        code: SpanStatus::Error as i32,
                        message: "500".into(),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Trace 0xaa: gateway → orders (failed), 120 ms; trace 0xbb: catalog, 5 ms, later.
fn checkout_and_browse() -> ExportTraceServiceRequest {
    export(&[
        SpanSpec {
            trace: 0xaa,
            id: 1,
            parent: None,
            service: "gateway",
            route: "/api/v1/checkout",
            start_ms: 0,
            duration_ms: 120,
            error: false,
        },
        SpanSpec {
            trace: 0xaa,
            id: 2,
            parent: Some(1),
            service: "orders",
            route: "/v1/orders",
            start_ms: 10,
            duration_ms: 100,
            error: true,
        },
        SpanSpec {
            trace: 0xbb,
            id: 3,
            parent: None,
            service: "catalog",
            route: "/v1/products",
            start_ms: 1_000,
            duration_ms: 5,
            error: false,
        },
    ])
}

/// The control port on a free loopback port.
async fn control_port() -> String {
    crate::testing::serve(crate::testing::sources(&[])).await
}

/// The trace ids of a list answer, in its order.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap()[..2].to_owned())
        .collect()
}

/// A third trace as OTLP JSON written by hand, the way another SDK sends it: hex ids, times
/// as strings, enums as numbers.
const JSON_TRACE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"payments"}}]},
  "scopeSpans":[{"scope":{"name":"other-sdk"},"spans":[{
    "traceId":"cccccccccccccccccccccccccccccccc","spanId":"0707070707070707",
    "name":"POST /v1/charges","kind":2,
    "startTimeUnixNano":"1780000002000000000","endTimeUnixNano":"1780000002030000000",
    "attributes":[{"key":"http.route","value":{"stringValue":"/v1/charges"}}],
    "status":{}}]}]}]}"#;

#[tokio::test]
async fn exports_in_protobuf_and_json_are_listed_filtered_and_served_as_otlp_json() {
    let base = control_port().await;
    let traces = format!("{base}/v1/traces");

    post_protobuf(&traces, checkout_and_browse().encode_to_vec()).await;
    let answer = post(&traces, "application/json", JSON_TRACE.as_bytes().to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);

    // Latest first.
    let (status, all, _) = get(&traces).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all), ["cc", "bb", "aa"]);
    let checkout = &all[2];
    assert_eq!(checkout["root_service"], "gateway");
    assert_eq!(checkout["root_route"], "/api/v1/checkout");
    assert_eq!(checkout["span_count"], 2);
    assert_eq!(checkout["duration_ms"], 120.0);
    assert_eq!(checkout["start_unix_ms"], T0 / 1_000_000);
    assert_eq!(
        checkout["services"],
        serde_json::json!(["gateway", "orders"])
    );
    assert_eq!(checkout["error"], true);
    assert_eq!(all[0]["root_service"], "payments");
    assert_eq!(all[0]["duration_ms"], 30.0);

    for (query, expected) in [
        ("service=orders", vec!["aa"]),
        ("service=payments", vec!["cc"]),
        ("service=nobody", vec![]),
        ("min_duration=50ms", vec!["aa"]),
        ("min_duration=30", vec!["cc", "aa"]),
        ("error=true", vec!["aa"]),
        ("error=false", vec!["cc", "bb"]),
        ("limit=1", vec!["cc"]),
        ("service=gateway&error=false", vec![]),
    ] {
        let (status, list, _) = get(&format!("{traces}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(ids(&list), expected, "{query}");
    }

    let (status, trace, content_type) = get(&format!("{traces}/{}", "aa".repeat(16))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let resources = trace["resourceSpans"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{trace}");
    let first = &resources[0]["scopeSpans"][0]["spans"][0];
    assert_eq!(first["traceId"], "aa".repeat(16));
    assert_eq!(first["spanId"], "01".repeat(8));
    assert_eq!(first["name"], "GET /api/v1/checkout");
    assert_eq!(
        resources[1]["scopeSpans"][0]["spans"][0]["parentSpanId"],
        "01".repeat(8)
    );
    // What it serves reads back as the export it is.
    let back: ExportTraceServiceRequest = serde_json::from_value(trace).unwrap();
    assert_eq!(back.resource_spans.len(), 2);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_problem() {
    let base = control_port().await;
    let traces = format!("{base}/v1/traces");
    for (query, parameter) in [
        ("min_duration=soon", "min_duration"),
        ("min_duration=-5", "min_duration"),
        ("error=maybe", "error"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("service=", "service"),
    ] {
        assert_invalid(&format!("{traces}?{query}"), parameter).await;
    }
    for id in ["xyz", &"g".repeat(32), &"0".repeat(32)] {
        let (status, _, content_type) = get(&format!("{traces}/{id}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}");
        assert_eq!(content_type, "application/problem+json");
    }
    let (status, _, content_type) = get(&format!("{traces}/{}", "ab".repeat(16))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");

    assert_refused(
        &traces,
        [
            (
                "application/x-protobuf",
                b"\xff\xff\xff not protobuf".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "application/json",
                b"{\"resourceSpans\": 7}".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "text/plain",
                b"hello".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
        ],
    )
    .await;
    // Nothing of it was kept.
    let (_, all, _) = get(&traces).await;
    assert_eq!(all, serde_json::json!([]));
}

#[test]
fn the_oldest_traces_are_evicted_past_the_caps_and_a_trace_keeps_at_most_its_share() {
    let store = TraceStore::new(Caps {
        traces: 3,
        spans: 5,
        spans_per_trace: 2,
    });
    let span = |trace: u8, id: u8| SpanSpec {
        trace,
        id,
        parent: None,
        service: "catalog",
        route: "/v1/products",
        start_ms: u64::from(trace),
        duration_ms: 1,
        error: false,
    };
    for trace in 1..=5 {
        store.insert(export(&[span(trace, 1)]));
    }
    let kept = |store: &TraceStore| {
        let mut ids: Vec<String> = store
            .list(&super::Filter {
                limit: 100,
                ..Default::default()
            })
            .into_iter()
            .map(|s| s.trace_id[..2].to_owned())
            .collect();
        ids.sort();
        ids
    };
    // At most three traces: the first two are gone.
    assert_eq!(kept(&store), ["03", "04", "05"]);

    // A third span of one trace is refused, and said to be.
    let accepted = store.insert(export(&[span(5, 2), span(5, 3)]));
    assert_eq!((accepted.spans, accepted.rejected), (1, 1));
    assert_eq!(store.counts().1, 4);

    // Six spans would pass the span cap: the oldest trace goes.
    store.insert(export(&[span(6, 1), span(6, 2)]));
    assert_eq!(kept(&store), ["04", "05", "06"]);
    assert_eq!(store.counts().1, 5);
}
