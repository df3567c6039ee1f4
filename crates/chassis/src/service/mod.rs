//! Running a service: what it declares, configuration, bootstrap, and graceful shutdown.
//!
//! - [`Service`] is what a service declares (its info, flags, migrations, how it builds its
//!   routes), and [`main`] / [`run`] the one way every service is started from it;
//! - [`ServiceArgs`]: the flags every service shares, [`RuntimeArgs`] among them: the async
//!   runtime an instance runs on;
//! - [`Context`]: what a starting instance gets from the chassis (store, clients, events,
//!   background tasks);
//! - [`Background`]: the background tasks of a process and the periodic-task loop;
//! - [`serve`]: the life of an instance: it binds the listener (port 0 gets a free port), lets
//!   the service build its router with a [`Context`], serves it wrapped in the chassis
//!   middleware next to `/livez`, `/readyz` and `/metrics`, registers in discovery, and on
//!   SIGTERM, Ctrl-C or the loss of its supervisor leaves in this order: become not-ready,
//!   deregister, give watchers a moment to move away, stop accepting, drain in-flight requests
//!   up to a deadline, stop the background tasks, close the stores, exit.

mod args;
mod background;
mod context;
mod definition;
mod identity;
mod lifecycle;
mod runtime;

use std::net::SocketAddr;

pub use args::{
    duration_within, env_as_flags, optional_part_cap, parse_peers, DiscoveryMode, DnsTemplate,
    IdentityMode, Peers, ServiceArgs,
};
pub use background::{run_periodic, Background, Lingering};
pub use context::Context;
pub use definition::{
    build, main, run, run_colocated, Flags, NoArgs, SampleData, SeedArgs, Seeded, Service,
};
pub use lifecycle::serve;
pub use runtime::{Flavour, RuntimeArgs};

use crate::BoxError;

pub use crate::dependencies::{Dependencies, Undeclared};

/// Who this service is, and what it depends on.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// The services it calls and whose events it consumes, and whether it publishes: the
    /// chassis refuses anything beyond it ([`Undeclared`]).
    pub depends_on: Dependencies,
}

/// Why a service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Undeclared(#[from] Undeclared),
    #[error("the service failed to start: {0}")]
    Build(BoxError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    /// The instance stopped, but some of its background work was still running past the
    /// shutdown grace (it ends with the process, wherever it was).
    #[error(transparent)]
    Lingering(#[from] Lingering),
}
