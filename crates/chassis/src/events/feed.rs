//! The HTTP side of events: a producer's outbox feed (the embedded transport) and a consumer's
//! parked events. Both are served by the chassis next to the service's own routes; neither is
//! exposed through the gateway. What they answer is in [`super::wire`], which the reading side
//! shares.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::consumer::Consumers;
use super::inbox::Inbox;
use super::outbox::{last_position, read_feed};
use super::relay::Relay;
use super::wire::{FeedItem, FeedPage, ParkedList, Replayed};
use super::Error;
use crate::extract::{Path, Query};
use crate::health::Health;
use crate::routes;
use crate::Problem;

/// The most events one feed page holds.
pub const MAX_FEED_PAGE: i64 = 500;
/// The longest a feed request may wait for new events.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    wait_ms: Option<u64>,
    /// Comma-separated event types to return; the others are skipped (a consumer asks only for
    /// what it handles, so that it spends no write on the rest).
    #[serde(default)]
    types: Option<String>,
}

/// `GET /v1/events/feed?after=P&limit=N&wait_ms=W&types=T1,T2`: relayed events after position
/// P (of the given types), waiting up to W ms for the first one when there is none yet — but not
/// while the instance drains: a consumer's long poll would hold the drain for its whole wait.
pub(crate) fn feed_routes(relay: Relay, health: Health) -> Router {
    Router::new()
        .route(routes::EVENTS_FEED, get(feed))
        .with_state(Arc::new(FeedState { relay, health }))
}

struct FeedState {
    relay: Relay,
    /// Whether this instance is draining (then a long poll answers at once).
    health: Health,
}

async fn feed(
    State(state): State<Arc<FeedState>>,
    Query(query): Query<FeedQuery>,
) -> Result<axum::Json<FeedPage>, Problem> {
    let FeedState { relay, health } = &*state;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(Problem::invalid_parameter("after", "must be 0 or more"));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_FEED_PAGE).contains(&limit) {
        return Err(Problem::invalid_parameter(
            "limit",
            format!("must be between 1 and {MAX_FEED_PAGE}"),
        ));
    }
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0));
    if wait > MAX_FEED_WAIT {
        return Err(Problem::invalid_parameter(
            "wait_ms",
            format!("must be at most {}", MAX_FEED_WAIT.as_millis()),
        ));
    }
    // Never wait past the request's own deadline.
    let wait = crate::context::current()
        .map(|c| wait.min(c.remaining().saturating_sub(Duration::from_millis(50))))
        .unwrap_or(wait);
    let types: Option<Vec<&str>> = query.types.as_deref().map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect()
    });
    let until = tokio::time::Instant::now() + wait;
    let mut after = after;
    loop {
        let relayed = relay.relayed().notified();
        let events = read_feed(relay.db(), after, limit)
            .await
            .map_err(store_problem)?;
        let scanned_to = events.last().map_or(after, |(position, _)| *position);
        let wanted: Vec<FeedItem> = events
            .into_iter()
            .filter(|(_, e)| {
                types
                    .as_ref()
                    .is_none_or(|t| t.contains(&e.event_type.as_str()))
            })
            .map(|(position, event)| FeedItem { position, event })
            .collect();
        if !wanted.is_empty() || tokio::time::Instant::now() >= until || health.is_draining() {
            let last_position = last_position(relay.db()).await.map_err(store_problem)?;
            return Ok(axum::Json(FeedPage {
                events: wanted,
                last_position,
                scanned_to,
            }));
        }
        if scanned_to > after {
            // Only events of other types: look further along at once.
            after = scanned_to;
            continue;
        }
        // This instance's relay says when it positions events; another instance's relay may
        // position them too, which only a fresh look finds.
        tokio::select! {
            () = relayed => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = tokio::time::sleep_until(until) => {}
        }
    }
}

#[derive(Clone)]
struct ParkedState {
    service: String,
    inbox: Inbox,
    consumers: Arc<std::sync::RwLock<Consumers>>,
}

/// `GET /v1/events/parked` and `POST /v1/events/parked/{id}/replay`. A replay applies events
/// again, a change: only the operator may ask for it (the control plane does, for `brigade
/// events replay` and the console).
pub(crate) fn parked_routes(
    service: &str,
    inbox: Inbox,
    consumers: Arc<std::sync::RwLock<Consumers>>,
) -> Router {
    Router::new()
        .route(routes::EVENTS_PARKED, get(list_parked))
        .route(
            routes::EVENTS_PARKED_REPLAY,
            post(replay).route_layer(crate::guard::callers(&[crate::identity::OPERATOR])),
        )
        .with_state(ParkedState {
            service: service.to_owned(),
            inbox,
            consumers,
        })
}

async fn list_parked(
    State(state): State<ParkedState>,
    _: Query<crate::extract::NoParameters>,
) -> Result<axum::Json<ParkedList>, Problem> {
    let items = state.inbox.parked().await.map_err(store_problem)?;
    Ok(axum::Json(ParkedList {
        service: state.service,
        items,
    }))
}

async fn replay(
    State(state): State<ParkedState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Replayed>, Problem> {
    let consumers = state
        .consumers
        .read()
        .map(|c| c.clone())
        .unwrap_or_default();
    match state.inbox.replay(&consumers, &id).await {
        Ok(replayed) => Ok(axum::Json(replayed)),
        Err(Error::NotParked(id)) => Err(Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "event-not-parked",
            "No such parked event",
            format!("{} has no parked event with id `{id}`", state.service),
        )),
        Err(Error::ReplayFailed { id, error }) => Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "replay-failed",
            "The event could not be applied",
            format!("replaying {id} failed: {error}; it stays parked"),
        )),
        Err(other) => Err(store_problem(other)),
    }
}

fn store_problem(error: Error) -> Problem {
    tracing::error!(%error, "events store failed");
    Problem::service_unavailable("the events store is unavailable; try again")
}
