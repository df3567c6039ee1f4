//! The chassis's integration tests, in one binary (each test binary costs a link on a small
//! machine):
//!
//! - `server`: the server and client over real sockets, one behaviour per test;
//! - `client_policies`: the client's resilience policies applied to real calls;
//! - `dns_discovery`: DNS discovery following a DNS server the test controls;
//! - `colocated`: the in-process transport, through the same policies;
//! - `shedding`: load shedding past the concurrency limit;
//! - `chaos`: fault injection, inert without `--chaos`;
//! - `events_store`: the outbox and inbox on both engines, with racing instances;
//! - `store`: reads outside a transaction (in the calling task on SQLite) against writers and
//!   other instances, and as sqlx reads and fails;
//! - `events`: the events conformance suite on both transports;
//! - `tracing`: spans exported over OTLP, one trace across services, a dead collector harmless;
//! - `metrics`: every instance's `/metrics` passes `promtool check metrics`, OpenMetrics scrapes
//!   carry trace exemplars, the scrape configurations pass `promtool check config`, and the
//!   Grafana dashboard queries only metrics that exist;
//! - `identity`: service identities attacked: missing, foreign, forged, expired, misplaced;
//!   tokens renewed across key rotations;
//! - `local_socket`: instances on one machine called through their Unix sockets, TCP when a
//!   socket is gone;
//! - `layers`: the chassis's modules have no cycle.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod chaos;
mod client_policies;
mod colocated;
mod dns_discovery;
mod events;
mod events_store;
mod identity;
mod layers;
mod local_socket;
mod metrics;
mod server;
mod shedding;
mod store;
mod support;
mod tracing;
