//! The batch span processor: ending a span puts it on a bounded queue, under a lock held for a
//! push; a task on the instance's own tokio runtime takes the queue a batch at a time and hands
//! it to the exporter, whose HTTP client runs on the same runtime.
//!
//! Why not the SDK's `BatchSpanProcessor`: it exports from a thread of its own, blocking on
//! each export, and the blocking HTTP client behind it runs another runtime on another thread,
//! so every batch crossed three threads; its drops are only logged. Here a batch costs a wake
//! of a task and nothing per span but the push, and what is dropped is counted in the
//! instance's metrics (`otel_sdk_span_dropped_total`, by reason).
//!
//! The queue (`OTEL_BSP_MAX_QUEUE_SIZE`) and the one batch being exported are all the memory
//! spans take: when the collector is down or slow, exports fail or wait out their timeout,
//! the queue fills and further spans are dropped. A request never waits for telemetry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// The batching of spans, read from the SDK's standard `OTEL_BSP_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans waiting at most (`OTEL_BSP_MAX_QUEUE_SIZE`); more are dropped.
    pub max_queue_size: usize,
    /// Spans per export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`); a full batch is exported
    /// at once.
    pub max_export_batch_size: usize,
    /// The longest a span waits for its batch to fill (`OTEL_BSP_SCHEDULE_DELAY`, ms).
    pub scheduled_delay: Duration,
    /// The longest one export may take before its spans are given up
    /// (`OTEL_BSP_EXPORT_TIMEOUT`, ms).
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    /// The defaults of the OpenTelemetry specification.
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

impl BatchConfig {
    /// The defaults, overridden by whichever `OTEL_BSP_*` variables are set to a number; a
    /// batch is never larger than the queue.
    pub fn from_env() -> BatchConfig {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> BatchConfig {
        let number = |name: &str| {
            lookup(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        let defaults = BatchConfig::default();
        let count = |name: &str, default: usize| {
            number(name).map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        let millis =
            |name: &str, default: Duration| number(name).map_or(default, Duration::from_millis);
        let max_queue_size = count("OTEL_BSP_MAX_QUEUE_SIZE", defaults.max_queue_size);
        BatchConfig {
            max_queue_size,
            max_export_batch_size: count(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                defaults.max_export_batch_size,
            )
            .min(max_queue_size),
            scheduled_delay: millis("OTEL_BSP_SCHEDULE_DELAY", defaults.scheduled_delay),
            export_timeout: millis("OTEL_BSP_EXPORT_TIMEOUT", defaults.export_timeout),
        }
    }
}

/// Why spans were not exported (the `reason` label of `otel_sdk_span_dropped_total`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub reason: &'static str,
}

/// What became of the spans: exported, or dropped and why. Cheap to clone (shared counters).
#[derive(Debug, Clone, Default)]
pub struct SpanCounts {
    pub exported: Counter,
    pub dropped: Family<DropLabels, Counter>,
}

/// The queue was full when the span ended.
pub const QUEUE_FULL: &str = "queue_full";
/// The export failed or timed out (the collector is down, slow or refused them).
pub const EXPORT_FAILED: &str = "export_failed";

impl SpanCounts {
    /// Exposes the counts in `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(
            "otel_sdk_span_exported",
            "Spans this instance exported to the OTLP collector",
            self.exported.clone(),
        );
        metrics.register(
            "otel_sdk_span_dropped",
            "Spans this instance did not export, by reason (queue_full, export_failed)",
            self.dropped.clone(),
        );
    }

    fn drop_spans(&self, reason: &'static str, count: u64) {
        self.dropped
            .get_or_create(&DropLabels { reason })
            .inc_by(count);
    }
}

/// The spans waiting for export, shared by the processor (which pushes) and the export task
/// (which takes).
#[derive(Debug)]
struct Queue {
    spans: Mutex<Vec<SpanData>>,
    config: BatchConfig,
    /// A full batch waits: the task need not wait for its schedule.
    batch_ready: Notify,
    /// The processor was shut down: the task exports what is left and ends.
    closing: Notify,
    closed: AtomicBool,
    counts: SpanCounts,
}

impl Queue {
    fn push(&self, span: SpanData) {
        let queued = match self.spans.lock() {
            Ok(mut spans) if spans.len() < self.config.max_queue_size => {
                spans.push(span);
                Some(spans.len())
            }
            // Full (or poisoned, which only a panic while pushing could do): dropped. The span
            // is freed after the lock is released, by the return.
            _ => None,
        };
        match queued {
            // Exactly at the batch size: one wake per batch, not one per span after it.
            Some(len) if len == self.config.max_export_batch_size => self.batch_ready.notify_one(),
            Some(_) => {}
            None => self.counts.drop_spans(QUEUE_FULL, 1),
        }
    }

    /// Up to a batch of the oldest spans. The queue's vector is taken whole when it holds no
    /// more than a batch (the usual case: the task is woken at a batch), so that spans are
    /// not copied under the lock.
    fn take_batch(&self) -> Vec<SpanData> {
        let Ok(mut spans) = self.spans.lock() else {
            return Vec::new();
        };
        let batch = self.config.max_export_batch_size;
        if spans.len() <= batch {
            std::mem::replace(&mut *spans, Vec::with_capacity(batch))
        } else {
            spans.drain(..batch).collect()
        }
    }
}

/// The [`SpanProcessor`] of an instance's tracer provider: queues ended spans for the export
/// task of [`BatchProcessor::start`].
#[derive(Debug)]
pub struct BatchProcessor {
    queue: Arc<Queue>,
}

/// The export task of a [`BatchProcessor`]; awaiting it waits for the last spans to leave.
#[derive(Debug)]
pub struct ExportTask(JoinHandle<()>);

impl ExportTask {
    /// Waits until the task has exported what was queued when its processor shut down, at most
    /// `limit`; returns whether it finished. A task still waiting on the collector then is
    /// stopped, so that a hung collector leaves nothing running behind the instance.
    pub async fn finish(mut self, limit: Duration) -> bool {
        match tokio::time::timeout(limit, &mut self.0).await {
            Ok(ended) => ended.is_ok(),
            Err(_) => {
                self.0.abort();
                false
            }
        }
    }
}

impl BatchProcessor {
    /// A processor feeding `exporter` from a task spawned on the current tokio runtime, which
    /// must exist (the instance's).
    pub fn start<E>(
        exporter: E,
        config: BatchConfig,
        counts: SpanCounts,
        runtime: &tokio::runtime::Handle,
    ) -> (BatchProcessor, ExportTask)
    where
        E: SpanExporter + 'static,
    {
        let queue = Arc::new(Queue {
            spans: Mutex::new(Vec::with_capacity(config.max_export_batch_size)),
            config,
            batch_ready: Notify::new(),
            closing: Notify::new(),
            closed: AtomicBool::new(false),
            counts,
        });
        let task = runtime.spawn(export_loop(queue.clone(), exporter));
        (BatchProcessor { queue }, ExportTask(task))
    }
}

impl SpanProcessor for BatchProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.queue.closed.load(Ordering::Relaxed) {
            return;
        }
        self.queue.push(span);
    }

    /// Flushing happens on the task's schedule and at shutdown; a caller cannot block a thread
    /// of the runtime that would do it.
    fn force_flush(&self) -> OTelSdkResult {
        self.queue.batch_ready.notify_one();
        Ok(())
    }

    /// Stops taking spans and tells the task to export what is queued and end; the chassis
    /// awaits the task ([`ExportTask::finish`]).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if !self.queue.closed.swap(true, Ordering::AcqRel) {
            self.queue.closing.notify_one();
        }
        Ok(())
    }
}

/// Exports a batch whenever one is full or the schedule comes, until the processor shuts down;
/// then exports what is left and shuts the exporter down.
async fn export_loop<E: SpanExporter>(queue: Arc<Queue>, mut exporter: E) {
    let config = queue.config;
    loop {
        let closing = tokio::select! {
            () = queue.batch_ready.notified() => false,
            () = tokio::time::sleep(config.scheduled_delay) => false,
            () = queue.closing.notified() => true,
        };
        export_queued(&queue, &mut exporter).await;
        if closing {
            break;
        }
    }
    let _ = exporter.shutdown();
}

/// Exports batches until the queue holds less than a batch (the rest waits for the schedule)
/// or is empty when closing.
async fn export_queued<E: SpanExporter>(queue: &Queue, exporter: &mut E) {
    let config = queue.config;
    loop {
        let batch = queue.take_batch();
        let count = batch.len() as u64;
        if count == 0 {
            return;
        }
        match tokio::time::timeout(config.export_timeout, exporter.export(batch)).await {
            Ok(Ok(())) => {
                queue.counts.exported.inc_by(count);
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, spans = count, "spans not exported");
                queue.counts.drop_spans(EXPORT_FAILED, count);
            }
            Err(_) => {
                tracing::debug!(spans = count, "span export timed out");
                queue.counts.drop_spans(EXPORT_FAILED, count);
            }
        }
        if (count as usize) < config.max_export_batch_size && !queue.closed.load(Ordering::Acquire)
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    #[test]
    fn the_batching_is_read_from_the_standard_variables() {
        let config = BatchConfig::from_lookup(|name| match name {
            "OTEL_BSP_MAX_QUEUE_SIZE" => Some("100".into()),
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" => Some("500".into()),
            "OTEL_BSP_SCHEDULE_DELAY" => Some(" 250 ".into()),
            "OTEL_BSP_EXPORT_TIMEOUT" => Some("soon".into()),
            _ => None,
        });
        assert_eq!(
            config,
            BatchConfig {
                max_queue_size: 100,
                // Never more than the queue holds.
                max_export_batch_size: 100,
                scheduled_delay: Duration::from_millis(250),
                // Not a number: the default.
                export_timeout: BatchConfig::default().export_timeout,
            }
        );
        assert_eq!(BatchConfig::from_lookup(|_| None), BatchConfig::default());
    }

    /// An exporter that records the size of each batch; it fails every export when `fail`, and
    /// holds each export until `release` gives it a permit when `hold`.
    #[derive(Debug, Clone)]
    struct Recording {
        batches: Arc<Mutex<Vec<usize>>>,
        fail: bool,
        hold: bool,
        started: Arc<Notify>,
        release: Arc<tokio::sync::Semaphore>,
    }

    impl Default for Recording {
        fn default() -> Self {
            Recording {
                batches: Arc::default(),
                fail: false,
                hold: false,
                started: Arc::default(),
                release: Arc::new(tokio::sync::Semaphore::new(0)),
            }
        }
    }

    impl SpanExporter for Recording {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.started.notify_one();
            if self.hold {
                self.release.acquire().await.unwrap().forget();
            }
            self.batches.lock().unwrap().push(batch.len());
            if self.fail {
                return Err(OTelSdkError::InternalFailure("refused".into()));
            }
            Ok(())
        }
    }

    /// Hours: nothing leaves on the schedule within a test.
    const NEVER: Duration = Duration::from_secs(3600);

    struct Pipeline {
        provider: SdkTracerProvider,
        task: ExportTask,
        counts: SpanCounts,
    }

    impl Pipeline {
        fn start(exporter: Recording, max_queue_size: usize, max_export_batch_size: usize) -> Self {
            let config = BatchConfig {
                max_queue_size,
                max_export_batch_size,
                scheduled_delay: NEVER,
                export_timeout: NEVER,
            };
            let counts = SpanCounts::default();
            let runtime = tokio::runtime::Handle::current();
            let (processor, task) =
                BatchProcessor::start(exporter, config, counts.clone(), &runtime);
            let provider = SdkTracerProvider::builder()
                .with_span_processor(processor)
                .build();
            Pipeline {
                provider,
                task,
                counts,
            }
        }

        fn end_spans(&self, count: usize) {
            let tracer = self.provider.tracer("test");
            for _ in 0..count {
                tracer.start("work").end();
            }
        }

        async fn shutdown(self) -> SpanCounts {
            self.provider.shutdown().unwrap();
            assert!(self.task.finish(Duration::from_secs(10)).await);
            self.counts
        }
    }

    fn dropped(counts: &SpanCounts, reason: &'static str) -> u64 {
        counts.dropped.get_or_create(&DropLabels { reason }).get()
    }

    #[tokio::test]
    async fn a_full_batch_leaves_without_waiting_for_the_schedule_and_the_rest_at_shutdown() {
        let exporter = Recording::default();
        let traced = Pipeline::start(exporter.clone(), 16, 4);
        traced.end_spans(4);
        // The schedule is an hour away: only the full batch wakes the task.
        exporter.started.notified().await;
        traced.end_spans(3);
        let counts = traced.shutdown().await;
        assert_eq!(*exporter.batches.lock().unwrap(), vec![4, 3]);
        assert_eq!(counts.exported.get(), 7);
        assert_eq!(dropped(&counts, QUEUE_FULL), 0);
    }

    #[tokio::test]
    async fn spans_beyond_the_queue_are_dropped_and_counted_while_an_export_waits() {
        let exporter = Recording {
            hold: true,
            ..Recording::default()
        };
        let traced = Pipeline::start(exporter.clone(), 4, 2);
        traced.end_spans(2);
        // The first batch is out of the queue, its export held as by a slow collector.
        exporter.started.notified().await;
        traced.end_spans(7);
        assert_eq!(dropped(&traced.counts, QUEUE_FULL), 3);
        exporter.release.add_permits(3);
        let counts = traced.shutdown().await;
        assert_eq!(*exporter.batches.lock().unwrap(), vec![2, 2, 2]);
        assert_eq!(counts.exported.get(), 6);
    }

    #[tokio::test]
    async fn the_spans_of_a_failed_export_are_counted_as_dropped() {
        let exporter = Recording {
            fail: true,
            ..Recording::default()
        };
        let traced = Pipeline::start(exporter.clone(), 16, 4);
        traced.end_spans(5);
        let counts = traced.shutdown().await;
        assert_eq!(*exporter.batches.lock().unwrap(), vec![4, 1]);
        assert_eq!(counts.exported.get(), 0);
        assert_eq!(dropped(&counts, EXPORT_FAILED), 5);
    }
}
