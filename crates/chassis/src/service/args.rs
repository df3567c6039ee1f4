//! The flags every service shares ([`ServiceArgs`]), each parsed by clap into the value the
//! chassis uses, so that a bad value stops the process at start with a usage error that names
//! the flag rather than later, deep in the bootstrap.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::time::Duration;

use crate::discovery::{Dns, Source};
use crate::events::Transport;
use crate::logging::LogFormat;
use crate::telemetry::export::TracingArgs;

use super::{Error, RuntimeArgs};

/// How a service finds the instances of the services it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiscoveryMode {
    /// The registry when --registry-url is set, else the static list when --peers is set, else none.
    Auto,
    /// The control plane's registry (--registry-url).
    Registry,
    /// A fixed list (--peers).
    Static,
    /// DNS names built from --dns-template (Kubernetes).
    Dns,
    /// No discovery: the service calls nobody.
    None,
}

/// How an instance proves who it is to the services it calls, and checks who calls it
/// ([`crate::identity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IdentityMode {
    /// The local authority when `BRIGADE_IDENTITY_SECRET` is set (`brigade up` sets it), else
    /// the platform's when --identity-token-file is set; else the instance refuses to start.
    Auto,
    /// Tokens from the local authority (the control plane at --registry-url), proving the
    /// bootstrap secret in `BRIGADE_IDENTITY_SECRET`.
    Authority,
    /// The platform's tokens (Kubernetes projected ServiceAccount tokens): --identity-token-file,
    /// --identity-audience, --identity-issuer, --identity-jwks-url.
    Platform,
    /// An unsigned development identity, accepted only by instances also started with
    /// `--identity dev`: for a service started by hand, never for a deployment.
    Dev,
    /// The chassis' test harness (set by code, never by a flag).
    #[value(skip)]
    Harness,
}

/// The configuration every service shares, from flags or `BRIGADE_*` environment variables.
/// Services flatten it into their own `clap` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on (default 127.0.0.1:0, or the service's well-known port); port 0
    /// picks a free port, which is what gets registered.
    #[arg(long, env = "BRIGADE_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Let another process listen on the same address at the same time (SO_REUSEPORT; the
    /// kernel spreads new connections between them). `brigade up` sets it on services with a
    /// fixed port, so that a rolling restart starts the new process before the old one leaves.
    #[arg(long, env = "BRIGADE_REUSE_PORT")]
    pub reuse_port: bool,

    /// host:port other services should use to reach this instance (default: the bound address).
    #[arg(long, env = "BRIGADE_ADVERTISE")]
    pub advertise: Option<String>,

    /// Also serve on a Unix socket in this directory, registered beside the address, so that
    /// callers on this machine skip loopback TCP (`brigade up` sets it). Without it, TCP only.
    #[arg(long, env = "BRIGADE_LOCAL_SOCKET_DIR")]
    pub local_socket_dir: Option<PathBuf>,

    /// This instance's unique id (default: SERVICE-RANDOM).
    #[arg(long, env = "BRIGADE_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Where to find other services.
    #[arg(long, env = "BRIGADE_DISCOVERY", value_enum, default_value = "auto")]
    pub discovery: DiscoveryMode,

    /// Base URL of the registry (the control plane), e.g. http://127.0.0.1:7070.
    #[arg(long, env = "BRIGADE_REGISTRY_URL")]
    pub registry_url: Option<String>,

    /// Static instances: `catalog=127.0.0.1:9001,127.0.0.1:9002;inventory=127.0.0.1:9101`.
    #[arg(long, env = "BRIGADE_PEERS", value_parser = Peers::parse)]
    pub peers: Option<Peers>,

    /// DNS discovery: host:port with `{service}` replaced by the service name.
    #[arg(long, env = "BRIGADE_DNS_TEMPLATE", default_value = "{service}:8080", value_parser = DnsTemplate::parse)]
    pub dns_template: DnsTemplate,

    /// DNS discovery: the DNS server to ask, ip:port (or an ip, port 53), nothing cached
    /// [default: the system's resolver, /etc/hosts and resolv.conf].
    #[arg(long, env = "BRIGADE_DNS_SERVER", value_parser = parse_dns_server)]
    pub dns_server: Option<SocketAddr>,

    /// DNS discovery: how often each service's name is resolved again (100ms to 10m).
    #[arg(long, env = "BRIGADE_DNS_REFRESH", default_value = "5s", value_parser = parse_dns_refresh)]
    pub dns_refresh: Duration,

    /// How long a registration lives without a heartbeat (heartbeats go every third of it).
    #[arg(long, env = "BRIGADE_REGISTRATION_TTL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub registration_ttl: Duration,

    /// The store: sqlite://PATH or postgres://… (default: a SQLite file SERVICE.db in --data-dir).
    #[arg(long, env = "BRIGADE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the default SQLite store.
    #[arg(long, env = "BRIGADE_DATA_DIR", default_value = ".brigade/data")]
    pub data_dir: PathBuf,

    /// Most connections in the store pool.
    #[arg(long, env = "BRIGADE_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,

    /// Log format: auto is JSON when stdout is not a terminal.
    #[arg(long, env = "BRIGADE_LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,

    /// Log filter, RUST_LOG syntax.
    #[arg(long, env = "BRIGADE_LOG", default_value = "info")]
    pub log: String,

    /// The longest any request may take, whatever deadline the caller sent.
    #[arg(long, env = "BRIGADE_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// The largest request body accepted, in bytes.
    #[arg(long, env = "BRIGADE_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,

    /// The largest request head accepted (the target and all headers), in bytes; larger is
    /// answered `431 headers-too-large`.
    #[arg(long, env = "BRIGADE_HEADER_LIMIT", default_value_t = crate::http::DEFAULT_MAX_HEADER_BYTES)]
    pub header_limit: usize,

    /// The most requests this instance serves at once; past it, requests are answered
    /// `503 overloaded` with `Retry-After` at once instead of queueing (0: no limit). Health,
    /// readiness and metrics are never refused.
    #[arg(long, env = "BRIGADE_MAX_CONCURRENT_REQUESTS", default_value_t = crate::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,

    /// Let the concurrency limit follow the instance's latency, under
    /// `--max-concurrent-requests` as a ceiling: it shrinks when requests start to queue and
    /// grows back when they stop. Suits services whose requests work rather than wait.
    #[arg(long, env = "BRIGADE_ADAPTIVE_CONCURRENCY", default_value_t = false)]
    pub adaptive_concurrency: bool,

    /// Enable fault injection, driven through `/v1/chaos` on the instance (`brigade chaos`).
    /// Off, there is neither fault layer nor admin route.
    #[arg(long, env = "BRIGADE_CHAOS", default_value_t = false)]
    pub chaos: bool,

    /// The longest an outbound call may take when the request has no deadline of its own.
    #[arg(long, env = "BRIGADE_CLIENT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub client_timeout: Duration,

    /// How long in-flight requests may take to finish once shutdown begins.
    #[arg(long, env = "BRIGADE_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Pause between deregistering and closing the listener, so that clients stop sending here.
    #[arg(long, env = "BRIGADE_DEREGISTER_DELAY", default_value = "300ms", value_parser = humantime::parse_duration)]
    pub deregister_delay: Duration,

    /// Exit when this process is no longer our parent (set by `brigade up`).
    #[arg(long, env = "BRIGADE_PARENT_PID")]
    pub parent_pid: Option<u32>,

    /// How events travel between services: `embedded` (consumers read producers' outbox feeds;
    /// no broker) or a NATS URL (nats://127.0.0.1:4222) for JetStream.
    #[arg(long, env = "BRIGADE_EVENTS", default_value = "embedded", value_parser = parse_transport)]
    pub events: Transport,

    /// Prefix of the JetStream streams and subjects, so that several systems can share one NATS.
    #[arg(long, env = "BRIGADE_EVENTS_NAMESPACE", default_value = "brigade")]
    pub events_namespace: String,

    /// Verify access tokens with the keys in this JWKS file instead of fetching them from the
    /// users service (a deployment that mounts its keys; tests).
    #[arg(long, env = "BRIGADE_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,

    /// How this instance proves its identity to the services it calls and checks its callers'.
    #[arg(long, env = "BRIGADE_IDENTITY", value_enum, default_value = "auto")]
    pub identity: IdentityMode,

    /// Platform identity: the file holding this instance's own token (read again when it
    /// changes), e.g. a projected ServiceAccount token.
    #[arg(long, env = "BRIGADE_IDENTITY_TOKEN_FILE")]
    pub identity_token_file: Option<PathBuf>,

    /// Platform identity: the audience the platform's tokens are issued for (e.g. `brigade`).
    #[arg(long, env = "BRIGADE_IDENTITY_AUDIENCE")]
    pub identity_audience: Option<String>,

    /// Platform identity: the issuer of the platform's tokens (the cluster's service-account
    /// issuer URL).
    #[arg(long, env = "BRIGADE_IDENTITY_ISSUER")]
    pub identity_issuer: Option<String>,

    /// Platform identity: where the issuer publishes its keys (a JWKS URL).
    #[arg(long, env = "BRIGADE_IDENTITY_JWKS_URL")]
    pub identity_jwks_url: Option<String>,

    /// Span export (the standard OTEL_* variables).
    #[command(flatten)]
    pub tracing: TracingArgs,

    /// The async runtime the instance runs on (read before it starts: see [`RuntimeArgs`]).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl ServiceArgs {
    /// The discovery source these arguments select.
    pub fn discovery_source(&self) -> Result<Source, Error> {
        let mode = match self.discovery {
            DiscoveryMode::Auto if self.registry_url.is_some() => DiscoveryMode::Registry,
            DiscoveryMode::Auto if self.peers.is_some() => DiscoveryMode::Static,
            DiscoveryMode::Auto => DiscoveryMode::None,
            other => other,
        };
        Ok(match mode {
            DiscoveryMode::Registry => {
                Source::Registry(self.registry_url.clone().ok_or_else(|| {
                    Error::Config(
                        "--discovery registry needs --registry-url (BRIGADE_REGISTRY_URL)".into(),
                    )
                })?)
            }
            DiscoveryMode::Static => {
                Source::Static(self.peers.clone().map(|p| p.0).unwrap_or_default())
            }
            DiscoveryMode::Dns => Source::Dns(Dns {
                template: self.dns_template.0.clone(),
                server: self.dns_server,
                refresh: self.dns_refresh,
            }),
            DiscoveryMode::None | DiscoveryMode::Auto => Source::None,
        })
    }
}

/// `--peers`: the instances of each service, `svc=host:port,host:port;svc2=host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers(pub HashMap<String, Vec<SocketAddr>>);

impl Peers {
    /// Parses `svc=host:port,host:port;svc2=host:port` (clap's value parser for `--peers`).
    pub fn parse(spec: &str) -> Result<Peers, Error> {
        parse_peers(spec).map(Peers)
    }
}

/// `--dns-template`: a host:port in which `{service}` stands for the service's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTemplate(pub String);

impl DnsTemplate {
    /// Accepts a template only with `{service}` in it: without it, every service would resolve
    /// to the same host (clap's value parser for `--dns-template`).
    pub fn parse(template: &str) -> Result<DnsTemplate, Error> {
        Dns::check_template(template).map_err(Error::Config)?;
        Ok(DnsTemplate(template.to_owned()))
    }
}

/// clap's value parser for `--dns-server`: an IP address with or without a port.
fn parse_dns_server(value: &str) -> Result<SocketAddr, Error> {
    let value = value.trim();
    value
        .parse::<SocketAddr>()
        .or_else(|_| {
            value
                .parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| {
            Error::Config(format!(
                "`{value}` is not an ip:port or ip address (e.g. 10.96.0.10:53); a DNS server is \
                 given by address, not by name"
            ))
        })
}

/// clap's value parser for `--dns-refresh`.
fn parse_dns_refresh(value: &str) -> Result<Duration, Error> {
    duration_within(value, Duration::from_millis(100)..=Duration::from_secs(600))
        .map_err(Error::Config)
}

/// A humantime duration (`300ms`, `1s`, `2m`) that a flag accepts only within `allowed`.
///
/// Every bounded duration flag, the chassis' and the services', parses and refuses the same way;
/// one definition so that each refusal names the value and its bounds alike. A flag's value
/// parser is a one-line wrapper that gives its bounds.
pub fn duration_within(
    text: &str,
    allowed: impl RangeBounds<Duration>,
) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 300ms or 1s: {e}"))?;
    if allowed.contains(&duration) {
        Ok(duration)
    } else {
        Err(format!(
            "`{text}` is out of range: it must be {}",
            describe_bounds(&allowed)
        ))
    }
}

/// The bounds of a duration range in words: `from 1ms to 10s`, `at least 1s`, `above 0s`.
fn describe_bounds(allowed: &impl RangeBounds<Duration>) -> String {
    let show = |d: &Duration| humantime::format_duration(*d).to_string();
    if let (Bound::Included(low), Bound::Included(high)) =
        (allowed.start_bound(), allowed.end_bound())
    {
        return format!("from {} to {}", show(low), show(high));
    }
    let low = match allowed.start_bound() {
        Bound::Included(low) => Some(format!("at least {}", show(low))),
        Bound::Excluded(low) => Some(format!("above {}", show(low))),
        Bound::Unbounded => None,
    };
    let high = match allowed.end_bound() {
        Bound::Included(high) => Some(format!("at most {}", show(high))),
        Bound::Excluded(high) => Some(format!("below {}", show(high))),
        Bound::Unbounded => None,
    };
    match (low, high) {
        (Some(low), Some(high)) => format!("{low} and {high}"),
        (Some(bound), None) | (None, Some(bound)) => bound,
        (None, None) => "any duration".to_owned(),
    }
}

/// The cap on a call for an optional part of an edge's page (recommendations, stock): from 1ms
/// (below it no dependency could ever answer) to 10s (the default request timeout; a longer cap
/// caps nothing). The gateway and the storefront cap the same parts the same way.
pub fn optional_part_cap(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::from_millis(1)..=Duration::from_secs(10))
}

/// clap's value parser for `--events`.
fn parse_transport(value: &str) -> Result<Transport, crate::events::Error> {
    Transport::parse(value)
}

/// The flags that say what `env` says, for the arguments of `command` that read an environment
/// variable and that `given` does not set already: so that instances sharing one process
/// (`brigade up --colocate`), and so one environment, each get their own configuration, read by
/// the same parsers as a process's environment would be. A switch (a flag without a value) is
/// given when its variable is true, 1, yes or on.
pub fn env_as_flags(
    command: &clap::Command,
    given: &[String],
    env: &[(String, String)],
) -> Vec<String> {
    let mut flags = Vec::new();
    for arg in command.get_arguments() {
        let (Some(variable), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let Some((_, value)) = env
            .iter()
            .rev()
            .find(|(k, _)| variable == std::ffi::OsStr::new(k))
        else {
            continue;
        };
        let flag = format!("--{long}");
        let set = given
            .iter()
            .any(|g| *g == flag || g.starts_with(&format!("{flag}=")));
        if set {
            continue;
        }
        if arg.get_action().takes_values() {
            flags.push(format!("{flag}={value}"));
        } else if matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        ) {
            flags.push(flag);
        }
    }
    flags
}

/// Parses `svc=host:port,host:port;svc2=host:port`.
pub fn parse_peers(spec: &str) -> Result<HashMap<String, Vec<SocketAddr>>, Error> {
    let mut peers = HashMap::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (service, addresses) = entry.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--peers entry `{entry}` must look like service=host:port[,host:port]"
            ))
        })?;
        let addresses = addresses
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| {
                a.trim().parse::<SocketAddr>().map_err(|e| {
                    Error::Config(format!(
                        "--peers: `{a}` for {service} is not an ip:port address: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        peers.insert(service.trim().to_owned(), addresses);
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        service: ServiceArgs,
    }

    /// The usage error clap gives for `flags`, as text.
    fn refused(flags: &[&str]) -> String {
        let argv = std::iter::once("test").chain(flags.iter().copied());
        match Command::try_parse_from(argv) {
            Ok(parsed) => panic!("{flags:?} was accepted: {parsed:?}"),
            Err(e) => {
                assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{e}");
                e.to_string()
            }
        }
    }

    fn parsed(flags: &[&str]) -> ServiceArgs {
        let argv = std::iter::once("test").chain(flags.iter().copied());
        Command::try_parse_from(argv).unwrap().service
    }

    #[test]
    fn a_bad_events_transport_is_a_usage_error_naming_the_flag() {
        let error = refused(&["--events", "kafka://broker"]);
        assert!(error.contains("--events"), "{error}");
        assert_eq!(
            parsed(&["--events", "nats://127.0.0.1:4222"]).events,
            Transport::Nats {
                url: "nats://127.0.0.1:4222".into()
            }
        );
        assert_eq!(parsed(&[]).events, Transport::Embedded);
    }

    #[test]
    fn bad_peers_are_a_usage_error_naming_the_flag() {
        let error = refused(&["--peers", "catalog=localhost"]);
        assert!(error.contains("--peers"), "{error}");
        let error = refused(&["--peers", "catalog"]);
        assert!(error.contains("--peers"), "{error}");
        let peers = parsed(&[
            "--peers",
            "catalog=127.0.0.1:9001,127.0.0.1:9002;users=127.0.0.1:9101",
        ])
        .peers
        .unwrap();
        assert_eq!(peers.0["catalog"].len(), 2);
        assert_eq!(
            peers.0["users"],
            vec![SocketAddr::from(([127, 0, 0, 1], 9101))]
        );
    }

    #[test]
    fn a_dns_template_without_the_service_is_a_usage_error_naming_the_flag() {
        let error = refused(&["--dns-template", "catalog:8080"]);
        assert!(error.contains("--dns-template"), "{error}");
        assert!(error.contains("{service}"), "{error}");
        assert_eq!(parsed(&[]).dns_template.0, "{service}:8080");
        let error = refused(&["--dns-template", "{service}.shop.svc"]);
        assert!(error.contains("host:port"), "{error}");
    }

    #[test]
    fn a_bounded_duration_is_refused_naming_the_value_and_its_bounds() {
        let second = Duration::from_secs(1);
        assert_eq!(duration_within("2s", second..), Ok(Duration::from_secs(2)));
        assert_eq!(duration_within("1s", second..=second), Ok(second));
        let refused = |text: &str, error: Result<Duration, String>, says: &str| {
            let error = error.err().unwrap_or_default();
            assert!(error.contains(text) && error.contains(says), "{error}");
        };
        refused("soon", duration_within("soon", ..), "not a duration");
        refused("0s", optional_part_cap("0s"), "from 1ms to 10s");
        refused("500ms", duration_within("500ms", second..), "at least 1s");
        let above_zero = (Bound::Excluded(Duration::ZERO), Bound::Unbounded);
        refused("0s", duration_within("0s", above_zero), "above 0s");
        refused("2s", duration_within("2s", ..second), "below 1s");
    }

    #[test]
    fn a_dns_server_is_an_address_and_the_refresh_a_sensible_duration() {
        let args = parsed(&[
            "--discovery",
            "dns",
            "--dns-server",
            "127.0.0.1:5353",
            "--dns-refresh",
            "250ms",
        ]);
        assert_eq!(
            args.dns_server,
            Some(SocketAddr::from(([127, 0, 0, 1], 5353)))
        );
        assert!(matches!(
            args.discovery_source(),
            Ok(Source::Dns(Dns { server: Some(s), refresh, .. }))
                if s.port() == 5353 && refresh == Duration::from_millis(250)
        ));
        assert_eq!(
            parsed(&["--dns-server", "10.96.0.10"]).dns_server,
            Some(SocketAddr::from(([10, 96, 0, 10], 53)))
        );
        let error = refused(&["--dns-server", "kube-dns.kube-system"]);
        assert!(
            error.contains("--dns-server") && error.contains("by address"),
            "{error}"
        );
        let error = refused(&["--dns-refresh", "10ms"]);
        assert!(
            error.contains("--dns-refresh") && error.contains("100ms"),
            "{error}"
        );
        assert_eq!(parsed(&[]).dns_refresh, Duration::from_secs(5));
    }

    #[test]
    fn an_environment_becomes_the_flags_it_stands_for_unless_given() {
        use clap::CommandFactory;
        let env: Vec<(String, String)> = [
            ("BRIGADE_LISTEN", "127.0.0.1:9001"),
            ("BRIGADE_CHAOS", "true"),
            ("BRIGADE_LOG", "debug"),
            ("BRIGADE_REQUEST_TIMEOUT", "3s"),
            ("UNRELATED", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let given = vec!["--log=warn".to_owned()];
        let mut argv = vec!["test".to_owned()];
        argv.extend(given.clone());
        argv.extend(env_as_flags(&Command::command(), &given, &env));
        let args = Command::try_parse_from(&argv).unwrap().service;
        assert_eq!(args.listen, Some(SocketAddr::from(([127, 0, 0, 1], 9001))));
        assert!(args.chaos);
        assert_eq!(args.log, "warn", "a given flag wins over the environment");
        assert_eq!(args.request_timeout, Duration::from_secs(3));
        let off = [("BRIGADE_CHAOS".to_owned(), "false".to_owned())];
        assert!(env_as_flags(&Command::command(), &[], &off).is_empty());
    }

    #[test]
    fn the_discovery_source_follows_the_flags() {
        assert!(matches!(parsed(&[]).discovery_source(), Ok(Source::None)));
        assert!(matches!(
            parsed(&["--peers", "a=127.0.0.1:1"]).discovery_source(),
            Ok(Source::Static(_))
        ));
        assert!(matches!(
            parsed(&["--discovery", "dns"]).discovery_source(),
            Ok(Source::Dns(Dns { template, server: None, .. })) if template == "{service}:8080"
        ));
        assert!(parsed(&["--discovery", "registry"])
            .discovery_source()
            .is_err());
    }
}
