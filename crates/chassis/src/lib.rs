//! The Brigade chassis: everything a Brigade service needs besides its business code.
//!
//! A service's `main` is a few lines around [`service::run`]: it gets configuration from flags and
//! environment ([`service::ServiceArgs`]), its own store ([`db`]), clients for the services it
//! calls ([`client`]), and an HTTP server that already has health, metrics, trace context,
//! deadlines, problem+json errors, registration in discovery and graceful shutdown.
//!
//! **Architecture invariant:** only [`client::ServiceClient`] makes calls to other services, so
//! that discovery, balancing, deadlines and tracing apply to every hop.

pub mod auth;
pub mod chaos;
pub mod client;
pub mod context;
pub mod db;
pub mod discovery;
pub mod events;
pub mod extract;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod service;
pub mod shedding;
pub mod shutdown;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace_context;

/// The error type of service set-up code: anything that can explain itself.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub use problem::Problem;

/// Every binary built on the chassis uses mimalloc (feature `mimalloc`, on by default).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
