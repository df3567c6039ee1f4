//! The console: a small web app at `/` of the control port, served from bytes compiled into the
//! binary (nothing to install, nothing fetched from elsewhere). Its tabs read the control plane's
//! own API: `/v1/system` and `/v1/chaos` (resources), `/v1/console/map` and
//! `/v1/console/services` (map, per-service charts), `/v1/traces` and `/v1/logs`.
//!
//! The one thing the browser cannot ask the control plane directly is an instance's parked
//! events (instances live on other origins), so [`parked`] proxies them:
//! `GET /v1/console/parked` and `POST /v1/console/parked/{service}/{id}/replay`. And a trace's
//! waterfall includes the traces of the events it published: `GET /v1/console/traces/{id}`
//! ([`traces`]).
//!
//! The page is behind the operator's login ([`login`]: the link `brigade up` prints), and so
//! is every change it asks for (replays here, kills, pauses and scaling on the control port):
//! the page sends them with the `X-Brigade-Console` header, the same-origin proof that the
//! control port's gate ([`crate::operator_auth`]) demands beside the session cookie.
//!
//! **Architecture Invariant:** the page loads nothing but these assets, and every script and
//! style is a file of its own: the Content-Security-Policy allows only `'self'`, no inline code.

mod assets;
mod login;
mod parked;
mod traces;

#[cfg(test)]
mod tests;

use axum::Router;

use crate::operator_auth::Gate;
use crate::system::Sources;

/// The console's page (behind the login), its login, assets and the parked-events proxy
/// (replays behind `gate`).
pub fn router(sources: Sources, gate: &Gate) -> Router {
    assets::router()
        .merge(login::router(gate.clone()))
        .merge(traces::router(sources.traces.clone()))
        .merge(gate.protect(parked::router(sources)))
}
