//! The in-process transport: instances served in this very process (`brigade up --colocate`),
//! which a [`ServiceClient`](super::ServiceClient) calls by handing the HTTP request to the
//! instance's router instead of writing it to a socket.
//!
//! Only the transport changes. Discovery still lists the instances (each colocated instance
//! still listens and registers, so the control plane, the console and callers in other
//! processes still reach it), the balancer still picks one, and the breaker, bulkhead,
//! deadlines, retries with their budget, outlier ejection and trace propagation apply exactly as
//! over HTTP; the callee gets the same `http::Request` (traceparent, `brigade-deadline-ms`,
//! request id) through the same middleware (deadline, load shedding, chaos, metrics). What is
//! saved is the socket, the HTTP/1 codec and the hand-off between tasks; the JSON encoding of
//! bodies stays.
//!
//! The callee runs on the caller's task: when the caller gives up at its deadline, the callee's
//! work is dropped with it, as a handler is when its connection closes. An instance is removed
//! before it drains; a call that picks its address afterwards goes over HTTP and meets a closed
//! port, as it would from another process.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Body;
use http::{Request, Response};

/// An instance's whole HTTP stack (its router in the chassis' middleware), as a function.
pub type Handler = Arc<dyn Fn(Request<Body>) -> Answering + Send + Sync>;

/// The answer of a [`Handler`], to come.
pub type Answering = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// `handle` as a [`Handler`].
pub fn handler<F, Fut>(handle: F) -> Handler
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(handle(request)) as Answering)
}

/// One instance served in this process.
#[derive(Clone)]
struct Local {
    service: Arc<str>,
    handler: Handler,
}

/// The instances served in this process, by the address they registered; cheap to clone,
/// clones share the set.
#[derive(Clone, Default)]
pub struct Colocated {
    instances: Arc<RwLock<HashMap<SocketAddr, Local>>>,
}

impl std::fmt::Debug for Colocated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let instances = self
            .instances
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_map()
            .entries(instances.iter().map(|(a, l)| (a, &*l.service)))
            .finish()
    }
}

impl Colocated {
    pub fn new() -> Colocated {
        Colocated::default()
    }

    /// Serves `service`'s instance at `address` in this process, until [`Colocated::remove`].
    pub fn insert(&self, service: &str, address: SocketAddr, handler: Handler) {
        self.instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                address,
                Local {
                    service: Arc::from(service),
                    handler,
                },
            );
    }

    /// Stops serving the instance at `address` in this process: calls to it go over HTTP again.
    pub fn remove(&self, address: SocketAddr) {
        self.instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&address);
    }

    /// The handler of `service`'s instance at `address`, when it is served in this process.
    pub(super) fn handler(&self, service: &str, address: SocketAddr) -> Option<Handler> {
        let instances = self
            .instances
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        instances
            .get(&address)
            .filter(|local| &*local.service == service)
            .map(|local| local.handler.clone())
    }

    /// How many instances are served in this process.
    pub fn len(&self) -> usize {
        self.instances
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
