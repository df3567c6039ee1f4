//! The Brigade chassis: everything a Brigade service needs besides its business code.
//!
//! A service's `main` is a few lines around [`service::run`]: it gets configuration from flags and
//! environment ([`service::ServiceArgs`]), its own store ([`db`]), clients for the services it
//! calls ([`client`]), and an HTTP server that already has health, metrics, trace context,
//! deadlines, problem+json errors, registration in discovery and graceful shutdown.
//!
//! **Architecture invariant:** only [`client::ServiceClient`] makes calls to other services, so
//! that discovery, balancing, deadlines and tracing apply to every hop.
//!
//! # Features
//!
//! Without features the chassis is only its client side, what a contract (`*-api`) crate and its
//! callers need; the binaries that run services ask for the rest, so that a caller links no
//! store, no broker and no allocator:
//!
//! - (always) [`problem`], [`validation`], [`context`], [`trace_context`], [`telemetry`]'s spans, [`time`], [`routes`],
//!   [`plain`], [`metrics`], [`discovery`]'s resolver, [`client`], and [`events`]' `Event` trait, envelope
//!   and wire types;
//! - `server`: the middleware stack ([`http`]), health, load shedding, chaos, extractors,
//!   authentication, logging, graceful shutdown and registration in discovery;
//! - `service`: a whole service: the server, its store ([`db`]), the events' back end (outbox,
//!   inbox, relay, consumers, both transports) and the runner that wires them ([`service`]);
//! - `testing`: helpers for the tests of services.
//!
//! # Layers
//!
//! A module uses only modules of its own layer or of the layers below it, so the module graph has
//! no cycle (each layer lists its modules in the order they may use each other):
//!
//! 1. foundations, using nothing of the chassis: [`dependencies`], [`routes`], [`time`], [`trace_context`],
//!    [`telemetry`] (spans, and their OTLP exporter), [`plain`] (the client for infrastructure
//!    endpoints), [`local_socket`] (Unix sockets between instances on one machine),
//!    [`metrics`] (which knows the store only through [`metrics::PoolUsage`]);
//! 2. request scope: [`context`], then [`problem`] and [`validation`];
//! 3. calling: [`discovery`] (its resolver uses [`plain`]), then [`identity`]'s presenting side
//!    (uses [`plain`]), then [`client`];
//! 4. serving: [`extract`], [`health`], [`shedding`], [`chaos`] (both of which take the routes
//!    they spare from [`routes`]), [`ratelimit`] (the edges' limits), then [`http`], [`auth`],
//!    [`guard`] (checks callers' identities with [`auth`]'s verifier) and [`authority`] (issues
//!    them), [`logging`], [`shutdown`], and
//!    discovery's registration (which reads [`health`]);
//! 5. storing: [`db`], then [`events`] (the envelope and wire types below the feed routes, the
//!    outbox, the inbox, the relay and the transports that serve and read them);
//! 6. running: [`service`], then [`testing`].

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod authority;
#[cfg(feature = "server")]
pub mod chaos;
pub mod client;
pub mod context;
#[cfg(feature = "service")]
pub mod db;
pub mod dependencies;
pub mod discovery;
pub mod events;
#[cfg(feature = "server")]
pub mod extract;
#[cfg(feature = "server")]
pub mod guard;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod http;
pub mod identity;
pub mod local_socket;
#[cfg(feature = "server")]
pub mod logging;
pub mod metrics;
#[cfg(feature = "server")]
pub mod openapi;
pub mod plain;
pub mod problem;
#[cfg(feature = "server")]
pub mod ratelimit;
pub mod routes;
#[cfg(feature = "service")]
pub mod service;
#[cfg(feature = "server")]
pub mod shedding;
#[cfg(feature = "server")]
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace_context;
pub mod validation;

/// The error type of service set-up code: anything that can explain itself.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub use problem::Problem;
