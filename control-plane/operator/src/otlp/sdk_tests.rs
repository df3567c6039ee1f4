//! The receivers read what real clients send: the OpenTelemetry SDK's own OTLP/HTTP exporters
//! (protobuf and JSON) post logs and metrics to a control port, and they show up in its APIs.

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::logs::log_processor_with_async_runtime::BatchLogProcessor;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::Resource;
use serde_json::Value;

use crate::testing::{get, serve, sources};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn resource(service: &str) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", service.to_owned()),
            KeyValue::new("service.instance.id", format!("{service}-1")),
        ])
        .build()
}

/// One warning of trace [`TRACE`], sent and flushed by the SDK (its processor runs on the
/// test's runtime; this function blocks, so it is called from a blocking thread).
fn send_logs(base: &str, service: &str, protocol: Protocol) {
    let exporter = LogExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("{base}/v1/logs"))
        .build()
        .unwrap();
    let provider = SdkLoggerProvider::builder()
        .with_resource(resource(service))
        .with_log_processor(BatchLogProcessor::builder(exporter, Tokio).build())
        .build();
    let logger = provider.logger("sdk-test");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    record.set_body("mail is slow".into());
    record.add_attribute("attempt", 3_i64);
    record.set_trace_context(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        None,
    );
    logger.emit(record);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

/// A counter, a gauge and a histogram, exported once at shutdown.
fn send_metrics(base: &str, service: &str, protocol: Protocol) {
    let exporter = MetricExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("{base}/v1/metrics"))
        .build()
        .unwrap();
    let provider = SdkMeterProvider::builder()
        .with_resource(resource(service))
        .with_reader(PeriodicReader::builder(exporter, Tokio).build())
        .build();
    let meter = provider.meter("sdk-test");
    let done = meter.u64_counter("jobs.done").build();
    done.add(2, &[KeyValue::new("queue", "mail")]);
    done.add(1, &[KeyValue::new("queue", "mail")]);
    meter
        .f64_gauge("queue.depth")
        .build()
        .record(4.5, &[KeyValue::new("queue", "mail")]);
    let duration = meter.f64_histogram("job.duration").with_unit("s").build();
    duration.record(0.2, &[]);
    duration.record(0.4, &[]);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

fn series<'a>(listing: &'a Value, name: &str) -> &'a Value {
    listing["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {listing}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_exporters_logs_and_metrics_in_protobuf_and_json_are_received() {
    let base = serve(sources(&[])).await;
    for (service, protocol) in [
        ("proto-worker", Protocol::HttpBinary),
        ("json-worker", Protocol::HttpJson),
    ] {
        let url = base.clone();
        tokio::task::spawn_blocking(move || {
            send_logs(&url, service, protocol);
            send_metrics(&url, service, protocol);
        })
        .await
        .unwrap();

        let (_, page, _) = get(&format!("{base}/v1/logs?service={service}")).await;
        let lines = page["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{service}: {page}");
        let line = &lines[0];
        assert_eq!(line["instance"], 1, "{service}");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["message"], "mail is slow");
        assert_eq!(line["trace_id"], TRACE);
        assert_eq!(line["span_id"], "00f067aa0ba902b7");
        assert_eq!(line["fields"]["attempt"], 3);
        assert_eq!(line["target"], "sdk-test");

        let (_, listing, _) = get(&format!("{base}/v1/metrics/otlp?service={service}")).await;
        let done = series(&listing, "jobs.done");
        assert_eq!(done["kind"], "sum", "{service}");
        assert_eq!(done["monotonic"], true);
        assert_eq!(done["temporality"], "cumulative");
        assert_eq!(done["attributes"]["queue"], "mail");
        assert_eq!(done["instance"], format!("{service}-1"));
        let last = |s: &Value| s["points"].as_array().unwrap().last().cloned().unwrap();
        assert_eq!(last(done)["value"], 3.0);
        assert_eq!(last(series(&listing, "queue.depth"))["value"], 4.5);
        let duration = series(&listing, "job.duration");
        assert_eq!(duration["unit"], "s");
        assert_eq!(last(duration)["count"], 2);
        assert!((last(duration)["sum"].as_f64().unwrap() - 0.6).abs() < 1e-9);
    }
}
