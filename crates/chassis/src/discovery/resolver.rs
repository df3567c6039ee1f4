//! Turning a service name into the live list of its instances, kept current in the background.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::api::ServiceInstances;
use super::dns::{watch_dns, Dns};
use super::{Endpoint, Endpoints};
use crate::local_socket::LocalSockets;
use crate::plain::PlainClient;

/// How long a registry watch blocks before asking again.
const WATCH_WAIT: Duration = Duration::from_secs(30);

/// Where instances are found.
#[derive(Debug, Clone)]
pub enum Source {
    /// The control plane's registry at this base URL.
    Registry(String),
    /// A fixed list per service.
    Static(HashMap<String, Vec<SocketAddr>>),
    /// `host:port` from a template in which `{service}` is replaced by the service name,
    /// e.g. `{service}.shop.svc.cluster.local:8080`; every address the name resolves to is used.
    Dns(Dns),
    /// No discovery: every lookup finds nothing.
    None,
}

struct Inner {
    source: Source,
    watches: Mutex<HashMap<String, watch::Receiver<Endpoints>>>,
    client: PlainClient,
    /// The Unix sockets the registry's instances on this machine are also served on.
    local_sockets: LocalSockets,
}

/// Resolves service names through one [`Source`]; cheap to clone, shared by all clients.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("source", &self.inner.source)
            .finish()
    }
}

impl Resolver {
    pub fn new(source: Source) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                source,
                watches: Mutex::new(HashMap::new()),
                // Longer than a blocking query's wait.
                client: PlainClient::new(WATCH_WAIT + Duration::from_secs(5)),
                local_sockets: LocalSockets::new(),
            }),
        }
    }

    /// Which instances found by this resolver are also served on a Unix socket on this machine;
    /// the clients' connectors read it ([`crate::local_socket`]).
    pub fn local_sockets(&self) -> LocalSockets {
        self.inner.local_sockets.clone()
    }

    /// A receiver of `service`'s instances, updated in the background. The first call for a
    /// service starts watching it (and so must run inside a tokio runtime).
    pub fn watch(&self, service: &str) -> watch::Receiver<Endpoints> {
        let mut watches = self
            .inner
            .watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = watches.get(service) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        watches.insert(service.to_owned(), rx.clone());
        drop(watches);
        match &self.inner.source {
            Source::Static(map) => {
                let endpoints: Vec<Endpoint> = map
                    .get(service)
                    .into_iter()
                    .flatten()
                    .map(|address| Endpoint {
                        address: *address,
                        instance_id: None,
                    })
                    .collect();
                tx.send_replace(Some(endpoints.into()));
            }
            Source::None => {
                tx.send_replace(Some(Arc::from(Vec::new())));
            }
            Source::Registry(url) => {
                tokio::spawn(watch_registry(
                    self.inner.client.clone(),
                    self.inner.local_sockets.clone(),
                    url.trim_end_matches('/').to_owned(),
                    service.to_owned(),
                    tx,
                ));
            }
            Source::Dns(dns) => {
                tokio::spawn(watch_dns(dns.clone(), service.to_owned(), tx));
            }
        }
        rx
    }
}

async fn watch_registry(
    client: PlainClient,
    local_sockets: LocalSockets,
    base: String,
    service: String,
    tx: watch::Sender<Endpoints>,
) {
    let mut index: Option<u64> = None;
    let mut backoff = Duration::from_millis(100);
    let mut warned = false;
    loop {
        let url = match index {
            Some(i) => format!(
                "{base}/v1/registry/services/{service}?index={i}&wait_ms={}",
                WATCH_WAIT.as_millis()
            ),
            None => format!("{base}/v1/registry/services/{service}"),
        };
        match client.get_json::<ServiceInstances>(&url).await {
            Ok(answer) => {
                backoff = Duration::from_millis(100);
                if warned {
                    tracing::info!(%service, "registry reachable again");
                    warned = false;
                }
                let endpoints: Vec<Endpoint> = answer
                    .instances
                    .iter()
                    .filter_map(|i| {
                        Some(Endpoint {
                            address: i.registration.address.parse().ok()?,
                            instance_id: Some(i.registration.instance_id.clone()),
                        })
                    })
                    .collect();
                let changed = index != Some(answer.index);
                index = Some(answer.index);
                if changed {
                    local_sockets.replace(&service, local_sockets_of(&answer));
                    tracing::debug!(%service, instances = endpoints.len(), "instances changed");
                    tx.send_replace(Some(endpoints.into()));
                }
            }
            Err(error) => {
                // Keep the last known list: an unreachable registry must not take traffic away
                // from instances that are still fine.
                if !warned {
                    tracing::warn!(%service, %error, "registry unreachable; keeping the last known instances");
                    warned = true;
                }
                index = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        if tx.is_closed() {
            return;
        }
    }
}

/// The instances of `answer` that registered a Unix socket beside their address.
fn local_sockets_of(
    answer: &ServiceInstances,
) -> impl Iterator<Item = (SocketAddr, std::path::PathBuf)> + '_ {
    answer.instances.iter().filter_map(|i| {
        let registration = &i.registration;
        let path = registration.local_socket.as_ref()?;
        Some((registration.address.parse().ok()?, path.into()))
    })
}
