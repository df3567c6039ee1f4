//! Spans: a server span per request, a client span per attempt of an outbound call and per
//! store statement (`store`), a consumer span per event applied, built with the OpenTelemetry API and exported by the instance's
//! [`Tracer`] (see `export`, with the `server` feature, for the OTLP exporter behind it).
//!
//! The ids of every span are the ids the rest of the chassis uses: the [`TraceContext`] of a
//! request is read from its server span, so the trace id in its log lines and problems, the
//! `traceparent` sent downstream and written into event envelopes, and the exported trace are
//! one and the same. Without a tracer (no OTLP endpoint configured) none of this runs and the
//! chassis makes up its ids itself, as before.
//!
//! Attribute names follow the OpenTelemetry semantic conventions for HTTP where there is one
//! (`http.request.method`, `http.route`, `http.response.status_code`, `url.path`,
//! `server.address`, `http.request.resend_count`), and are `brigade.*` for what is ours.

#[cfg(feature = "server")]
pub mod batch;
#[cfg(feature = "server")]
pub mod export;
#[cfg(feature = "server")]
pub mod otlp;
pub mod store;

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::global::{BoxedTracer, ObjectSafeTracer};
use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt,
    TraceFlags, TraceId, TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};

use crate::trace_context::TraceContext;

/// An instance's tracer: where its spans go. Cheap to clone.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<BoxedTracer>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").finish_non_exhaustive()
    }
}

/// A span being recorded, with the tracer that makes its children. Ends (and is queued for
/// export) when [`Traced::end`] is called or when the last clone is dropped.
#[derive(Clone)]
pub struct Traced {
    tracer: Tracer,
    cx: Context,
}

impl std::fmt::Debug for Traced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("span", &self.cx.span().span_context())
            .finish()
    }
}

/// How one attempt of an outbound call, or the call refused before any, ended (the
/// `brigade.client.outcome` attribute of its client span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOutcome {
    /// A 2xx answer.
    Ok,
    /// A 4xx answer other than 429: the caller's mistake, not the dependency's failure.
    Rejected,
    /// 503 or 429: the instance refused the work for load.
    Shed,
    /// Another 5xx answer.
    Failed,
    /// No answer within the attempt's deadline.
    Timeout,
    /// The connection failed.
    Transport,
    /// Not sent: the circuit breaker is open.
    BreakerOpen,
    /// Not sent: the bulkhead is full.
    BulkheadFull,
}

impl ClientOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientOutcome::Ok => "ok",
            ClientOutcome::Rejected => "rejected",
            ClientOutcome::Shed => "shed",
            ClientOutcome::Failed => "failed",
            ClientOutcome::Timeout => "timeout",
            ClientOutcome::Transport => "transport",
            ClientOutcome::BreakerOpen => "breaker_open",
            ClientOutcome::BulkheadFull => "bulkhead_full",
        }
    }

    /// The outcome of an answer with `status`.
    pub fn of_status(status: u16) -> ClientOutcome {
        match status {
            200..=399 => ClientOutcome::Ok,
            429 | 503 => ClientOutcome::Shed,
            400..=499 => ClientOutcome::Rejected,
            _ => ClientOutcome::Failed,
        }
    }

    fn is_error(self) -> bool {
        !matches!(self, ClientOutcome::Ok | ClientOutcome::Rejected)
    }
}

impl Tracer {
    /// Wraps an OpenTelemetry tracer (the exporter's, or a test's).
    pub fn new<T>(tracer: T) -> Tracer
    where
        T: opentelemetry::trace::Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        let boxed: Box<dyn ObjectSafeTracer + Send + Sync> = Box::new(tracer);
        Tracer {
            inner: Arc::new(BoxedTracer::new(boxed)),
        }
    }

    /// The server span of a request, continuing `incoming` (the caller's `traceparent`, already
    /// parsed) when there is one. Returns the span and the request's trace context, whose ids
    /// are the span's.
    ///
    /// The method is a `&'static str` and the route a shared string (the middleware's metric
    /// labels), so that their attributes are kept without copying them for every request.
    pub fn server_span(
        &self,
        incoming: &TraceContext,
        method: &'static str,
        route: &Arc<str>,
        path: &str,
    ) -> (Traced, TraceContext) {
        let parent = remote_parent(incoming).map_or_else(Context::new, |sc| {
            Context::new().with_remote_span_context(sc)
        });
        // Room for the attributes `end_server` adds, so that the vector is allocated once.
        let mut attributes = Vec::with_capacity(SERVER_ATTRIBUTES);
        attributes.extend([
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route.clone()),
            KeyValue::new("url.path", path.to_owned()),
        ]);
        let builder = SpanBuilder::from_name(format!("{method} {route}"))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        self.start(builder, &parent, incoming.parent_span_id, || *incoming)
    }

    /// The consumer span of an event: a new trace, linked to the producer's span when the
    /// envelope carried its `traceparent`, so that the request that made the change leads to
    /// every effect of its events without making one endless trace of them.
    pub fn consumer_span(
        &self,
        producer: Option<&TraceContext>,
        event_type: &str,
        source: &str,
    ) -> (Traced, TraceContext) {
        let mut builder = SpanBuilder::from_name(format!("process {event_type}"))
            .with_kind(SpanKind::Consumer)
            .with_attributes([
                KeyValue::new("messaging.operation.type", "process"),
                KeyValue::new("messaging.destination.name", source.to_owned()),
                KeyValue::new("cloudevents.event_type", event_type.to_owned()),
            ]);
        if let Some(sc) = producer.and_then(remote_parent) {
            builder = builder.with_links(vec![Link::with_context(sc)]);
        }
        self.start(builder, &Context::new(), None, TraceContext::new_root)
    }

    /// Starts the span of `builder`; its ids become the trace context, unless the tracer made
    /// no real span (its provider shut down), when `fallback` gives the ids.
    fn start(
        &self,
        builder: SpanBuilder,
        parent: &Context,
        parent_span_id: Option<[u8; 8]>,
        fallback: impl FnOnce() -> TraceContext,
    ) -> (Traced, TraceContext) {
        let span = self.inner.build_with_context(builder, parent);
        let sc = span.span_context();
        let trace = if sc.is_valid() {
            trace_of(sc, parent_span_id)
        } else {
            fallback()
        };
        let cx = parent.with_span(span);
        (
            Traced {
                tracer: self.clone(),
                cx,
            },
            trace,
        )
    }
}

impl Traced {
    /// A client span for attempt `attempt` (from 1) of a call to `service`, child of this span;
    /// and the trace context to send with the attempt, whose span is the client span.
    pub fn client_span(
        &self,
        service: &str,
        method: &str,
        path: &str,
        attempt: u32,
    ) -> (Traced, TraceContext) {
        // Room for the attributes `end_client` adds, so that the vector is allocated once.
        let mut attributes = Vec::with_capacity(CLIENT_ATTRIBUTES);
        attributes.extend([
            KeyValue::new("http.request.method", method_value(method)),
            KeyValue::new("url.path", path.to_owned()),
            KeyValue::new("peer.service", service.to_owned()),
            KeyValue::new("brigade.client.attempt", i64::from(attempt)),
        ]);
        if attempt > 1 {
            attributes.push(KeyValue::new(
                "http.request.resend_count",
                i64::from(attempt - 1),
            ));
        }
        let builder = SpanBuilder::from_name(format!("{method} {service}"))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let parent = self.trace();
        self.tracer
            .start(builder, &self.cx, Some(parent.span_id), || parent.child())
    }

    /// This span's ids as a trace context (its parent unknown).
    pub fn trace(&self) -> TraceContext {
        trace_of(self.cx.span().span_context(), None)
    }

    /// Ends a server span with the answer's status: an error for a 5xx (a 4xx is the caller's
    /// mistake, not the server's, per the HTTP conventions).
    pub fn end_server(&self, status: u16, shed: bool) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if shed {
            span.set_attribute(KeyValue::new("brigade.shed", true));
        }
        if status >= 500 {
            span.set_status(Status::error(Cow::Owned(status.to_string())));
        }
        span.end();
    }

    /// Ends a client span with how the attempt went; `status` when the instance answered,
    /// `retried` when another attempt follows.
    pub fn end_client(&self, outcome: ClientOutcome, status: Option<u16>, retried: bool) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("brigade.client.outcome", outcome.as_str()));
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if retried {
            span.set_attribute(KeyValue::new("brigade.client.retried", true));
        }
        if outcome.is_error() {
            span.set_status(Status::error(outcome.as_str()));
        }
        span.end();
    }

    /// Ends a consumer span; `error` says why the event was not applied.
    pub fn end_consumer(&self, outcome: &str, error: Option<&str>) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("brigade.event.outcome", outcome.to_owned()));
        if let Some(error) = error {
            span.set_status(Status::error(error.to_owned()));
        }
        span.end();
    }
}

/// Attributes a server span may end with: method, route, path, status, shed.
const SERVER_ATTRIBUTES: usize = 5;

/// Attributes a client span may end with: method, path, peer, attempt, resend count, outcome,
/// status, retried.
const CLIENT_ATTRIBUTES: usize = 8;

/// A method's name as an attribute value, without copying it for the standard methods.
fn method_value(method: &str) -> opentelemetry::Value {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|m| **m == method) {
        Some(standard) => opentelemetry::Value::from(*standard),
        None => opentelemetry::Value::from(method.to_owned()),
    }
}

/// The caller's span as a remote parent: the span the `traceparent` named.
fn remote_parent(incoming: &TraceContext) -> Option<SpanContext> {
    let parent = incoming.parent_span_id?;
    let flags = if incoming.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        TraceId::from_bytes(incoming.trace_id),
        SpanId::from_bytes(parent),
        flags,
        true,
        TraceState::default(),
    ))
}

fn trace_of(sc: &SpanContext, parent_span_id: Option<[u8; 8]>) -> TraceContext {
    TraceContext {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        parent_span_id,
        sampled: sc.is_sampled(),
    }
}
