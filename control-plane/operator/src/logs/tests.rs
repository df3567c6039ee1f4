//! The store's caps, filters and cursor; the API through the whole control port, bad input
//! refused with problems.

use std::time::Duration;

use http::StatusCode;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;

use super::{Caps, Filter, Level, LogLine, LogStore, Source};
use crate::testing::{assert_invalid, attribute, get, post, post_protobuf, resource, scope, texts};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A chassis JSON line, as `tracing_subscriber`'s JSON layer writes it inside a request span.
fn json_line(level: &str, message: &str, trace: &str) -> String {
    serde_json::json!({
        "timestamp": "2026-12-06T11:06:44.123456Z",
        "level": level,
        "message": message,
        "sku": "SKU-1",
        "target": "orders::checkout",
        "span": {
            "trace_id": trace,
            "span_id": "00f067aa0ba902b7",
            "request_id": "r-1",
            "route": "/v1/checkout",
            "name": "request"
        }
    })
    .to_string()
}

/// Keeps a chassis line of trace [`TRACE`].
fn push(store: &LogStore, service: &str, instance: u32, level: &str, message: &str) -> LogLine {
    store.push(
        service,
        instance,
        Source::Stdout,
        &json_line(level, message, TRACE),
    )
}

fn all(limit: usize) -> Filter {
    Filter {
        limit,
        ..Filter::default()
    }
}

fn messages(store: &LogStore, filter: &Filter) -> Vec<String> {
    store
        .query(filter)
        .lines
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[test]
fn a_chassis_line_is_read_into_its_parts_and_any_other_line_kept_as_text() {
    let store = LogStore::default();
    let line = push(&store, "orders", 2, "WARN", "out of stock");
    assert_eq!(line.level, Some(Level::Warn));
    assert_eq!(line.message, "out of stock");
    assert_eq!(line.trace_id.as_deref(), Some(TRACE));
    assert_eq!(line.span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(line.time, "2026-12-06T11:06:44.123456Z");
    assert_eq!(line.fields["sku"], "SKU-1");
    assert_eq!(line.fields["request_id"], "r-1");
    assert!(!line.fields.contains_key("name"));
    assert_eq!(
        line.render(),
        format!(
            "11:06:44.123 WARN  out of stock request_id=r-1 route=/v1/checkout sku=SKU-1 \
             trace_id={TRACE}"
        )
    );

    let panic = store.push(
        "orders",
        2,
        Source::Stderr,
        "thread 'main' panicked at src/main.rs:3:5",
    );
    assert!(panic.text);
    assert_eq!(panic.level, None);
    assert_eq!(panic.message, "thread 'main' panicked at src/main.rs:3:5");
    assert!(panic.render().contains(" -     thread 'main' panicked"));
    // Kept as text, not lost: a `{` that is not JSON.
    assert!(store.push("orders", 2, Source::Stdout, "{ not json").text);
}

#[test]
fn the_chassis_line_of_a_request_served_is_told_apart_from_the_rest() {
    let store = LogStore::default();
    let served = |target: &str, message: &str| {
        let line = serde_json::json!({
            "timestamp": "2026-12-06T11:06:44.123456Z",
            "level": "INFO",
            "message": message,
            "status": 200,
            "elapsed_ms": 3,
            "target": target,
            "span": {"trace_id": TRACE, "span_id": "00f067aa0ba902b7", "name": "request"}
        });
        store.push("orders", 1, Source::Stdout, &line.to_string())
    };
    assert!(served("brigade_chassis::http", "served").is_request_served());
    assert!(!served("brigade_chassis::http", "served with an error").is_request_served());
    assert!(!served("orders::checkout", "served").is_request_served());
    assert!(!push(&store, "orders", 1, "INFO", "served").is_request_served());
}

#[test]
fn filters_keep_a_service_an_instance_a_trace_a_level_and_above_and_text() {
    let store = LogStore::default();
    let other = "ab".repeat(16);
    push(&store, "orders", 1, "INFO", "o1 info");
    push(&store, "orders", 2, "ERROR", "o2 error");
    push(&store, "payments", 1, "DEBUG", "p1 debug");
    store.push(
        "payments",
        1,
        Source::Stdout,
        &json_line("WARN", "p1 warn", &other),
    );
    store.push("payments", 1, Source::Stderr, "a text line");

    let with = |f: fn(&mut Filter)| {
        let mut filter = all(100);
        f(&mut filter);
        messages(&store, &filter)
    };
    assert_eq!(
        with(|f| f.service = Some("orders".into())),
        ["o1 info", "o2 error"]
    );
    assert_eq!(
        with(|f| {
            f.service = Some("orders".into());
            f.instance = Some(2);
        }),
        ["o2 error"]
    );
    assert_eq!(
        with(|f| f.trace_id = Some(TRACE.into())),
        ["o1 info", "o2 error", "p1 debug"]
    );
    assert_eq!(
        with(|f| f.level = Some(Level::Warn)),
        ["o2 error", "p1 warn"]
    );
    assert_eq!(
        with(|f| f.level = Some(Level::Trace)).len(),
        4,
        "text has no level"
    );
    assert_eq!(with(|f| f.grep = Some("text".into())), ["a text line"]);
    // Fields are searched as they are shown.
    assert_eq!(with(|f| f.grep = Some("sku=SKU-1".into())).len(), 4);
}

#[test]
fn the_oldest_lines_go_past_an_instances_cap_and_past_the_total() {
    let store = LogStore::new(Caps {
        per_instance: 3,
        lines: 5,
        line_bytes: 10,
    });
    for n in 1..=4 {
        store.push("chatty", 1, Source::Stdout, &format!("c{n}"));
    }
    // The instance's own cap: its oldest went.
    assert_eq!(messages(&store, &all(100)), ["c2", "c3", "c4"]);
    store.push("quiet", 1, Source::Stdout, "q1");
    store.push("quiet", 1, Source::Stdout, "q2");
    store.push("quiet", 1, Source::Stdout, "q3");
    // The total's cap: the oldest of all went, whichever instance wrote it.
    assert_eq!(messages(&store, &all(100)), ["c3", "c4", "q1", "q2", "q3"]);
    assert_eq!(store.dropped(), 2);
    // A long line is cut, on a character.
    let long = store.push("quiet", 1, Source::Stdout, "ééééééééé");
    assert_eq!(long.message, "ééééé");
}

#[test]
fn the_cursor_gives_the_lines_after_it_once_and_the_latest_without_it() {
    let store = LogStore::default();
    for n in 1..=5 {
        store.push("orders", 1, Source::Stdout, &format!("line {n}"));
    }
    let latest = store.query(&all(2));
    assert_eq!(
        latest
            .lines
            .iter()
            .map(|l| &l.message[..])
            .collect::<Vec<_>>(),
        ["line 4", "line 5"]
    );
    assert_eq!(latest.next, 5);
    // Following from the start, two at a time: every line exactly once, in order.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.query(&Filter {
            after: Some(after),
            ..all(2)
        });
        if page.lines.is_empty() {
            break;
        }
        seen.extend(page.lines.into_iter().map(|l| l.message));
        after = page.next;
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], "line 5");
    assert!(store
        .query(&Filter {
            after: Some(latest.next),
            ..all(10)
        })
        .lines
        .is_empty());
}

#[tokio::test]
async fn a_follower_waits_for_a_matching_line_and_no_longer() {
    let store = LogStore::default();
    store.push("orders", 1, Source::Stdout, "before");
    let filter = Filter {
        after: Some(1),
        level: Some(Level::Error),
        ..all(10)
    };
    let writer = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.push(
            "orders",
            1,
            Source::Stdout,
            &json_line("INFO", "not this", TRACE),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.push(
            "orders",
            1,
            Source::Stdout,
            &json_line("ERROR", "this", TRACE),
        );
    });
    let page = tokio::time::timeout(
        Duration::from_secs(5),
        store.wait_for(filter.clone(), Duration::from_secs(4)),
    )
    .await
    .unwrap();
    assert_eq!(page.lines.len(), 1);
    assert_eq!(page.lines[0].message, "this");
    assert_eq!(page.next, 3);

    // Nothing more: an empty page when the time is up, with the cursor moved on.
    let started = tokio::time::Instant::now();
    let page = store
        .wait_for(
            Filter {
                after: Some(3),
                ..filter
            },
            Duration::from_millis(100),
        )
        .await;
    assert!(page.lines.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(100));
}

/// The control port on a free loopback port, running `orders` and `payments`.
async fn control_port(store: LogStore) -> String {
    let mut sources = crate::testing::sources(&["orders", "payments"]);
    sources.logs = store;
    crate::testing::serve(sources).await
}

#[tokio::test]
async fn the_api_serves_filtered_lines_and_refuses_bad_input_with_a_problem() {
    let store = LogStore::default();
    push(&store, "orders", 1, "INFO", "placed");
    push(&store, "payments", 1, "INFO", "captured");
    let base = control_port(store).await;
    let logs = format!("{base}/v1/logs");

    let (status, page, _) = get(&format!("{logs}?trace={}&level=info", TRACE.to_uppercase())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["lines"].as_array().unwrap().len(), 2);
    assert_eq!(page["lines"][1]["service"], "payments");
    assert_eq!(page["lines"][1]["span_id"], "00f067aa0ba902b7");
    assert_eq!(page["next"], 2);

    for (query, parameter) in [
        ("service=", "service"),
        ("instance=0", "instance"),
        ("instance=1", "instance"),
        ("service=orders&instance=x", "instance"),
        ("trace=xyz", "trace"),
        (&format!("trace={}", "0".repeat(32)), "trace"),
        ("level=loud", "level"),
        ("grep=", "grep"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("wait_ms=30001", "wait_ms"),
    ] {
        assert_invalid(&format!("{logs}?{query}"), parameter).await;
    }
    // A service of the manifest that has not written yet is known; another is not.
    let (status, page, _) = get(&format!("{logs}?service=payments&instance=3")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["lines"], serde_json::json!([]));
    let (status, problem, content_type) = get(&format!("{logs}?service=ordres")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("`ordres`") && detail.contains("orders, payments"),
        "{detail}"
    );
}

/// An OTLP logs export from `shop-worker-2` (a slot-style instance id): a warning of trace
/// [`TRACE`] on stderr with fields, and a record with no severity.
fn otlp_export() -> ExportLogsServiceRequest {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    let int = |key: &str, value: i64| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource("shop-worker", "shop-worker-2")),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope("shop_worker::mail")),
                log_records: vec![
                    LogRecord {
                        time_unix_nano: 1_780_000_000_123_456_000,
                        severity_number: 13,
                        severity_text: "WARN".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("mail is slow".into())),
                        }),
                        attributes: vec![
                            int("attempt", 3),
                            attribute("queue", "mail"),
                            attribute("log.iostream", "stderr"),
                        ],
                        trace_id: crate::otlp::unhex(TRACE, 16).unwrap(),
                        span_id: vec![7; 8],
                        ..Default::default()
                    },
                    LogRecord {
                        observed_time_unix_nano: 1_780_000_001_000_000_000,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("plain".into())),
                        }),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The same kind of export as another SDK writes it in OTLP JSON: an instance id that is not
/// a slot, the level only as text, a structured body.
const JSON_LOGS: &str = r#"{"resourceLogs":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"shop-worker"}},
  {"key":"service.instance.id","value":{"stringValue":"5f0c-host-a"}}]},
  "scopeLogs":[{"scope":{"name":"py.worker"},"logRecords":[{
    "timeUnixNano":"1780000002000000000","severityText":"Error",
    "body":{"kvlistValue":{"values":[{"key":"job","value":{"intValue":"42"}}]}},
    "traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0102030405060708"}]}]}]}"#;

#[tokio::test]
async fn otlp_log_records_in_protobuf_and_json_are_lines_beside_the_instances() {
    let sources = crate::testing::sources(&["orders"]);
    let store = sources.logs.clone();
    push(&store, "orders", 1, "INFO", "order placed");
    let base = crate::testing::serve(sources).await;
    let logs = format!("{base}/v1/logs");

    let answer = post_protobuf(&logs, otlp_export().encode_to_vec()).await;
    let response = ExportLogsServiceResponse::decode(answer.body).unwrap();
    assert_eq!(response.partial_success, None);
    let answer = post(&logs, "application/json", JSON_LOGS.as_bytes().to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    // A full success leaves `partialSuccess` out, as OTLP JSON does an unset field.
    assert_eq!(&answer.body[..], b"{}");

    let (status, page, _) = get(&format!("{logs}?service=shop-worker")).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<LogLine> = serde_json::from_value(page["lines"].clone()).unwrap();
    assert_eq!(lines.len(), 3, "{page}");
    let warning = &lines[0];
    assert_eq!(warning.instance, 2);
    assert_eq!(warning.instance_id, None);
    assert_eq!(warning.stream, Source::Stderr);
    assert_eq!(warning.level, Some(Level::Warn));
    assert_eq!(warning.message, "mail is slow");
    assert_eq!(warning.time, "2026-05-28T20:26:40.123456Z");
    assert_eq!(warning.target.as_deref(), Some("shop_worker::mail"));
    assert_eq!(warning.trace_id.as_deref(), Some(TRACE));
    assert_eq!(warning.span_id.as_deref(), Some("0707070707070707"));
    assert_eq!(warning.fields["attempt"], 3);
    assert_eq!(warning.fields["queue"], "mail");
    assert!(!warning.fields.contains_key("log.iostream"));

    let plain = &lines[1];
    assert_eq!((plain.level, plain.text), (None, true));
    assert_eq!(plain.stream, Source::Otlp);
    assert_eq!(plain.time, "2026-05-28T20:26:41.000Z");
    assert!(
        plain.render().starts_with("20:26:41.000 -     plain"),
        "{}",
        plain.render()
    );

    let other_sdk = &lines[2];
    assert_eq!(other_sdk.instance, 0);
    assert_eq!(other_sdk.instance_id.as_deref(), Some("5f0c-host-a"));
    assert_eq!(other_sdk.level, Some(Level::Error));
    assert_eq!(other_sdk.message, r#"{"job":42}"#);

    // One trace's lines, whoever wrote them: the instance's and the exporters'.
    let (_, page, _) = get(&format!("{logs}?trace={TRACE}")).await;
    let services: Vec<&str> = texts(&page["lines"], "service");
    assert_eq!(services, ["orders", "shop-worker", "shop-worker"]);
    // `brigade logs`'s filters work on them too.
    let (_, page, _) = get(&format!("{logs}?service=shop-worker&instance=2&level=warn")).await;
    assert_eq!(page["lines"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_logs_exports_are_refused_and_bad_records_dropped_as_a_partial_success() {
    let base = crate::testing::serve(crate::testing::sources(&[])).await;
    let logs = format!("{base}/v1/logs");
    for (content_type, body, expected, says) in [
        (
            "application/x-protobuf",
            b"\xff\xff\xff not protobuf".to_vec(),
            StatusCode::BAD_REQUEST,
            "not an OTLP logs export",
        ),
        (
            "application/json",
            br#"{"resourceLogs": "many"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "not an OTLP logs export",
        ),
        (
            "text/plain",
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/x-protobuf",
        ),
    ] {
        let answer = post(&logs, content_type, body).await;
        assert_eq!(answer.status, expected, "{content_type}");
        assert_eq!(
            answer.headers[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
        let problem: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    let mut export = otlp_export();
    export.resource_logs[0].scope_logs[0].log_records[0].trace_id = vec![1; 5];
    let answer = post(
        &logs,
        "application/json",
        serde_json::to_vec(&export).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let response: ExportLogsServiceResponse = serde_json::from_slice(&answer.body).unwrap();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("trace id"));
    let (_, page, _) = get(&logs).await;
    let messages: Vec<&str> = texts(&page["lines"], "message");
    assert_eq!(messages, ["plain"]);

    let too_big = vec![b' '; crate::otlp::MAX_EXPORT_BYTES + 1];
    let answer = post(&logs, "application/json", too_big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}
