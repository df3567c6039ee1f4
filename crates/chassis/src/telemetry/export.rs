//! The OTLP/HTTP exporter of an instance's spans, configured by the standard OpenTelemetry
//! environment variables (each also a flag):
//!
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a
//!   base URL, `/v1/traces` appended); neither: no exporter, no spans, no cost;
//! - `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`);
//! - the SDK's `OTEL_BSP_*` (queue size, batch size, delay, export timeout), and the OTLP
//!   exporter's `OTEL_EXPORTER_OTLP_TIMEOUT` and `_HEADERS` (and their `_TRACES_` forms).
//!
//! Spans go through the chassis' batch processor ([`super::batch`]): ending a span puts it on a
//! bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default) without waiting; a task on the
//! instance's tokio runtime encodes batches as OTLP protobuf ([`super::otlp`], straight from the
//! span data) and posts them over an async hyper client on that same runtime.
//! When the collector is down or slow the queue fills and further spans are dropped, and
//! counted: a request never waits for telemetry, and memory does not grow.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use super::batch::{BatchConfig, BatchProcessor, ExportTask, SpanCounts};
use super::otlp::HttpExporter;
use super::Tracer;
use crate::metrics::Metrics;

/// The tracing flags every service shares, named after the OpenTelemetry variables they read.
#[derive(Debug, Clone, clap::Args)]
pub struct TracingArgs {
    /// Base URL of an OTLP/HTTP collector (`/v1/traces` is appended), e.g. http://127.0.0.1:4318.
    /// Without it (or the traces endpoint) no span is recorded.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Full URL spans are posted to; wins over --otlp-endpoint.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")]
    pub otlp_traces_endpoint: Option<String>,

    /// Which traces are recorded: parentbased_traceidratio follows the caller's decision and
    /// samples new traces at --traces-sampler-arg.
    #[arg(
        long,
        env = "OTEL_TRACES_SAMPLER",
        value_enum,
        default_value = "parentbased_always_on"
    )]
    pub traces_sampler: SamplerKind,

    /// The ratio of the *traceidratio samplers, between 0 and 1.
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", default_value_t = 1.0, value_parser = parse_ratio)]
    pub traces_sampler_arg: f64,
}

/// The samplers of the OpenTelemetry specification's `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerKind {
    #[value(name = "always_on")]
    AlwaysOn,
    #[value(name = "always_off")]
    AlwaysOff,
    #[value(name = "traceidratio")]
    TraceIdRatio,
    #[default]
    #[value(name = "parentbased_always_on")]
    ParentBasedAlwaysOn,
    #[value(name = "parentbased_always_off")]
    ParentBasedAlwaysOff,
    #[value(name = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

fn parse_ratio(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("{value:?} is not a ratio between 0 and 1")),
    }
}

impl TracingArgs {
    /// Where spans are posted, if anywhere.
    pub fn traces_url(&self) -> Option<String> {
        if let Some(url) = non_empty(self.otlp_traces_endpoint.as_deref()) {
            return Some(url.to_owned());
        }
        non_empty(self.otlp_endpoint.as_deref())
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }

    fn sampler(&self) -> Sampler {
        let ratio = self.traces_sampler_arg;
        match self.traces_sampler {
            SamplerKind::AlwaysOn => Sampler::AlwaysOn,
            SamplerKind::AlwaysOff => Sampler::AlwaysOff,
            SamplerKind::TraceIdRatio => Sampler::TraceIdRatioBased(ratio),
            SamplerKind::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerKind::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            SamplerKind::ParentBasedTraceIdRatio => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
            }
        }
    }
}

/// An environment variable's value when it says something (empty means unset, per the spec).
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// Who the spans are from: the resource attributes of the semantic conventions.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// `service.name`
    pub service: &'a str,
    /// `service.instance.id`
    pub instance_id: &'a str,
    /// `service.version`
    pub version: &'a str,
}

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to {url}: {reason}")]
pub struct ExportError {
    url: String,
    reason: String,
}

/// A running exporter: the tracer that feeds it, what became of its spans, and its shutdown.
#[derive(Debug)]
pub struct Exporter {
    provider: SdkTracerProvider,
    tracer: Tracer,
    counts: SpanCounts,
    task: ExportTask,
}

/// How long the last spans may take to leave at shutdown before they are given up.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

impl Exporter {
    /// The exporter `args` ask for, or `None` when no endpoint is configured. It exports from
    /// the current tokio runtime, which must exist.
    pub fn start(args: &TracingArgs, origin: Origin<'_>) -> Result<Option<Exporter>, ExportError> {
        let Some(url) = args.traces_url() else {
            return Ok(None);
        };
        let failed = |reason: String| ExportError {
            url: url.clone(),
            reason,
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| failed(format!("no tokio runtime to export from: {e}")))?;
        // OTLP protobuf written straight from the span data, posted over opentelemetry-http's
        // hyper client on the current runtime.
        let mut exporter = HttpExporter::new(&url).map_err(|e| failed(e.to_string()))?;
        // `builder()` reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; ours come after so
        // that the service's own identity wins.
        let resource = Resource::builder()
            .with_service_name(origin.service.to_owned())
            .with_attributes([
                KeyValue::new("service.instance.id", origin.instance_id.to_owned()),
                KeyValue::new("service.version", origin.version.to_owned()),
            ])
            .build();
        // Given before the exporter moves into the task (the provider would give it to the
        // processor, which does not keep the exporter).
        opentelemetry_sdk::trace::SpanExporter::set_resource(&mut exporter, &resource);
        let counts = SpanCounts::default();
        let (processor, task) =
            BatchProcessor::start(exporter, BatchConfig::from_env(), counts.clone(), &runtime);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(args.sampler())
            .with_resource(resource)
            .build();
        let tracer = Tracer::new(opentelemetry::trace::TracerProvider::tracer(
            &provider,
            "brigade-chassis",
        ));
        tracing::info!(%url, "exporting traces over OTLP/HTTP");
        Ok(Some(Exporter {
            provider,
            tracer,
            counts,
            task,
        }))
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// Exposes how many spans were exported and dropped in `metrics`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        self.counts.register(metrics);
    }

    /// What became of the spans so far.
    pub fn counts(&self) -> &SpanCounts {
        &self.counts
    }

    /// Exports what is queued and stops, waiting at most [`SHUTDOWN_FLUSH`].
    pub async fn shutdown(self) {
        // Ours does not block: it closes the queue and wakes the export task.
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_FLUSH) {
            tracing::warn!(%error, "the span exporter's shutdown failed");
        }
        if !self.task.finish(SHUTDOWN_FLUSH).await {
            tracing::warn!("the last spans may not have been exported");
        }
    }
}
