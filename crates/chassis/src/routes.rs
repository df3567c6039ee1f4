//! The paths the chassis serves on every instance, and which of them load shedding and fault
//! injection leave alone.
//!
//! One module owns them so that the server that mounts a route, the shedder and the fault layer
//! that must spare it, and the clients that call it cannot disagree about a literal. It depends on
//! nothing, so every other module may use it.

/// The service's OpenAPI document (the gateway serves its own under its `/api/v1` prefix). The
/// one definition the servers that mount it and the contract crates' callers share.
pub const OPENAPI: &str = "/openapi.json";

/// Liveness: answers as long as the process serves requests.
pub const LIVEZ: &str = "/livez";

/// Readiness: answers `200` only when every dependency the instance needs is reachable.
pub const READYZ: &str = "/readyz";

/// The Prometheus scrape endpoint.
pub const METRICS: &str = "/metrics";

/// The chaos admin API (`GET`, `PUT`, `DELETE`), served only with `--chaos`.
pub const CHAOS: &str = "/v1/chaos";

/// A producer's feed of relayed events, long-polled by its consumers.
pub const EVENTS_FEED: &str = "/v1/events/feed";

/// A consumer's parked events (those its handler refused).
pub const EVENTS_PARKED: &str = "/v1/events/parked";

/// Replays one parked event (`POST`).
pub const EVENTS_PARKED_REPLAY: &str = "/v1/events/parked/{id}/replay";

/// Where the users service publishes the public keys that verify access tokens (a JWKS).
pub const JWKS: &str = "/v1/jwks";

/// Routes that are never shed nor faulted: the orchestrator's and the operator's. An orchestrator
/// must still see an overloaded instance, and an operator must be able to turn injected faults
/// off exactly when they hurt.
pub const EXEMPT: &[&str] = &[LIVEZ, READYZ, METRICS, CHAOS];

/// Long polls: they wait rather than work, for up to seconds, so they neither take a place in the
/// concurrency limit nor teach the adaptive limit anything about the instance's latency.
pub const LONG_POLLS: &[&str] = &[EVENTS_FEED];

/// True when requests to `route` (a route template or a path) are served whatever the load and
/// whatever faults are injected.
pub fn is_exempt(route: &str) -> bool {
    EXEMPT.contains(&route)
}

/// True when `route` is a long poll (see [`LONG_POLLS`]).
pub fn is_long_poll(route: &str) -> bool {
    LONG_POLLS.contains(&route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_routes_are_exempt_and_business_routes_are_not() {
        for route in [LIVEZ, READYZ, METRICS, CHAOS] {
            assert!(is_exempt(route), "{route}");
        }
        assert!(!is_exempt("/v1/products"));
        assert!(!is_exempt(EVENTS_FEED));
        assert!(is_long_poll(EVENTS_FEED));
        assert!(!is_long_poll(READYZ));
    }
}
