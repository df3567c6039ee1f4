//! Service discovery: how an instance makes itself known, and how a client finds the instances
//! of the services it calls.
//!
//! Three sources behind one [`Resolver`]: the registry in the control plane (one machine; a
//! blocking query tells clients of a change within milliseconds), a static list (tests, fixed
//! deployments), and DNS (Kubernetes services). Whatever the source, a client keeps serving from
//! its last known list when the source becomes unreachable.

pub mod api;
mod dns;
#[cfg(feature = "server")]
mod registration;
mod resolver;

use std::net::SocketAddr;

pub use dns::{Dns, DEFAULT_REFRESH as DEFAULT_DNS_REFRESH};
#[cfg(feature = "server")]
pub use registration::{Registrar, RegistrationHandle};
pub use resolver::{Resolver, Source};

/// The instances of a service as last known; `None` until the source first answered. (Here,
/// not in `resolver`, because the DNS watcher fills it too.)
pub type Endpoints = Option<std::sync::Arc<[Endpoint]>>;

/// One instance a client may call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub address: SocketAddr,
    /// The instance id when the source knows it (the registry does; DNS does not).
    pub instance_id: Option<String>,
}

/// Errors talking to the registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the registry at {url} answered: {source}")]
    Registry {
        url: String,
        source: crate::plain::Error,
    },
}
