//! DNS discovery, as on Kubernetes: a service's name resolves to the address of every ready
//! instance (a headless Service's A records), all listening on the same port, which the template
//! gives. The name is asked again every `refresh`, so instances added or removed are picked up
//! without any registry.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use tokio::sync::watch;

use super::{Endpoint, Endpoints};

/// How often a name is asked again unless the deployment says otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// Where and how DNS discovery asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    /// `host:port` in which `{service}` stands for the service's name, e.g.
    /// `{service}.shop.svc.cluster.local:8080`.
    pub template: String,
    /// The DNS server to ask; `None` asks the system's resolver (`/etc/hosts`, `resolv.conf`,
    /// as any program on the machine or pod would).
    pub server: Option<SocketAddr>,
    /// How often each name is asked again.
    pub refresh: Duration,
}

impl Dns {
    /// The system's resolver, asked every [`DEFAULT_REFRESH`].
    pub fn system(template: impl Into<String>) -> Dns {
        Dns {
            template: template.into(),
            server: None,
            refresh: DEFAULT_REFRESH,
        }
    }

    /// Accepts a template only as `host:port` with `{service}` in it: without it, every service
    /// would resolve to the same host.
    pub fn check_template(template: &str) -> Result<(), String> {
        if !template.contains("{service}") {
            return Err(format!("`{template}` must contain {{service}}"));
        }
        split_host_port(template).map(drop)
    }
}

/// Why a name could not be turned into instances this time.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    /// The server answered that the name has no addresses: the service has no ready instance.
    #[error("no address records")]
    NoRecords,
    #[error("{0}")]
    Failed(String),
}

/// How one name is looked up.
enum Lookup {
    /// getaddrinfo through tokio, on `host:port`.
    System(String),
    /// A DNS client asking one server, nothing cached: every refresh sees the server's answer.
    Server {
        resolver: Box<TokioResolver>,
        host: String,
        port: u16,
    },
}

impl Lookup {
    fn new(dns: &Dns, host_port: &str) -> Result<Lookup, String> {
        let Some(server) = dns.server else {
            return Ok(Lookup::System(host_port.to_owned()));
        };
        let (host, port) = split_host_port(host_port)?;
        let mut connection = ConnectionConfig::udp();
        connection.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.ip(),
            true,
            vec![connection, tcp],
        )]);
        let mut options = ResolverOpts::default();
        // The refresh is the cache: a record's TTL must not hide a change from the next lookup.
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.timeout = Duration::from_secs(2);
        options.attempts = 1;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| format!("cannot build a DNS client for {server}: {e}"))?;
        Ok(Lookup::Server {
            resolver: Box::new(resolver),
            host: host.to_owned(),
            port,
        })
    }

    async fn resolve(&self) -> Result<Vec<SocketAddr>, LookupError> {
        match self {
            Lookup::System(host_port) => tokio::net::lookup_host(host_port.as_str())
                .await
                .map(Iterator::collect)
                .map_err(|e| LookupError::Failed(e.to_string())),
            Lookup::Server {
                resolver,
                host,
                port,
            } => match resolver.lookup_ip(host.as_str()).await {
                Ok(found) => Ok(found
                    .iter()
                    .map(|ip: IpAddr| SocketAddr::new(ip, *port))
                    .collect()),
                Err(e) if e.is_no_records_found() => Err(LookupError::NoRecords),
                Err(e) => Err(LookupError::Failed(e.to_string())),
            },
        }
    }
}

/// `host:port` split, the port a number.
fn split_host_port(host_port: &str) -> Result<(&str, u16), String> {
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| format!("`{host_port}` must be host:port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{host_port}` must end with a port number, :1 to :65535"))?;
    if host.is_empty() || port == 0 {
        return Err(format!("`{host_port}` must be host:port"));
    }
    Ok((host, port))
}

/// Keeps `tx` at the instances `service`'s name resolves to, until every receiver is gone.
pub(super) async fn watch_dns(dns: Dns, service: String, tx: watch::Sender<Endpoints>) {
    let host_port = dns.template.replace("{service}", &service);
    let lookup = match Lookup::new(&dns, &host_port) {
        Ok(lookup) => lookup,
        Err(error) => {
            tracing::error!(name = %host_port, %error, "DNS discovery cannot start; no instances");
            tx.send_replace(Some(Vec::new().into()));
            return;
        }
    };
    let mut warned = false;
    loop {
        let found = match lookup.resolve().await {
            Ok(addresses) => Some(addresses),
            // An authoritative "no such records" is a service scaled to zero, not an outage:
            // keeping the old list would send callers to instances that are gone.
            Err(LookupError::NoRecords) => Some(Vec::new()),
            Err(LookupError::Failed(error)) => {
                // Keep the last known list: a resolver that fails must not take traffic away
                // from instances that are still fine.
                if !warned {
                    tracing::warn!(name = %host_port, %error, "DNS lookup failed; keeping the last known instances");
                    warned = true;
                }
                None
            }
        };
        if let Some(addresses) = found {
            warned = false;
            publish(&tx, &service, addresses);
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(dns.refresh).await;
    }
}

/// Sends the instances when they differ from the last ones sent.
fn publish(tx: &watch::Sender<Endpoints>, service: &str, addresses: Vec<SocketAddr>) {
    let mut endpoints: Vec<Endpoint> = addresses
        .into_iter()
        .map(|address| Endpoint {
            address,
            instance_id: None,
        })
        .collect();
    endpoints.sort_by_key(|e| e.address);
    endpoints.dedup();
    tx.send_if_modified(|current| {
        let changed = current.as_deref() != Some(endpoints.as_slice());
        if changed {
            tracing::info!(%service, instances = endpoints.len(), "instances changed (DNS)");
            *current = Some(endpoints.into());
        }
        changed
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_and_port_are_split_and_a_bad_port_is_explained() {
        assert_eq!(
            split_host_port("catalog.shop.svc:8080"),
            Ok(("catalog.shop.svc", 8080))
        );
        for bad in [
            "catalog",
            "catalog:http",
            ":8080",
            "catalog:0",
            "catalog:70000",
        ] {
            let error = split_host_port(bad).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }
}
