//! OTLP protobuf written straight from the SDK's [`SpanData`]: an `ExportTraceServiceRequest`
//! (opentelemetry-proto's `collector/trace/v1`) without building its message structs first.
//!
//! opentelemetry-otlp's exporter converts every span into opentelemetry-proto's structs (a
//! fresh `Vec` for each id, a `String` for each attribute's key and value) and then encodes
//! them with prost, whose nested lengths are computed again at every level; that was most of
//! what exporting a span cost. Here each message's length is computed from the span data, then
//! the bytes are written once into one buffer. The resource, the same for every batch, is
//! encoded once.
//!
//! The output is what prost would write for the converted structs, field for field and in the
//! same order (fields by tag, defaults left out, `status` always present), so any OTLP
//! receiver reads it; the tests check it byte for byte against opentelemetry-proto's own
//! conversion and encoding.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{Link, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::HttpClient;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// Wire types of the protobuf encoding.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags` of the trace proto: the flags say whether the parent is remote, and it is.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// The parts of an export request that are the same for every batch of an instance.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// The `resource` field of `ResourceSpans`, tag and length included.
    resource: Vec<u8>,
    /// The `schema_url` field of `ResourceSpans`, tag and length included (empty when none).
    resource_schema_url: Vec<u8>,
}

impl Encoder {
    /// An encoder of spans from `resource`.
    pub fn new(resource: &Resource) -> Encoder {
        let attributes: Vec<KeyValue> = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let content = attributes_len(1, &attributes);
        let mut field = Vec::with_capacity(content + 8);
        put_len_key(&mut field, 1, content);
        put_attributes(&mut field, 1, &attributes);
        let mut resource_schema_url = Vec::new();
        put_str(
            &mut resource_schema_url,
            3,
            resource.schema_url().unwrap_or(""),
        );
        Encoder {
            resource: field,
            resource_schema_url,
        }
    }

    /// The body of an export of `spans`: one `ResourceSpans`, a `ScopeSpans` per
    /// instrumentation scope in the order the scopes first appear.
    pub fn encode(&self, spans: &[SpanData]) -> Vec<u8> {
        // Spans by scope (nearly always one), each span's encoded length kept for the write.
        let mut scopes: Vec<ScopeGroup<'_>> = Vec::new();
        let mut span_lens = Vec::with_capacity(spans.len());
        for (index, span) in spans.iter().enumerate() {
            let len = span_len(span);
            span_lens.push(len);
            let scope = &span.instrumentation_scope;
            let position = match scopes.iter().position(|g| g.scope == scope) {
                Some(position) => position,
                None => {
                    scopes.push(ScopeGroup::new(scope));
                    scopes.len() - 1
                }
            };
            let group = &mut scopes[position];
            group.spans.push(index);
            group.len += field_len(2, len);
        }
        let resource_spans_len = self.resource.len()
            + scopes.iter().map(|g| field_len(2, g.len)).sum::<usize>()
            + self.resource_schema_url.len();
        let mut out = Vec::with_capacity(field_len(1, resource_spans_len));
        put_len_key(&mut out, 1, resource_spans_len);
        out.extend_from_slice(&self.resource);
        for group in &scopes {
            put_len_key(&mut out, 2, group.len);
            put_len_key(&mut out, 1, group.scope_len);
            put_scope(&mut out, group.scope);
            for &index in &group.spans {
                put_len_key(&mut out, 2, span_lens[index]);
                put_span(&mut out, &spans[index]);
            }
            put_str(&mut out, 3, group.scope.schema_url().unwrap_or(""));
        }
        out.extend_from_slice(&self.resource_schema_url);
        out
    }
}

/// The spans of one instrumentation scope and the length of their `ScopeSpans`.
struct ScopeGroup<'a> {
    scope: &'a InstrumentationScope,
    scope_len: usize,
    spans: Vec<usize>,
    len: usize,
}

impl<'a> ScopeGroup<'a> {
    fn new(scope: &'a InstrumentationScope) -> Self {
        let scope_len = scope_len(scope);
        ScopeGroup {
            scope,
            scope_len,
            spans: Vec::new(),
            len: field_len(1, scope_len) + str_len(3, scope.schema_url().unwrap_or("")),
        }
    }
}

// --- lengths -------------------------------------------------------------------------------

fn varint_len(value: u64) -> usize {
    // 7 bits a byte; 0 takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

/// A length-delimited field holding `len` bytes.
fn field_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

/// A string or bytes field, left out when empty.
fn str_len(field: u32, value: &str) -> usize {
    bytes_len(field, value.as_bytes())
}

fn bytes_len(field: u32, value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        field_len(field, value.len())
    }
}

fn uint_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(value)
    }
}

fn fixed64_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + 8
    }
}

fn fixed32_len(field: u32, value: u32) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + 4
    }
}

fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => 2,
        Value::I64(v) => 1 + varint_len(*v as u64),
        Value::F64(_) => 9,
        Value::String(s) => field_len(1, s.as_str().len()),
        Value::Array(array) => field_len(5, array_len(array)),
        // A kind of value newer than this encoder: sent as its text.
        other => field_len(1, other.to_string().len()),
    }
}

fn array_len(array: &Array) -> usize {
    fn each<T>(values: &[T], len: impl Fn(&T) -> usize) -> usize {
        values.iter().map(|v| field_len(1, len(v))).sum()
    }
    match array {
        Array::Bool(values) => each(values, |_| 2),
        Array::I64(values) => each(values, |v| 1 + varint_len(*v as u64)),
        Array::F64(values) => each(values, |_| 9),
        Array::String(values) => each(values, |v| field_len(1, v.as_str().len())),
        other => field_len(1, other.to_string().len()),
    }
}

fn key_value_len(kv: &KeyValue) -> usize {
    str_len(1, kv.key.as_str()) + field_len(2, any_value_len(&kv.value))
}

/// Repeated `KeyValue` field `field`.
fn attributes_len(field: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| field_len(field, key_value_len(kv)))
        .sum()
}

fn scope_len(scope: &InstrumentationScope) -> usize {
    let attributes: usize = scope
        .attributes()
        .map(|kv| field_len(3, key_value_len(kv)))
        .sum();
    str_len(1, scope.name()) + str_len(2, scope.version().unwrap_or("")) + attributes
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags) | CONTEXT_HAS_IS_REMOTE | if remote { CONTEXT_IS_REMOTE } else { 0 }
}

/// The status code and message of the proto's `Status`.
fn status(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description.as_ref()),
    }
}

fn status_len(status: &Status) -> usize {
    let (code, message) = self::status(status);
    str_len(2, message) + uint_len(3, code)
}

fn event_len(event: &opentelemetry::trace::Event) -> usize {
    fixed64_len(1, nanos(event.timestamp))
        + str_len(2, &event.name)
        + attributes_len(3, &event.attributes)
        + uint_len(4, u64::from(event.dropped_attributes_count))
}

fn link_len(link: &Link, trace_state: &str) -> usize {
    let sc = &link.span_context;
    field_len(1, 16)
        + field_len(2, 8)
        + str_len(3, trace_state)
        + attributes_len(4, &link.attributes)
        + uint_len(5, u64::from(link.dropped_attributes_count))
        + fixed32_len(6, flags(sc.trace_flags().to_u8(), sc.is_remote()))
}

fn span_len(span: &SpanData) -> usize {
    let sc = &span.span_context;
    let parent = span.parent_span_id.to_bytes();
    let events: usize = span
        .events
        .iter()
        .map(|e| field_len(11, event_len(e)))
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|l| field_len(13, link_len(l, &l.span_context.trace_state().header())))
        .sum();
    field_len(1, 16)
        + field_len(2, 8)
        + str_len(3, &sc.trace_state().header())
        + bytes_len(4, parent_bytes(&parent))
        + str_len(5, &span.name)
        + uint_len(6, kind(&span.span_kind))
        + fixed64_len(7, nanos(span.start_time))
        + fixed64_len(8, nanos(span.end_time))
        + attributes_len(9, &span.attributes)
        + uint_len(10, u64::from(span.dropped_attributes_count))
        + events
        + uint_len(12, u64::from(span.events.dropped_count))
        + links
        + uint_len(14, u64::from(span.links.dropped_count))
        + field_len(15, status_len(&span.status))
        + fixed32_len(
            16,
            flags(sc.trace_flags().to_u8(), span.parent_span_is_remote),
        )
}

/// The parent's id, or nothing for a root span (the invalid id).
fn parent_bytes(parent: &[u8; 8]) -> &[u8] {
    if *parent == [0; 8] {
        &[]
    } else {
        parent
    }
}

// --- writing -------------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(out, u64::from(field << 3 | wire_type));
}

/// The key and length of a length-delimited field whose `len` bytes follow.
fn put_len_key(out: &mut Vec<u8>, field: u32, len: usize) {
    put_key(out, field, LEN);
    put_varint(out, len as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    if !value.is_empty() {
        put_len_key(out, field, value.len());
        out.extend_from_slice(value);
    }
}

fn put_str(out: &mut Vec<u8>, field: u32, value: &str) {
    put_bytes(out, field, value.as_bytes());
}

fn put_uint(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_key(out, field, VARINT);
        put_varint(out, value);
    }
}

fn put_fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_key(out, field, FIXED64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        put_key(out, field, FIXED32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// The content of an `AnyValue` (its oneof field, present even when a default).
fn put_any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(v) => {
            put_key(out, 2, VARINT);
            out.push(u8::from(*v));
        }
        Value::I64(v) => {
            put_key(out, 3, VARINT);
            put_varint(out, *v as u64);
        }
        Value::F64(v) => {
            put_key(out, 4, FIXED64);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::String(s) => {
            put_len_key(out, 1, s.as_str().len());
            out.extend_from_slice(s.as_str().as_bytes());
        }
        Value::Array(array) => {
            put_len_key(out, 5, array_len(array));
            put_array(out, array);
        }
        other => {
            let text = other.to_string();
            put_len_key(out, 1, text.len());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

fn put_array(out: &mut Vec<u8>, array: &Array) {
    match array {
        Array::Bool(values) => {
            for v in values {
                put_len_key(out, 1, 2);
                put_any_value(out, &Value::Bool(*v));
            }
        }
        Array::I64(values) => {
            for v in values {
                put_len_key(out, 1, 1 + varint_len(*v as u64));
                put_any_value(out, &Value::I64(*v));
            }
        }
        Array::F64(values) => {
            for v in values {
                put_len_key(out, 1, 9);
                put_any_value(out, &Value::F64(*v));
            }
        }
        Array::String(values) => {
            for v in values {
                let s = v.as_str();
                put_len_key(out, 1, field_len(1, s.len()));
                put_len_key(out, 1, s.len());
                out.extend_from_slice(s.as_bytes());
            }
        }
        other => {
            let text = other.to_string();
            put_len_key(out, 1, field_len(1, text.len()));
            put_len_key(out, 1, text.len());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

fn put_key_value(out: &mut Vec<u8>, kv: &KeyValue) {
    put_str(out, 1, kv.key.as_str());
    put_len_key(out, 2, any_value_len(&kv.value));
    put_any_value(out, &kv.value);
}

fn put_attributes(out: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        put_len_key(out, field, key_value_len(kv));
        put_key_value(out, kv);
    }
}

fn put_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    put_str(out, 1, scope.name());
    put_str(out, 2, scope.version().unwrap_or(""));
    for kv in scope.attributes() {
        put_len_key(out, 3, key_value_len(kv));
        put_key_value(out, kv);
    }
}

fn put_span(out: &mut Vec<u8>, span: &SpanData) {
    let sc = &span.span_context;
    put_bytes(out, 1, &sc.trace_id().to_bytes());
    put_bytes(out, 2, &sc.span_id().to_bytes());
    put_str(out, 3, &sc.trace_state().header());
    put_bytes(out, 4, parent_bytes(&span.parent_span_id.to_bytes()));
    put_str(out, 5, &span.name);
    put_uint(out, 6, kind(&span.span_kind));
    put_fixed64(out, 7, nanos(span.start_time));
    put_fixed64(out, 8, nanos(span.end_time));
    put_attributes(out, 9, &span.attributes);
    put_uint(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        put_len_key(out, 11, event_len(event));
        put_fixed64(out, 1, nanos(event.timestamp));
        put_str(out, 2, &event.name);
        put_attributes(out, 3, &event.attributes);
        put_uint(out, 4, u64::from(event.dropped_attributes_count));
    }
    put_uint(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        let lsc = &link.span_context;
        let trace_state = lsc.trace_state().header();
        put_len_key(out, 13, link_len(link, &trace_state));
        put_bytes(out, 1, &lsc.trace_id().to_bytes());
        put_bytes(out, 2, &lsc.span_id().to_bytes());
        put_str(out, 3, &trace_state);
        put_attributes(out, 4, &link.attributes);
        put_uint(out, 5, u64::from(link.dropped_attributes_count));
        put_fixed32(out, 6, flags(lsc.trace_flags().to_u8(), lsc.is_remote()));
    }
    put_uint(out, 14, u64::from(span.links.dropped_count));
    put_len_key(out, 15, status_len(&span.status));
    let (code, message) = status(&span.status);
    put_str(out, 2, message);
    put_uint(out, 3, code);
    put_fixed32(
        out,
        16,
        flags(sc.trace_flags().to_u8(), span.parent_span_is_remote),
    );
}

// --- transport -----------------------------------------------------------------------------

/// How long one post may take at most unless `OTEL_EXPORTER_OTLP_TIMEOUT` says (the
/// specification's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Retries of a batch whose post failed for a reason that may pass (no connection, 429, 502,
/// 503, 504), with the delay doubling from the first to the last; the batch processor's
/// export timeout bounds them all.
const MAX_RETRIES: u32 = 3;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const LAST_RETRY_DELAY: Duration = Duration::from_millis(1600);

/// Posts spans to an OTLP/HTTP collector as protobuf, over opentelemetry-http's hyper client
/// on the current tokio runtime. The headers (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else
/// `OTEL_EXPORTER_OTLP_HEADERS`) and the timeout of a post (`..._TRACES_TIMEOUT`, else
/// `OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds) are read as opentelemetry-otlp reads them.
#[derive(Debug)]
pub struct HttpExporter {
    client: HyperClient,
    endpoint: http::Uri,
    headers: HeaderMap,
    encoder: Encoder,
}

/// Why an exporter could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpExporterError(String);

impl HttpExporter {
    /// An exporter posting to `endpoint` (the full URL, `/v1/traces` included), configured by
    /// the environment.
    pub fn new(endpoint: &str) -> Result<HttpExporter, HttpExporterError> {
        Self::with_lookup(endpoint, |name| std::env::var(name).ok())
    }

    fn with_lookup(
        endpoint: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<HttpExporter, HttpExporterError> {
        let endpoint: http::Uri = endpoint
            .parse()
            .map_err(|e| HttpExporterError(format!("not a URL: {e}")))?;
        if endpoint.scheme() != Some(&http::uri::Scheme::HTTP) {
            return Err(HttpExporterError(
                "only http:// collectors are supported".to_owned(),
            ));
        }
        let timeout = lookup("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .or_else(|| {
                lookup("OTEL_EXPORTER_OTLP_TIMEOUT").and_then(|v| v.trim().parse::<u64>().ok())
            })
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let headers = lookup("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| lookup("OTEL_EXPORTER_OTLP_HEADERS"))
            .map(|list| parse_headers(&list))
            .unwrap_or_default();
        Ok(HttpExporter {
            client: HyperClient::with_default_connector(timeout, None),
            endpoint,
            headers,
            encoder: Encoder::default(),
        })
    }

    /// One post of `body`: `Ok(())` when accepted, else whether a retry may succeed.
    async fn post(&self, body: Bytes) -> Result<(), (bool, String)> {
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.endpoint.clone();
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.extend(self.headers.clone());
        match self.client.send_bytes(request).await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                Err((
                    matches!(status, 429 | 502 | 503 | 504),
                    format!("the collector answered {status}"),
                ))
            }
            Err(error) => Err((true, format!("post failed: {error}"))),
        }
    }
}

impl SpanExporter for HttpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let body = Bytes::from(self.encoder.encode(&batch));
        drop(batch);
        let mut delay = FIRST_RETRY_DELAY;
        let mut retries = 0;
        loop {
            match self.post(body.clone()).await {
                Ok(()) => return Ok(()),
                Err((true, _)) if retries < MAX_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(LAST_RETRY_DELAY);
                }
                Err((_, reason)) => return Err(OTelSdkError::InternalFailure(reason)),
            }
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = Encoder::new(resource);
    }
}

/// `key=value` pairs separated by commas, values percent-decoded (the W3C Baggage format the
/// specification gives `OTEL_EXPORTER_OTLP_HEADERS`); pairs that make no header are skipped.
fn parse_headers(list: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for pair in list.split_terminator(',') {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        let (Ok(name), Some(value)) = (
            http::header::HeaderName::from_bytes(name.trim().as_bytes()),
            percent_decode(value.trim()),
        ) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use opentelemetry::trace::{Event, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message;

    use super::*;

    fn context(
        trace: u128,
        span: u64,
        sampled: bool,
        remote: bool,
        state: TraceState,
    ) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            remote,
            state,
        )
    }

    fn span(name: &'static str, scope: &InstrumentationScope) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_nanos(1_765_000_000_123_456_789);
        SpanData {
            span_context: context(
                0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c,
                0xb7ad_6b71_6920_3331,
                true,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: start,
            end_time: start + Duration::from_micros(1500),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    /// Spans with every kind of field and value the chassis (or a newer caller) can make.
    fn spans() -> Vec<SpanData> {
        let chassis = InstrumentationScope::builder("brigade-chassis").build();
        let other = InstrumentationScope::builder("other")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.27.0")
            .with_attributes([KeyValue::new("scope.attr", 7)])
            .build();
        let mut server = span("GET /v1/things/{id}", &chassis);
        server.span_kind = SpanKind::Server;
        server.parent_span_id = SpanId::from(0x1122_3344_5566_7788);
        server.parent_span_is_remote = true;
        server.name = Cow::Owned("GET /v1/things/{id}".to_owned());
        server.attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", Arc::<str>::from("/v1/things/{id}")),
            KeyValue::new("url.path", "/v1/things/ü-42".to_owned()),
            KeyValue::new("http.response.status_code", 503),
            KeyValue::new("brigade.shed", true),
            KeyValue::new("negative", -1_i64),
            KeyValue::new("zero", 0_i64),
            KeyValue::new("ratio", 0.25),
            KeyValue::new("empty", ""),
            KeyValue::new("", "no key"),
            KeyValue::new("long", "x".repeat(300)),
        ];
        server.status = Status::error("503");
        server.dropped_attributes_count = 2;
        let mut client = span("GET back", &chassis);
        client.span_kind = SpanKind::Client;
        client.parent_span_id = SpanId::from(0xb7ad_6b71_6920_3331);
        client.status = Status::Ok;
        client.attributes = vec![
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![1, -2, 300]))),
            KeyValue::new("floats", Value::Array(Array::F64(vec![1.5, 0.0]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec!["a".into(), "".into()])),
            ),
            KeyValue::new("none", Value::Array(Array::String(Vec::new()))),
        ];
        client.events.events = vec![
            Event::new(
                "retry",
                UNIX_EPOCH + Duration::from_secs(1_765_000_001),
                vec![KeyValue::new("attempt", 2)],
                1,
            ),
            Event::new("bare", UNIX_EPOCH, Vec::new(), 0),
        ];
        client.events.dropped_count = 3;
        let mut consumer = span("process orders.placed", &other);
        consumer.span_kind = SpanKind::Consumer;
        consumer.span_context = context(1, 2, false, false, TraceState::default());
        consumer.status = Status::error(String::new());
        let state = TraceState::from_key_value([("vendor", "value"), ("other", "x")]).unwrap();
        consumer.links.links = vec![
            Link::new(
                context(3, 4, true, true, state.clone()),
                vec![KeyValue::new("link.attr", "yes")],
                5,
            ),
            Link::with_context(context(5, 6, false, false, TraceState::default())),
        ];
        consumer.links.dropped_count = 1;
        let mut producer = span("publish", &chassis);
        producer.span_kind = SpanKind::Producer;
        producer.span_context = context(7, 8, true, false, state);
        vec![server, client, consumer, producer]
    }

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "orders")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .with_attributes([
                KeyValue::new("service.instance.id", "orders-1"),
                KeyValue::new("service.version", "0.1.0"),
            ])
            .build()
    }

    /// What opentelemetry-otlp sends for the same spans: opentelemetry-proto's conversion,
    /// encoded by prost.
    fn reference(spans: Vec<SpanData>, resource: &Resource) -> ExportTraceServiceRequest {
        let resource = ResourceAttributesWithSchema::from(resource);
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &resource),
        }
    }

    #[test]
    fn the_encoding_is_prosts_of_opentelemetry_protos_conversion_byte_for_byte() {
        let resource = resource();
        let encoder = Encoder::new(&resource);
        let ours = encoder.encode(&spans());
        let expected = reference(spans(), &resource);
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
        assert_eq!(decoded, expected);
        assert_eq!(ours, expected.encode_to_vec());
        // Two scopes, in the order they first appear.
        let scopes = &decoded.resource_spans[0].scope_spans;
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0].spans.len(), 3);
        assert_eq!(scopes[1].scope.as_ref().unwrap().name, "other");
    }

    #[test]
    fn a_batch_of_one_span_and_an_empty_batch_match_too() {
        let resource = Resource::builder_empty().build();
        let encoder = Encoder::new(&resource);
        for batch in [spans()[..1].to_vec(), Vec::new()] {
            let ours = encoder.encode(&batch);
            assert_eq!(ours, reference(batch, &resource).encode_to_vec());
        }
    }

    #[test]
    fn varint_lengths_match_the_written_bytes() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }

    #[test]
    fn headers_and_timeout_are_read_as_the_specification_says() {
        let exporter =
            HttpExporter::with_lookup("http://127.0.0.1:4318/v1/traces", |name| match name {
                "OTEL_EXPORTER_OTLP_HEADERS" => Some("ignored=1".into()),
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS" => {
                    Some(" api-key = secret%20value ,bad header=x,novalue, x-b=2".into())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(exporter.headers.len(), 2);
        assert_eq!(exporter.headers["api-key"], "secret value");
        assert_eq!(exporter.headers["x-b"], "2");
        assert!(HttpExporter::new("https://collector:4318/v1/traces").is_err());
        assert!(HttpExporter::new("not a url").is_err());
    }
}
