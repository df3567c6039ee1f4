//! Recent spans in memory, grouped by trace, within fixed caps: at most [`Caps::traces`]
//! traces and [`Caps::spans`] spans in all; past either, the traces that arrived first are
//! evicted whole. A trace keeps at most [`Caps::spans_per_trace`] spans; more are dropped (and
//! counted), so one runaway trace cannot evict all the others.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span};

use crate::otlp::{hex, service_of, string_attribute};

/// How much the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub traces: usize,
    pub spans: usize,
    pub spans_per_trace: usize,
}

impl Default for Caps {
    /// Enough for the last minutes of a laptop's load test, a few tens of MiB at most.
    fn default() -> Self {
        Caps {
            traces: 2_000,
            spans: 50_000,
            spans_per_trace: 2_000,
        }
    }
}

/// A trace id: 16 bytes.
pub type TraceId = [u8; 16];

/// One span with what it came with.
#[derive(Debug, Clone)]
struct Stored {
    resource: Arc<Resource>,
    scope: Arc<InstrumentationScope>,
    span: Span,
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<TraceId, Vec<Stored>>,
    /// Trace ids in the order of their first span's arrival: the eviction order.
    arrival: VecDeque<TraceId>,
    spans: usize,
    dropped: u64,
}

/// What one export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub spans: usize,
    /// Spans refused: an invalid trace id, or a trace already at its cap.
    pub rejected: usize,
}

/// The recent spans. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct TraceStore {
    caps: Caps,
    inner: Arc<Mutex<Inner>>,
}

/// One line of the trace list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub trace_id: String,
    /// The root span's service (the earliest span's, when the root has not arrived).
    pub root_service: String,
    /// The root span's `http.route`, else its name.
    pub root_route: String,
    /// Start of the earliest span, in milliseconds since the Unix epoch.
    pub start_unix_ms: u64,
    pub duration_ms: f64,
    pub span_count: usize,
    /// Every service with a span in the trace, sorted.
    pub services: Vec<String>,
    /// Whether any span has an error status.
    pub error: bool,
}

/// What the list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub service: Option<String>,
    pub min_duration_ms: Option<f64>,
    pub error: Option<bool>,
    pub limit: usize,
}

impl TraceStore {
    pub fn new(caps: Caps) -> TraceStore {
        TraceStore {
            caps,
            inner: Arc::default(),
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    /// Keeps the spans of an export, evicting the oldest traces past the caps.
    pub fn insert(&self, request: ExportTraceServiceRequest) -> Accepted {
        let mut accepted = Accepted {
            spans: 0,
            rejected: 0,
        };
        let Ok(mut inner) = self.inner.lock() else {
            return accepted;
        };
        for resource_spans in request.resource_spans {
            let resource = Arc::new(resource_spans.resource.unwrap_or_default());
            for scope_spans in resource_spans.scope_spans {
                let scope = Arc::new(scope_spans.scope.unwrap_or_default());
                for span in scope_spans.spans {
                    let stored = Stored {
                        resource: resource.clone(),
                        scope: scope.clone(),
                        span,
                    };
                    if inner.add(stored, self.caps) {
                        accepted.spans += 1;
                    } else {
                        accepted.rejected += 1;
                    }
                }
            }
        }
        inner.evict(self.caps);
        accepted
    }

    /// The traces that pass `filter`, the latest first.
    pub fn list(&self, filter: &Filter) -> Vec<Summary> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let mut summaries: Vec<Summary> = inner
            .traces
            .iter()
            .map(|(id, spans)| summarize(id, spans))
            .filter(|s| filter.accepts(s))
            .collect();
        summaries.sort_by_key(|s| std::cmp::Reverse(s.start_unix_ms));
        summaries.truncate(filter.limit);
        summaries
    }

    /// One trace as an OTLP export (`resourceSpans`), its spans grouped by resource and scope.
    pub fn get(&self, id: &TraceId) -> Option<ExportTraceServiceRequest> {
        let inner = self.inner.lock().ok()?;
        let spans = inner.traces.get(id)?;
        let mut resource_spans: Vec<ResourceSpans> = Vec::new();
        for stored in spans {
            let position = resource_spans
                .iter()
                .position(|r| r.resource.as_ref() == Some(&*stored.resource));
            let group = match position {
                Some(i) => &mut resource_spans[i],
                None => {
                    resource_spans.push(ResourceSpans {
                        resource: Some((*stored.resource).clone()),
                        scope_spans: Vec::new(),
                        schema_url: String::new(),
                    });
                    let last = resource_spans.len() - 1;
                    &mut resource_spans[last]
                }
            };
            let scope_position = group
                .scope_spans
                .iter()
                .position(|s| s.scope.as_ref() == Some(&*stored.scope));
            let scope = match scope_position {
                Some(i) => &mut group.scope_spans[i],
                None => {
                    group.scope_spans.push(ScopeSpans {
                        scope: Some((*stored.scope).clone()),
                        spans: Vec::new(),
                        schema_url: String::new(),
                    });
                    let last = group.scope_spans.len() - 1;
                    &mut group.scope_spans[last]
                }
            };
            scope.spans.push(stored.span.clone());
        }
        Some(ExportTraceServiceRequest { resource_spans })
    }

    /// Every kept trace as an OTLP export of its own, in the order the traces arrived.
    pub fn export(&self) -> Vec<ExportTraceServiceRequest> {
        let ids: Vec<TraceId> = match self.inner.lock() {
            Ok(inner) => inner
                .arrival
                .iter()
                .filter(|id| inner.traces.contains_key(*id))
                .copied()
                .collect(),
            Err(_) => return Vec::new(),
        };
        ids.iter().filter_map(|id| self.get(id)).collect()
    }

    /// How many traces and spans are kept, and how many spans were dropped since the start.
    pub fn counts(&self) -> (usize, usize, u64) {
        self.inner
            .lock()
            .map(|i| (i.traces.len(), i.spans, i.dropped))
            .unwrap_or_default()
    }
}

impl Inner {
    /// Adds a span to its trace; `false` when it is refused.
    fn add(&mut self, stored: Stored, caps: Caps) -> bool {
        let Some(id) = trace_id_of(&stored.span) else {
            self.dropped += 1;
            return false;
        };
        let spans = self.traces.entry(id).or_default();
        if spans.is_empty() {
            self.arrival.push_back(id);
        }
        if spans.len() >= caps.spans_per_trace {
            self.dropped += 1;
            return false;
        }
        spans.push(stored);
        self.spans += 1;
        true
    }

    /// Evicts the traces that arrived first until both caps hold.
    fn evict(&mut self, caps: Caps) {
        while self.traces.len() > caps.traces || self.spans > caps.spans {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(spans) = self.traces.remove(&oldest) {
                self.spans -= spans.len();
            }
        }
    }
}

/// A span's trace id, `None` when it is not 16 bytes or is all zero (invalid per W3C): such a
/// span is refused.
pub fn trace_id_of(span: &Span) -> Option<TraceId> {
    TraceId::try_from(span.trace_id.as_slice())
        .ok()
        .filter(|id| *id != [0; 16])
}

impl Filter {
    fn accepts(&self, summary: &Summary) -> bool {
        self.service
            .as_ref()
            .is_none_or(|s| summary.services.iter().any(|t| t == s))
            && self
                .min_duration_ms
                .is_none_or(|min| summary.duration_ms >= min)
            && self.error.is_none_or(|e| summary.error == e)
    }
}

fn summarize(id: &TraceId, spans: &[Stored]) -> Summary {
    let start = spans
        .iter()
        .map(|s| s.span.start_time_unix_nano)
        .min()
        .unwrap_or_default();
    let end = spans
        .iter()
        .map(|s| s.span.end_time_unix_nano)
        .max()
        .unwrap_or_default();
    let in_trace: BTreeSet<&[u8]> = spans.iter().map(|s| s.span.span_id.as_slice()).collect();
    // The root: the span without a parent, else the earliest whose parent is missing.
    let root = spans
        .iter()
        .filter(|s| s.span.parent_span_id.is_empty())
        .chain(
            spans
                .iter()
                .filter(|s| !in_trace.contains(s.span.parent_span_id.as_slice())),
        )
        .min_by_key(|s| {
            (
                !s.span.parent_span_id.is_empty(),
                s.span.start_time_unix_nano,
            )
        });
    let services: BTreeSet<String> = spans.iter().map(|s| service_of(&s.resource)).collect();
    Summary {
        trace_id: hex(id),
        root_service: root.map(|r| service_of(&r.resource)).unwrap_or_default(),
        root_route: root
            .map(|r| {
                string_attribute(&r.span.attributes, "http.route")
                    .unwrap_or_else(|| r.span.name.clone())
            })
            .unwrap_or_default(),
        start_unix_ms: start / 1_000_000,
        duration_ms: end.saturating_sub(start) as f64 / 1e6,
        span_count: spans.len(),
        services: services.into_iter().collect(),
        error: spans.iter().any(|s| {
            s.span
                .status
                .as_ref()
                .is_some_and(|st| st.code == status::StatusCode::Error as i32)
        }),
    }
}
