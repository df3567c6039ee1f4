//! The file format against the OTLP JSON encoding rules and a line as the Collector's file
//! exporter writes it; export from one control port and import into a fresh one.

use std::path::PathBuf;

use http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::{json, Value};

use super::cli::{self, Error};
use super::{Counts, Export};
use crate::logs::Source;
use crate::testing::{client, get, post, resource, serve, sources};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

/// The resource of `service`'s first instance.
fn first_of(service: &str) -> Option<Resource> {
    Some(resource(service, &format!("{service}-1")))
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: first_of("gateway"),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: crate::otlp::unhex(TRACE, 16).unwrap(),
                    span_id: vec![0xee; 8],
                    name: "POST /api/v1/checkout".into(),
                    kind: 2,
                    start_time_unix_nano: 1_780_000_000_000_000_000,
                    end_time_unix_nano: 1_780_000_000_120_000_000,
                    attributes: vec![int("http.response.status_code", 201)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource("py-worker", "host-a-77")),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_780_000_000_050_000_000,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("card declined".into())),
                    }),
                    attributes: vec![int("attempt", 2)],
                    trace_id: crate::otlp::unhex(TRACE, 16).unwrap(),
                    span_id: vec![0xee; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Metrics with a count past 2^53, which a JSON number would not hold.
fn metrics() -> ExportMetricsServiceRequest {
    crate::otlp_metrics::tests::export(10, 9_007_199_254_740_993)
}

/// Every key of `value`, at any depth.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                out.push(key.clone());
                keys(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
        _ => {}
    }
}

#[test]
fn what_opentelemetry_proto_writes_follows_the_otlp_json_encoding() {
    let lines = [
        Export::Traces(traces()),
        Export::Logs(logs()),
        Export::Metrics(metrics()),
    ];
    let json: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_slice(&line.to_line()).unwrap())
        .collect();
    // Keys are lowerCamelCase field names, never the proto's snake_case.
    let mut all_keys = Vec::new();
    json.iter().for_each(|line| keys(line, &mut all_keys));
    let snake: Vec<&String> = all_keys.iter().filter(|k| k.contains('_')).collect();
    // Attribute keys are values (`"key": "service.name"`), not keys: none has an underscore.
    assert!(snake.is_empty(), "{snake:?}");

    let span = &json[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    // Ids are hex, not base64 as protobuf's JSON mapping would have them.
    assert_eq!(span["traceId"], TRACE);
    assert_eq!(span["spanId"], "eeeeeeeeeeeeeeee");
    // Enums are integers.
    assert_eq!(span["kind"], 2);
    // 64-bit integers are decimal strings.
    assert_eq!(span["startTimeUnixNano"], "1780000000000000000");
    assert_eq!(
        span["attributes"][0],
        json!({"key": "http.response.status_code", "value": {"intValue": "201"}})
    );

    let record = &json[1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(record["severityNumber"], 17);
    assert_eq!(record["timeUnixNano"], "1780000000050000000");
    assert_eq!(record["traceId"], TRACE);
    assert_eq!(record["body"], json!({"stringValue": "card declined"}));

    let metrics = &json[2]["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    let sum = &metrics[0]["sum"];
    assert_eq!(sum["aggregationTemporality"], 2);
    assert_eq!(sum["isMonotonic"], true);
    // Past 2^53: a JSON number would lose it.
    assert_eq!(sum["dataPoints"][0]["asInt"], "9007199254740993");
    let histogram = &metrics[2]["histogram"]["dataPoints"][0];
    assert_eq!(histogram["count"], "3");
    assert_eq!(histogram["bucketCounts"], json!(["1", "2", "0"]));
    assert_eq!(histogram["explicitBounds"], json!([0.1, 0.5]));
    assert_eq!(histogram["sum"], 0.6);

    // And each line reads back as what it was.
    for line in &lines {
        let text = String::from_utf8(line.to_line()).unwrap();
        assert!(text.ends_with('\n') && !text.trim_end().contains('\n'));
        assert_eq!(&Export::parse(text.trim_end()).unwrap(), line);
    }
}

/// Three lines as the OpenTelemetry Collector's file exporter writes them (pdata's JSON
/// marshaler: empty fields left out, `flags` on spans, `schemaUrl`, ids in hex), by hand from
/// the OTLP specification's examples.
const COLLECTOR_FILE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"host.name","value":{"stringValue":"box-1"}}]},"scopeSpans":[{"scope":{"name":"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp","version":"0.49.0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"","flags":257,"name":"POST /cart","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],"status":{}}]}],"schemaUrl":"https://opentelemetry.io/schemas/1.24.0"}]}
{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeLogs":[{"scope":{},"logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000000","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"card declined"},"attributes":[{"key":"http.response.status_code","value":{"intValue":"402"}}],"flags":1,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}

{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeMetrics":[{"scope":{"name":"checkout"},"metrics":[{"name":"http.server.request.duration","unit":"s","histogram":{"dataPoints":[{"attributes":[{"key":"http.route","value":{"stringValue":"/cart"}}],"startTimeUnixNano":"1544712600000000000","timeUnixNano":"1544712660000000000","count":"2","sum":0.3,"bucketCounts":["1","1","0"],"explicitBounds":[0.1,0.5],"min":0.1,"max":0.2}],"aggregationTemporality":2}},{"name":"cart.items","sum":{"dataPoints":[{"startTimeUnixNano":"1544712600000000000","timeUnixNano":"1544712660000000000","asInt":"5"}],"aggregationTemporality":2,"isMonotonic":true}}]}]}]}
"#;

/// A file of `text` in the temporary directory, unique to the test.
fn file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "brigade-telemetry-{}-{name}.jsonl",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_file_written_by_the_collector_imports() {
    let base = serve(sources(&[])).await;
    let path = file("collector", COLLECTOR_FILE);
    let imported = cli::import(&client(), &base, &path).await.unwrap();
    assert_eq!(imported.lines, 3);
    assert_eq!(
        imported.posted,
        Counts {
            spans: 1,
            log_records: 1,
            data_points: 2
        }
    );
    assert_eq!(imported.refused, Counts::default());

    let (status, trace, _) = get(&format!("{base}/v1/traces/{TRACE}")).await;
    assert_eq!(status, StatusCode::OK);
    let span = &trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["name"], "POST /cart");
    assert_eq!(span["endTimeUnixNano"], "1544712661000000000");
    let (_, page, _) = get(&format!("{base}/v1/logs?trace={TRACE}")).await;
    let line = &page["lines"][0];
    assert_eq!(line["service"], "checkout");
    assert_eq!(line["level"], "error");
    assert_eq!(line["message"], "card declined");
    assert_eq!(line["time"], "2018-12-13T14:51:00.300Z");
    assert_eq!(line["fields"]["http.response.status_code"], 402);
    let (_, listing, _) = get(&format!("{base}/v1/metrics/otlp?service=checkout")).await;
    let series = listing["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["name"], "cart.items");
    assert_eq!(series[0]["points"][0]["value"], 5.0);
    assert_eq!(series[1]["points"][0]["bucket_counts"], json!([1, 1, 0]));
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_control_plane_gives_the_same_traces_logs_and_metrics() {
    let kept = sources(&["orders"]);
    let instance_lines = kept.logs.clone();
    let first = serve(kept).await;
    post(
        &format!("{first}/v1/traces"),
        "application/x-protobuf",
        traces().encode_to_vec(),
    )
    .await;
    // The instances' own lines, through the supervisor, then an exporter's records.
    instance_lines.push(
        "orders",
        2,
        Source::Stdout,
        &json!({
            "timestamp": "2026-05-28T20:26:40.010203Z", "level": "INFO", "message": "checkout",
            "target": "orders::checkout", "sku": "SKU-1", "lines": [1, 2.5, null],
            "span": {"trace_id": TRACE, "span_id": "00f067aa0ba902b7", "request_id": "r-1"}
        })
        .to_string(),
    );
    instance_lines.push("orders", 1, Source::Stderr, "thread 'main' panicked");
    post(
        &format!("{first}/v1/logs"),
        "application/x-protobuf",
        logs().encode_to_vec(),
    )
    .await;
    post(
        &format!("{first}/v1/metrics"),
        "application/json",
        serde_json::to_vec(&metrics()).unwrap(),
    )
    .await;

    let mut exported = Vec::new();
    let lines = cli::export(&first, &mut exported, "memory").await.unwrap();
    // One trace, one line of logs, one of metrics.
    assert_eq!(lines, 3);
    let path = file("round-trip", &String::from_utf8(exported).unwrap());

    let second = serve(sources(&[])).await;
    let imported = cli::import(&client(), &second, &path).await.unwrap();
    assert_eq!(
        imported.posted,
        Counts {
            spans: 1,
            log_records: 3,
            data_points: 4
        }
    );
    for query in [
        "/v1/traces",
        &format!("/v1/traces/{TRACE}"),
        "/v1/logs",
        "/v1/metrics/otlp",
    ] {
        let (status, before, _) = get(&format!("{first}{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let (_, after, _) = get(&format!("{second}{query}")).await;
        assert_eq!(before, after, "{query}");
    }
    // Not vacuous: the lines are there, with what the supervisor read from them.
    let (_, page, _) = get(&format!("{second}/v1/logs")).await;
    let lines = page["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["fields"]["lines"], json!([1, 2.5, null]));
    assert_eq!(lines[1]["text"], true);
    assert_eq!(lines[2]["instance_id"], "host-a-77");
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_bad_line_is_named_and_nothing_is_imported() {
    let base = serve(sources(&[])).await;
    let good = String::from_utf8(Export::Traces(traces()).to_line()).unwrap();
    let zero_trace = good.replace(TRACE, &"0".repeat(32));
    for (name, bad, says) in [
        ("json", "{\"resourceSpans\": [".to_owned(), "not a JSON object"),
        ("kind", "{\"spans\": []}".to_owned(), "none of resourceSpans"),
        ("zero", zero_trace, "no valid trace id"),
        (
            "value",
            "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{\"dataPoints\":[{\"asDouble\":\"many\"}]}}]}]}]}"
                .to_owned(),
            "has no value",
        ),
        (
            "logs",
            "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"spanId\":\"0102\"}]}]}]}"
                .to_owned(),
            "span id is 8 bytes",
        ),
    ] {
        let path = file(name, &format!("{good}\n{bad}\n"));
        match cli::import(&client(), &base, &path).await {
            Err(Error::BadLine { line, reason, .. }) => {
                assert_eq!(line, 3, "{name}");
                assert!(reason.contains(says), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
        std::fs::remove_file(path).unwrap();
    }
    let (_, list, _) = get(&format!("{base}/v1/traces")).await;
    assert_eq!(list, json!([]));
    let missing = cli::import(&client(), &base, std::path::Path::new("/no/such/file")).await;
    assert!(matches!(missing, Err(Error::Read { .. })), "{missing:?}");
}
