//! The map of services and the calls and event flows between them, read from the recent spans
//! the trace store keeps.
//!
//! - An `http` edge: a server span whose parent span (in the same trace) belongs to another
//!   service — the caller's client span. A client span whose call reached no traced server
//!   (the dependency down, say) is an edge to its `peer.service`, so failing calls show too.
//! - An `event` edge: a consumer span linked to a producer's span of another service (the
//!   chassis starts a consumer span as a new trace with a link to the span that wrote the event).
//!
//! An edge's error ratio counts spans with an error status or an HTTP status of 500 or more;
//! its p99 is over the durations of the server (or consumer, or unanswered client) spans.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde::Serialize;

use crate::traces::{SpanView, TraceStore};

/// The default and the longest window. The store keeps spans by count (its caps), so under
/// heavy load a long window covers less than it says.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
pub const MAX_WINDOW: Duration = Duration::from_secs(3_600);

/// `GET /v1/console/map`.
#[derive(Debug, Clone, Serialize)]
pub struct MapView {
    pub window_seconds: u64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Node {
    pub service: String,
    /// Always `service` for now; room for brokers or external systems later.
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `http` or `event`.
    pub kind: &'static str,
    pub count: u64,
    /// Per second over the window.
    pub rate: f64,
    pub error_ratio: f64,
    pub p99_ms: Option<f64>,
}

/// A span id within its trace.
type SpanKey = (Vec<u8>, Vec<u8>);

/// What the map needs of one span in the window.
#[derive(Debug)]
struct Candidate {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    service: String,
    kind: SpanKind,
    /// Linked spans (consumer spans only).
    links: Vec<SpanKey>,
    /// The callee named by a client span.
    peer: Option<String>,
    error: bool,
    duration_ms: f64,
}

/// Every kept span's service, the server spans' parents, and the spans in the window.
#[derive(Debug, Default)]
struct Walked {
    service_of: HashMap<SpanKey, String>,
    /// Client spans that a traced server answered.
    answered: HashSet<SpanKey>,
    candidates: Vec<Candidate>,
}

#[derive(Debug, Default)]
struct Tally {
    count: u64,
    errors: u64,
    durations_ms: Vec<f64>,
}

/// The map of the spans that ended in the `window` before `now_unix_ns`; `names` (the
/// manifest's services) are nodes even without spans.
pub fn build(store: &TraceStore, names: &[String], window: Duration, now_unix_ns: u64) -> MapView {
    let since = now_unix_ns.saturating_sub(u64::try_from(window.as_nanos()).unwrap_or(u64::MAX));
    let walked = walk(store, since);
    let mut tallies: BTreeMap<(String, String, &'static str), Tally> = BTreeMap::new();
    for candidate in &walked.candidates {
        for (from, kind) in sources_of(candidate, &walked) {
            let to = match kind {
                "http" if candidate.kind == SpanKind::Client => candidate.peer.clone(),
                _ => Some(candidate.service.clone()),
            };
            let Some(to) = to.filter(|to| *to != from) else {
                continue;
            };
            let tally = tallies.entry((from, to, kind)).or_default();
            tally.count += 1;
            tally.errors += u64::from(candidate.error);
            tally.durations_ms.push(candidate.duration_ms);
        }
    }
    let seconds = window.as_secs_f64().max(f64::EPSILON);
    let edges: Vec<Edge> = tallies
        .into_iter()
        .map(|((from, to, kind), mut tally)| Edge {
            from,
            to,
            kind,
            count: tally.count,
            rate: tally.count as f64 / seconds,
            error_ratio: tally.errors as f64 / tally.count.max(1) as f64,
            p99_ms: nearest_rank(&mut tally.durations_ms, 0.99),
        })
        .collect();
    MapView {
        window_seconds: window.as_secs(),
        nodes: nodes(names, &walked, &edges),
        edges,
    }
}

/// The services a candidate's edges come from, with the edge's kind.
fn sources_of(candidate: &Candidate, walked: &Walked) -> Vec<(String, &'static str)> {
    match candidate.kind {
        SpanKind::Server => {
            let parent = (candidate.trace_id.clone(), candidate.parent_span_id.clone());
            walked
                .service_of
                .get(&parent)
                .map(|s| vec![(s.clone(), "http")])
                .unwrap_or_default()
        }
        SpanKind::Client => {
            let key = (candidate.trace_id.clone(), candidate.span_id.clone());
            if walked.answered.contains(&key) {
                Vec::new()
            } else {
                vec![(candidate.service.clone(), "http")]
            }
        }
        SpanKind::Consumer => candidate
            .links
            .iter()
            .filter_map(|link| walked.service_of.get(link))
            .map(|s| (s.clone(), "event"))
            .collect(),
        _ => Vec::new(),
    }
}

/// One pass over the store, under its lock: copies out only what the map needs.
fn walk(store: &TraceStore, since_unix_ns: u64) -> Walked {
    let mut walked = Walked::default();
    store.walk(|view: SpanView<'_>| {
        let span = view.span;
        let service = view.service();
        let key = (span.trace_id.clone(), span.span_id.clone());
        let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
        if kind == SpanKind::Server && !span.parent_span_id.is_empty() {
            walked
                .answered
                .insert((span.trace_id.clone(), span.parent_span_id.clone()));
        }
        let wanted = matches!(
            kind,
            SpanKind::Server | SpanKind::Client | SpanKind::Consumer
        );
        if wanted && span.end_time_unix_nano >= since_unix_ns {
            walked.candidates.push(Candidate {
                trace_id: span.trace_id.clone(),
                span_id: span.span_id.clone(),
                parent_span_id: span.parent_span_id.clone(),
                service: service.clone(),
                kind,
                links: span
                    .links
                    .iter()
                    .map(|l| (l.trace_id.clone(), l.span_id.clone()))
                    .collect(),
                peer: view.string_attribute("peer.service"),
                error: view.is_error()
                    || view
                        .int_attribute("http.response.status_code")
                        .is_some_and(|status| status >= 500),
                duration_ms: span
                    .end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano) as f64
                    / 1e6,
            });
        }
        walked.service_of.insert(key, service);
    });
    walked
}

/// `names` in their order, then every other service seen in the window, by name.
fn nodes(names: &[String], walked: &Walked, edges: &[Edge]) -> Vec<Node> {
    let seen: BTreeSet<&str> = walked
        .candidates
        .iter()
        .map(|c| c.service.as_str())
        .chain(edges.iter().flat_map(|e| [e.from.as_str(), e.to.as_str()]))
        .filter(|s| !names.iter().any(|n| n == s))
        .collect();
    names
        .iter()
        .map(String::as_str)
        .chain(seen)
        .map(|service| Node {
            service: service.to_owned(),
            kind: "service",
        })
        .collect()
}

/// The `q`-quantile by nearest rank; `None` of nothing.
fn nearest_rank(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{
        span::Link, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
    };

    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const NOW: u64 = 1_780_000_000 * SECOND;

    /// A span of `trace` (one byte, repeated), id `id`, child of `parent` (0: none), that
    /// ended `ago` seconds before NOW after `ms` milliseconds.
    fn span(trace: u8, id: u8, parent: u8, kind: SpanKind, ago: u64, ms: u64) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: if parent == 0 {
                Vec::new()
            } else {
                vec![parent; 8]
            },
            kind: kind as i32,
            start_time_unix_nano: NOW - ago * SECOND - ms * 1_000_000,
            end_time_unix_nano: NOW - ago * SECOND,
            ..Span::default()
        }
    }

    fn failed(mut span: Span) -> Span {
        span.status = Some(Status {
            code: StatusCode::Error as i32,
            message: String::new(),
        });
        span
    }

    fn with_attribute(mut span: Span, key: &str, value: any_value::Value) -> Span {
        span.attributes.push(KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        });
        span
    }

    fn linked_to(mut span: Span, trace: u8, id: u8) -> Span {
        span.links.push(Link {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            ..Link::default()
        });
        span
    }

    fn export(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
        let name = any_value::Value::StringValue(service.to_owned());
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".to_owned(),
                        value: Some(AnyValue { value: Some(name) }),
                        ..KeyValue::default()
                    }],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// Two checkouts (traces 1 and 2), the second failing in orders, each confirmed by an
    /// event that cart consumes (traces 3 and 4); and a call to payments that never arrived.
    fn store() -> TraceStore {
        use SpanKind::{Client, Consumer, Server};
        let store = TraceStore::default();
        store.insert(export(
            "gateway",
            vec![
                span(1, 1, 0, Server, 1, 30),
                span(1, 2, 1, Client, 1, 25),
                span(2, 1, 0, Server, 2, 50),
                span(2, 2, 1, Client, 2, 45),
            ],
        ));
        store.insert(export(
            "orders",
            vec![
                span(1, 3, 2, Server, 1, 20),
                failed(span(2, 3, 2, Server, 2, 40)),
                failed(with_attribute(
                    span(2, 4, 3, Client, 2, 10),
                    "peer.service",
                    any_value::Value::StringValue("payments".to_owned()),
                )),
            ],
        ));
        store.insert(export(
            "cart",
            vec![
                linked_to(span(3, 1, 0, Consumer, 1, 2), 1, 3),
                linked_to(span(4, 1, 0, Consumer, 1, 4), 2, 3),
                // Old: outside a one-minute window.
                linked_to(span(5, 1, 0, Consumer, 120, 4), 1, 3),
            ],
        ));
        store
    }

    fn edge<'a>(map: &'a MapView, from: &str, to: &str, kind: &str) -> &'a Edge {
        map.edges
            .iter()
            .find(|e| e.from == from && e.to == to && e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} edge {from} -> {to} in {:?}", map.edges))
    }

    #[test]
    fn calls_and_events_between_services_are_edges() {
        let names = [
            "gateway".to_owned(),
            "orders".to_owned(),
            "payments".to_owned(),
        ];
        let map = build(&store(), &names, Duration::from_secs(60), NOW);
        assert_eq!(map.window_seconds, 60);

        let checkout = edge(&map, "gateway", "orders", "http");
        assert_eq!(checkout.count, 2);
        assert_eq!(checkout.error_ratio, 0.5);
        assert_eq!(checkout.rate, 2.0 / 60.0);
        assert_eq!(checkout.p99_ms, Some(40.0));

        // The call that reached no server is still an edge, failed.
        let payments = edge(&map, "orders", "payments", "http");
        assert_eq!((payments.count, payments.error_ratio), (1, 1.0));

        let events = edge(&map, "orders", "cart", "event");
        assert_eq!(
            events.count, 2,
            "the old consumer span is outside the window"
        );
        assert_eq!(events.error_ratio, 0.0);
        assert_eq!(events.p99_ms, Some(4.0));

        assert_eq!(map.edges.len(), 3, "{:?}", map.edges);
        let nodes: Vec<&str> = map.nodes.iter().map(|n| n.service.as_str()).collect();
        assert_eq!(nodes, ["gateway", "orders", "payments", "cart"]);
    }

    #[test]
    fn a_server_status_of_500_is_an_error_without_an_error_status() {
        use SpanKind::{Client, Server};
        let store = TraceStore::default();
        store.insert(export(
            "gateway",
            vec![span(1, 1, 0, Server, 1, 3), span(1, 2, 1, Client, 1, 2)],
        ));
        let answered = with_attribute(
            span(1, 3, 2, Server, 1, 1),
            "http.response.status_code",
            any_value::Value::IntValue(503),
        );
        store.insert(export("catalog", vec![answered]));
        let map = build(&store, &[], Duration::from_secs(60), NOW);
        assert_eq!(edge(&map, "gateway", "catalog", "http").error_ratio, 1.0);
    }

    #[test]
    fn an_empty_store_has_the_named_nodes_and_no_edges() {
        let map = build(
            &TraceStore::default(),
            &["users".to_owned()],
            DEFAULT_WINDOW,
            NOW,
        );
        assert_eq!(
            map.nodes,
            vec![Node {
                service: "users".to_owned(),
                kind: "service"
            }]
        );
        assert!(map.edges.is_empty());
    }

    #[test]
    fn nearest_rank_quantiles() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        assert_eq!(nearest_rank(&mut values, 0.99), Some(99.0));
        assert_eq!(nearest_rank(&mut values, 0.5), Some(50.0));
        assert_eq!(nearest_rank(&mut [7.0], 0.99), Some(7.0));
        assert_eq!(nearest_rank(&mut [], 0.99), None);
    }
}
