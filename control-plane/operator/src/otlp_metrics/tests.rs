//! The metrics receiver through the whole control port: OTLP in (protobuf and JSON), the series
//! out, bad input refused with problems; the store's caps.

use http::StatusCode;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use prost::Message;
use serde_json::{json, Value};

use super::{Caps, Filter, MetricStore};
use crate::testing::{
    assert_invalid, assert_refused, attribute, get, post, post_protobuf, resource, scope, texts,
};

/// Some time in 2026, in nanoseconds.
const T0: u64 = 1_780_000_000_000_000_000;

fn number(time_s: u64, queue: &str, value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![attribute("queue", queue)],
        start_time_unix_nano: T0,
        time_unix_nano: T0 + time_s * 1_000_000_000,
        value: Some(value),
        ..Default::default()
    }
}

/// `shop-worker-1`'s `jobs.done` (a counter, per queue), `queue.depth` (a gauge) and
/// `job.duration` (a histogram), each with one point at `time_s` seconds past T0.
pub(crate) fn export(time_s: u64, done: i64) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("shop-worker", "shop-worker-1")),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope("shop")),
                metrics: vec![
                    Metric {
                        name: "jobs.done".into(),
                        unit: "{job}".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![
                                number(time_s, "mail", number_data_point::Value::AsInt(done)),
                                number(time_s, "sms", number_data_point::Value::AsInt(1)),
                            ],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![number(
                                time_s,
                                "mail",
                                number_data_point::Value::AsDouble(2.5),
                            )],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "job.duration".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: T0 + time_s * 1_000_000_000,
                                count: 3,
                                sum: Some(0.6),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![0.1, 0.5],
                                min: Some(0.05),
                                max: Some(0.3),
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The same counter from another SDK, as OTLP JSON: `asInt` as a string, enums as numbers.
const JSON_METRICS: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"py-worker"}}]},
  "scopeMetrics":[{"scope":{"name":"py"},"metrics":[{"name":"jobs.done","unit":"{job}",
    "sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[
      {"attributes":[{"key":"queue","value":{"stringValue":"mail"}}],
       "startTimeUnixNano":"1780000000000000000","timeUnixNano":"1780000010000000000",
       "asInt":"7"}]}}]}]}]}"#;

#[tokio::test]
async fn exports_in_protobuf_and_json_are_served_as_series_with_their_points() {
    let base = crate::testing::serve(crate::testing::sources(&[])).await;
    let receiver = format!("{base}/v1/metrics");
    let answer = post_protobuf(&receiver, export(10, 40).encode_to_vec()).await;
    let response = ExportMetricsServiceResponse::decode(answer.body).unwrap();
    assert_eq!(response.partial_success, None);
    post(
        &receiver,
        "application/x-protobuf",
        export(20, 42).encode_to_vec(),
    )
    .await;
    let answer = post(
        &receiver,
        "application/json",
        JSON_METRICS.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);

    let (status, all, content_type) = get(&format!("{base}/v1/metrics/otlp")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let names: Vec<(&str, &str)> = all["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["service"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("py-worker", "jobs.done"),
            ("shop-worker", "job.duration"),
            ("shop-worker", "jobs.done"),
            ("shop-worker", "jobs.done"),
            ("shop-worker", "queue.depth"),
        ]
    );
    assert_eq!(all["series_refused"], 0);

    let (_, done, _) = get(&format!(
        "{base}/v1/metrics/otlp?service=shop-worker&name=jobs.done"
    ))
    .await;
    let mail = done["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["queue"] == "mail")
        .unwrap();
    assert_eq!(mail["instance"], "shop-worker-1");
    assert_eq!(mail["scope"], "shop");
    assert_eq!(mail["unit"], "{job}");
    assert_eq!(mail["kind"], "sum");
    assert_eq!(mail["temporality"], "cumulative");
    assert_eq!(mail["monotonic"], true);
    assert_eq!(
        mail["points"],
        json!([
            {"time_unix_ms": 1_780_000_010_000_u64, "start_unix_ms": 1_780_000_000_000_u64, "value": 40.0},
            {"time_unix_ms": 1_780_000_020_000_u64, "start_unix_ms": 1_780_000_000_000_u64, "value": 42.0},
        ])
    );

    let (_, histogram, _) = get(&format!("{base}/v1/metrics/otlp?name=job.duration")).await;
    let point = &histogram["series"][0]["points"][1];
    assert_eq!(point["count"], 3);
    assert_eq!(point["sum"], 0.6);
    assert_eq!(point["bounds"], json!([0.1, 0.5]));
    assert_eq!(point["bucket_counts"], json!([1, 2, 0]));
    assert_eq!(point["max"], 0.3);

    let (_, other, _) = get(&format!("{base}/v1/metrics/otlp?service=py-worker")).await;
    let series = &other["series"][0];
    assert_eq!(series["temporality"], "delta");
    assert_eq!(series["points"][0]["value"], 7.0);
    assert!(series.get("instance").is_none());

    // The control port's own Prometheus exposition is still there.
    let answer = crate::testing::client()
        .send(http::Method::GET, &format!("{base}/metrics"), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&answer.body).contains("# TYPE"));
}

#[tokio::test]
async fn bad_input_is_refused_with_a_problem() {
    let base = crate::testing::serve(crate::testing::sources(&[])).await;
    let receiver = format!("{base}/v1/metrics");
    assert_refused(
        &receiver,
        [
            (
                "application/x-protobuf",
                b"\xff\xff\xff not protobuf".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "application/json",
                br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":{"name":"x"}}]}]}"#.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "application/xml",
                b"<metrics/>".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
        ],
    )
    .await;
    for parameter in ["service", "name"] {
        assert_invalid(&format!("{base}/v1/metrics/otlp?{parameter}="), parameter).await;
    }
    // A metric without a name: its points are refused, and said to be.
    let mut nameless = export(1, 1);
    nameless.resource_metrics[0].scope_metrics[0].metrics[1].name = String::new();
    let answer = post(
        &receiver,
        "application/json",
        serde_json::to_vec(&nameless).unwrap(),
    )
    .await;
    let response: ExportMetricsServiceResponse = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(response.partial_success.unwrap().rejected_data_points, 1);
    // A point whose value does not read (opentelemetry-proto reads it as none): refused.
    let unreadable = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x",
        "sum":{"dataPoints":[{"asInt":"lots"},{"asInt":"5"}]}}]}]}]}"#;
    let answer = post(&receiver, "application/json", unreadable.to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK);
    let response: ExportMetricsServiceResponse = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(response.partial_success.unwrap().rejected_data_points, 1);
    let (_, all, _) = get(&format!("{base}/v1/metrics/otlp")).await;
    let names: Vec<&str> = texts(&all["series"], "name");
    assert_eq!(names, ["job.duration", "jobs.done", "jobs.done", "x"]);
}

#[test]
fn a_series_keeps_its_latest_points_and_new_series_past_the_cap_are_refused_and_counted() {
    let store = MetricStore::new(Caps {
        series: 3,
        points_per_series: 2,
    });
    // Four series a time (mail, sms, the gauge, the histogram): the fourth is refused.
    for second in 1..=3 {
        let accepted = store.insert(export(second, second as i64));
        assert_eq!((accepted.points, accepted.rejected), (3, 1));
    }
    let listing = store.list(&Filter::default());
    assert_eq!(listing.series.len(), 3);
    assert_eq!(listing.series_refused, 3);
    let names: Vec<&str> = listing.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["jobs.done", "jobs.done", "queue.depth"]);
    // The ring: the last two of three points.
    let times: Vec<u64> = listing.series[0]
        .points
        .iter()
        .map(|p| p.time_unix_ms)
        .collect();
    assert_eq!(times, [1_780_000_002_000, 1_780_000_003_000]);
    assert_eq!(store.counts(), (3, 6));
    let value: Value = serde_json::to_value(&listing).unwrap();
    assert_eq!(value["caps"], json!({"series": 3, "points_per_series": 2}));
}
