//! The parked events of every service, for the console: the page cannot ask instances itself
//! (other origins, and its policy allows only the control plane), so the control plane asks
//! them the way `brigade events` does ([`crate::events`]). `brigade events replay` replays
//! through here too, so that a replay, a change, needs the operator credential (the control
//! port's gate is merged over this router).

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::extract::{Json, Path};
use brigade_chassis::Problem;

use crate::events;
use crate::system::{self, Sources};

/// How long one instance may take to list or replay (a replay applies events).
const INSTANCE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Proxy {
    sources: Sources,
    client: PlainClient,
}

pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/v1/console/parked", get(list))
        .route("/v1/console/parked/{service}/{id}/replay", post(replay))
        .with_state(Proxy {
            sources,
            client: PlainClient::new(INSTANCE_TIMEOUT),
        })
}

/// `GET /v1/console/parked`: `[{service, items: [parked event…]}]` for every consuming service.
async fn list(State(proxy): State<Proxy>) -> Response {
    let view = system::collect(&proxy.sources);
    match events::parked(&view, &proxy.client).await {
        Ok(lists) => Json(lists).into_response(),
        Err(error) => Problem::bad_gateway(format!("{error:#}")).into_response(),
    }
}

/// `POST /v1/console/parked/{service}/{id}/replay`: what the service replayed.
async fn replay(
    State(proxy): State<Proxy>,
    Path((service, id)): Path<(String, String)>,
) -> Response {
    let view = system::collect(&proxy.sources);
    if !view.services.iter().any(|s| s.name == service) {
        return Problem::not_found(format!("the system runs no service `{service}`"))
            .into_response();
    }
    let operator = proxy.sources.acting_operator.as_ref();
    match events::replay(&view, &proxy.client, operator, &id, Some(&service)).await {
        Ok((_, replayed)) => Json(replayed).into_response(),
        Err(error) => Problem::bad_gateway(format!("{error:#}")).into_response(),
    }
}
