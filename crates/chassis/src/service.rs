//! Running a service: configuration, bootstrap, and graceful shutdown.
//!
//! [`run`] is the whole life of a service process. It binds the listener (port 0 gets a free
//! port), lets the service build its router with a [`Context`] (store, clients, metrics), serves
//! it wrapped in the chassis middleware next to `/livez`, `/readyz` and `/metrics`, registers in
//! discovery, and on SIGTERM, Ctrl-C or the loss of its supervisor leaves in this order: become
//! not-ready, deregister, give watchers a moment to move away, stop accepting, drain in-flight
//! requests up to a deadline, close the store, exit.

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tracing::Instrument;

use crate::client::{self, ServiceClient};
use crate::db::{self, Db, Migration, PoolOptions};
use crate::discovery::api::Registration;
use crate::discovery::{Registrar, Resolver, Source};
use crate::health::Health;
use crate::http::{self, Limits};
use crate::logging::{self, LogFormat};
use crate::metrics::Metrics;
use crate::{events, shutdown, BoxError};

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

/// The configuration every service shares, from flags or `BRIGADE_*` environment variables.
/// Services flatten it into their own `clap` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on (default 127.0.0.1:0, or the service's well-known port); port 0
    /// picks a free port, which is what gets registered.
    #[arg(long, env = "BRIGADE_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// host:port other services should use to reach this instance (default: the bound address).
    #[arg(long, env = "BRIGADE_ADVERTISE")]
    pub advertise: Option<String>,

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
    #[arg(long, env = "BRIGADE_PEERS")]
    pub peers: Option<String>,

    /// DNS discovery: host:port with `{service}` replaced by the service name.
    #[arg(long, env = "BRIGADE_DNS_TEMPLATE", default_value = "{service}:8080")]
    pub dns_template: String,

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
    #[arg(long, env = "BRIGADE_EVENTS", default_value = "embedded")]
    pub events: String,

    /// Prefix of the JetStream streams and subjects, so that several systems can share one NATS.
    #[arg(long, env = "BRIGADE_EVENTS_NAMESPACE", default_value = "brigade")]
    pub events_namespace: String,

    /// Verify access tokens with the keys in this JWKS file instead of fetching them from the
    /// users service (a deployment that mounts its keys; tests).
    #[arg(long, env = "BRIGADE_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
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
                Source::Static(parse_peers(self.peers.as_deref().unwrap_or(""))?)
            }
            DiscoveryMode::Dns => {
                if !self.dns_template.contains("{service}") {
                    return Err(Error::Config(format!(
                        "--dns-template `{}` must contain {{service}}",
                        self.dns_template
                    )));
                }
                Source::Dns(self.dns_template.clone())
            }
            DiscoveryMode::None | DiscoveryMode::Auto => Source::None,
        })
    }
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

/// Who this service is.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
}

/// Why a service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the service failed to start: {0}")]
    Build(BoxError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// What a service's set-up code gets from the chassis.
pub struct Context {
    info: ServiceInfo,
    args: ServiceArgs,
    instance_id: String,
    health: Health,
    metrics: Metrics,
    resolver: Resolver,
    stores: Arc<Mutex<Vec<Db>>>,
    events: Events,
    background: Background,
}

/// The events machinery of one process: transport, shared NATS connection, the subscriptions
/// (for replays) and the routes the chassis serves for them.
#[derive(Clone)]
struct Events {
    transport: events::Transport,
    options: events::Options,
    nats: Arc<tokio::sync::OnceCell<events::Nats>>,
    consumers: Arc<std::sync::RwLock<events::Consumers>>,
    routes: Arc<Mutex<Router>>,
}

/// Work that runs beside request handling (relays, consumers, sweeps), stopped and awaited
/// after the server has drained and before the stores close.
#[derive(Clone)]
struct Background {
    stop: Arc<shutdown::StopSender>,
    stopping: shutdown::Stopping,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Background {
    fn new() -> Background {
        let (stop, stopping) = shutdown::stopping();
        Background {
            stop: Arc::new(stop),
            stopping,
            tasks: Arc::default(),
        }
    }

    /// Stops every task and waits for them, at most `grace`.
    async fn stop(&self, grace: Duration) {
        self.stop.stop();
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(?grace, "background tasks did not stop in time");
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.info.name)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn info(&self) -> ServiceInfo {
        self.info
    }

    pub fn args(&self) -> &ServiceArgs {
        &self.args
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// A client for `service`, through this process's discovery.
    pub fn client(&self, service: &str) -> ServiceClient {
        ServiceClient::new(
            service,
            self.resolver.clone(),
            self.metrics.client.clone(),
            client::Options {
                default_timeout: self.args.client_timeout,
            },
        )
    }

    /// The access-token verifier: keys from `--jwks-file`, or fetched from the users service
    /// through discovery (and cached).
    pub fn verifier(&self) -> Result<crate::auth::Verifier, Error> {
        match &self.args.jwks_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!("cannot read --jwks-file {}: {e}", path.display()))
                })?;
                let jwks = serde_json::from_str(&text).map_err(|e| {
                    Error::Config(format!("--jwks-file {} is not a JWKS: {e}", path.display()))
                })?;
                crate::auth::Verifier::from_jwks(&jwks)
                    .map_err(|e| Error::Config(format!("--jwks-file {}: {e}", path.display())))
            }
            None => Ok(crate::auth::Verifier::from_service(
                self.client(crate::auth::KEY_SERVICE),
            )),
        }
    }

    /// Runs `work` beside the server until the service stops: it gets a [`shutdown::Stopping`]
    /// to watch, and is awaited (within the shutdown grace) before the stores close.
    pub fn spawn_background<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(shutdown::Stopping) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = tokio::spawn(
            work(self.background.stopping.clone())
                .instrument(tracing::info_span!("background", task = name)),
        );
        if let Ok(mut tasks) = self.background.tasks.lock() {
            tasks.push(task);
        }
    }

    /// The event transport this process was configured with.
    pub fn events_transport(&self) -> &events::Transport {
        &self.events.transport
    }

    /// Event tuning (tests shorten the intervals).
    pub fn events_options_mut(&mut self) -> &mut events::Options {
        &mut self.events.options
    }

    async fn nats(&self) -> Result<Option<events::Nats>, events::Error> {
        let events::Transport::Nats { url } = &self.events.transport else {
            return Ok(None);
        };
        let nats = self
            .events
            .nats
            .get_or_try_init(|| events::Nats::connect(url, &self.events.options.namespace))
            .await?;
        Ok(Some(nats.clone()))
    }

    /// This service publishes events from `db` (which has [`events::OUTBOX_MIGRATION`]): starts
    /// the relay and serves the outbox feed. Append with the returned [`events::Outbox`].
    pub async fn publish_events(&mut self, db: &Db) -> Result<events::Outbox, events::Error> {
        let outbox = events::Outbox::new();
        let relay = match self.nats().await? {
            None => {
                events::Relay::embedded(db.clone(), outbox.clone(), self.events.options.clone())
            }
            Some(nats) => events::Relay::nats(
                db.clone(),
                outbox.clone(),
                nats,
                &self.instance_id,
                self.events.options.clone(),
            ),
        };
        if let Ok(mut routes) = self.events.routes.lock() {
            *routes = std::mem::take(&mut *routes).merge(events::feed_routes(relay.clone()));
        }
        self.spawn_background("outbox relay", move |stop| relay.run(stop));
        Ok(outbox)
    }

    /// This service reacts to `subscription`'s events, recording what it applied in `db` (which
    /// has [`events::INBOX_MIGRATION`]). Parked events are served at `/v1/events/parked`.
    pub async fn subscribe(
        &mut self,
        db: &Db,
        subscription: events::Subscription,
    ) -> Result<(), events::Error> {
        let inbox = events::Inbox::new(db.clone());
        let first = {
            let mut consumers = self
                .events
                .consumers
                .write()
                .map_err(|_| events::Error::Config("subscriptions lock poisoned".into()))?;
            let first = consumers.is_empty();
            consumers.add(subscription.clone());
            first
        };
        if first {
            let routes =
                events::parked_routes(self.info.name, inbox.clone(), self.events.consumers.clone());
            if let Ok(mut all) = self.events.routes.lock() {
                *all = std::mem::take(&mut *all).merge(routes);
            }
        }
        let options = self.events.options.clone();
        match self.nats().await? {
            None => {
                let producer = self.client(subscription.source());
                self.spawn_background("event consumer", move |stop| {
                    events::consume_feed(producer, inbox, subscription, options, stop)
                });
            }
            Some(nats) => {
                let consumer = self.info.name.to_owned();
                self.spawn_background("event consumer", move |stop| async move {
                    nats.consume(&consumer, inbox, subscription, options, stop)
                        .await
                });
            }
        }
        Ok(())
    }

    /// The store URL: --database-url, or the default SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.args.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.args
                    .data_dir
                    .join(format!("{}.db", self.info.name))
                    .display()
            )
        })
    }

    /// Connects to the service's store, applies `migrations`, and makes readiness depend on it.
    pub async fn open_store(&mut self, migrations: &[Migration]) -> Result<Db, db::Error> {
        let options = PoolOptions {
            max_connections: self.args.db_max_connections,
            ..PoolOptions::default()
        };
        let db = Db::connect(&self.database_url(), &options).await?;
        db::migrate(&db, migrations).await?;
        tracing::info!(backend = %db.backend(), "store ready");
        let probe = db.clone();
        self.health.add_check("store", move || {
            let probe = probe.clone();
            async move { probe.ping().await.map_err(|e| e.to_string()) }
        });
        self.metrics.register_db_pool(db.clone());
        if let Ok(mut stores) = self.stores.lock() {
            stores.push(db.clone());
        }
        Ok(db)
    }
}

/// Runs a service until it is asked to stop (SIGTERM, Ctrl-C, or its supervisor going away).
/// `build` gets a [`Context`] and returns the service's business routes.
pub async fn run<B, Fut>(info: ServiceInfo, args: ServiceArgs, build: B) -> Result<(), Error>
where
    B: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Router, BoxError>>,
{
    logging::init(args.log_format, &args.log);
    let listen = args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            address: listen,
            source,
        })?;
    let parent = args.parent_pid;
    serve(info, args, listener, build, shutdown::signal(parent)).await
}

/// Serves on an already-bound `listener` until `shutdown` resolves, then leaves gracefully.
/// Tests bind port 0 themselves and pass their own shutdown future.
pub async fn serve<B, Fut, S>(
    info: ServiceInfo,
    args: ServiceArgs,
    listener: tokio::net::TcpListener,
    build: B,
    shutdown: S,
) -> Result<(), Error>
where
    B: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Router, BoxError>>,
    S: Future<Output = shutdown::Reason>,
{
    let instance_id = args.instance_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            info.name,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let span = tracing::info_span!("service", service = info.name, instance = %instance_id);
    serve_instance(info, args, instance_id, listener, build, shutdown)
        .instrument(span)
        .await
}

async fn serve_instance<B, Fut, S>(
    info: ServiceInfo,
    args: ServiceArgs,
    instance_id: String,
    listener: tokio::net::TcpListener,
    build: B,
    shutdown: S,
) -> Result<(), Error>
where
    B: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Router, BoxError>>,
    S: Future<Output = shutdown::Reason>,
{
    let metrics = Metrics::new();
    metrics.register_info(info.name, info.version, &instance_id);
    let health = Health::new();
    let resolver = Resolver::new(args.discovery_source()?);
    let local = listener.local_addr().map_err(Error::Serve)?;
    let stores = Arc::new(Mutex::new(Vec::new()));
    let transport =
        events::Transport::parse(&args.events).map_err(|e| Error::Config(e.to_string()))?;
    let events = Events {
        transport,
        options: events::Options {
            namespace: args.events_namespace.clone(),
            ..events::Options::default()
        },
        nats: Arc::default(),
        consumers: Arc::default(),
        routes: Arc::new(Mutex::new(Router::new())),
    };
    let background = Background::new();
    let context = Context {
        info,
        args: args.clone(),
        instance_id: instance_id.clone(),
        health: health.clone(),
        metrics: metrics.clone(),
        resolver,
        stores: stores.clone(),
        events: events.clone(),
        background: background.clone(),
    };
    let routes = build(context).await.map_err(Error::Build)?;
    let event_routes = events
        .routes
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default();
    let routes = routes.merge(event_routes);
    let scrape = metrics.clone();
    if args.chaos {
        tracing::warn!(
            "chaos is on: faults can be injected through {}",
            crate::routes::CHAOS
        );
    }
    let app = http::wrap_with(
        Router::new()
            .merge(health.router())
            .route(
                crate::routes::METRICS,
                get(move || async move { scrape.encode() }),
            )
            .merge(routes),
        metrics.clone(),
        Limits {
            max_request_time: args.request_timeout,
            max_body_bytes: args.body_limit,
        },
        http::Protection {
            max_concurrent_requests: args.max_concurrent_requests,
            adaptive_concurrency: args.adaptive_concurrency,
            chaos: args.chaos.then(crate::chaos::Chaos::new),
        },
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    tracing::info!(address = %local, version = info.version, "listening");

    let registration = match &args.registry_url {
        Some(url) => Some(Registrar::new(url).start(
            Registration {
                service: info.name.to_owned(),
                instance_id: instance_id.clone(),
                address: args.advertise.clone().unwrap_or_else(|| local.to_string()),
                version: info.version.to_owned(),
                pid: Some(std::process::id()),
                started_at_ms: crate::time::unix_ms(),
                ttl_ms: args.registration_ttl.as_millis() as u64,
                metadata: Default::default(),
            },
            health.clone(),
        )),
        None => {
            health.set_registered(true);
            None
        }
    };

    let reason = shutdown.await;
    tracing::info!(%reason, "shutting down: draining");
    health.set_draining();
    if let Some(registration) = registration {
        registration.deregister().await;
        tokio::time::sleep(args.deregister_delay).await;
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(args.shutdown_grace, server).await {
        Ok(Ok(Ok(()))) => tracing::info!("drained; stopped"),
        Ok(Ok(Err(e))) => return Err(Error::Serve(e)),
        Ok(Err(join)) => tracing::error!(error = %join, "the server task failed"),
        Err(_) => {
            tracing::warn!(grace = ?args.shutdown_grace, "in-flight requests did not finish within the grace period; stopping anyway")
        }
    }
    background.stop(args.shutdown_grace).await;
    let stores: Vec<Db> = stores.lock().map(|s| s.clone()).unwrap_or_default();
    for store in stores {
        store.close().await;
    }
    Ok(())
}
