//! One trace with the traces that follow from it, for the console's waterfall: a checkout's
//! trace ends where its events leave, and each consumer's handling is a trace of its own whose
//! span links back (the envelope carries the producer's `traceparent`). Showing the request
//! whole means following those links, which the browser cannot do without scanning every trace.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::extract::{Json, Path};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::traces::{kept, TraceStore};

/// The most traces one answer joins: a consumer that publishes again is followed, an event
/// storm is not.
pub const MAX_JOINED: usize = 50;

pub fn router(store: TraceStore) -> Router {
    Router::new()
        .route("/v1/console/traces/{trace_id}", get(joined))
        .with_state(store)
}

/// `GET /v1/console/traces/{trace_id}`: OTLP JSON (`resourceSpans`) of the trace and of every
/// trace linked to it, transitively; each span keeps its own `traceId`.
async fn joined(State(store): State<TraceStore>, Path(trace_id): Path<String>) -> Response {
    let (id, mut joined) = match kept(&store, &trace_id) {
        Ok(found) => found,
        Err(unkept) => return unkept.into_response(),
    };
    let mut seen = HashSet::from([id]);
    let mut next = vec![id];
    while let Some(current) = next.pop() {
        for linked in store.linked_to(&current) {
            if seen.len() >= MAX_JOINED {
                break;
            }
            if seen.insert(linked) {
                if let Some(trace) = store.get(&linked) {
                    joined.resource_spans.extend(trace.resource_spans);
                }
                next.push(linked);
            }
        }
    }
    Json::<ExportTraceServiceRequest>(joined).into_response()
}
