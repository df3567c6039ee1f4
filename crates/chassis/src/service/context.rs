//! What a service's set-up code gets from the chassis: its configuration, store, clients,
//! event publishing and subscriptions, and background tasks.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;

use super::{Background, Error, ServiceArgs, ServiceInfo, Undeclared};
use crate::client::{self, Colocated, ServiceClient};
use crate::db::{self, Db, Migration, PoolOptions};
use crate::discovery::Resolver;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::telemetry::Tracer;
use crate::{events, shutdown};

/// What a service's set-up code gets from the chassis.
pub struct Context {
    info: ServiceInfo,
    args: ServiceArgs,
    instance_id: String,
    health: Health,
    metrics: Metrics,
    resolver: Resolver,
    /// The instances served in this process, called in-process (`brigade up --colocate`).
    colocated: Option<Colocated>,
    /// What this instance presents to the services it calls.
    identity: crate::identity::Identity,
    /// How this instance checks who calls it (read by the chassis once the routes are built).
    pub(super) guard: crate::guard::Guard,
    /// Where this instance's spans go, when they are exported.
    tracer: Option<Tracer>,
    /// The store the chassis opened from the service's migrations (see [`Context::store`]).
    store: Option<Db>,
    /// Every store opened, closed by the chassis after the background tasks have stopped.
    pub(super) stores: Arc<Mutex<Vec<Db>>>,
    pub(super) events: Events,
    pub(super) background: Background,
    /// How the middleware's own refusals are shown ([`Context::render_problems`]); read by the
    /// chassis once the routes are built.
    pub(super) problem_page: Arc<Mutex<Option<crate::problem::ProblemPage>>>,
}

/// The events machinery of one process: transport, shared NATS connection, the subscriptions
/// (for replays) and the routes the chassis serves for them.
#[derive(Clone)]
pub(super) struct Events {
    transport: events::Transport,
    options: events::Options,
    nats: Arc<tokio::sync::OnceCell<events::Nats>>,
    consumers: Arc<std::sync::RwLock<events::Consumers>>,
    routes: Arc<Mutex<Router>>,
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

    /// This instance's tracer, when spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn tracer(&self) -> Option<&Tracer> {
        self.tracer.as_ref()
    }

    /// A client for `service`, through this process's discovery; instances served in this
    /// process too are called in-process. Refused unless the service declares that it calls
    /// `service` (`DEPENDS_ON.calls`): the deployment allows only the declared edges.
    pub fn client(&self, service: &str) -> Result<ServiceClient, Undeclared> {
        self.info.depends_on.check_call(self.info.name, service)?;
        Ok(self.any_client(service))
    }

    /// A client for `service` whatever the declaration says: for the chassis's own calls that
    /// are checked against another part of it (an embedded event feed, against `consumes`).
    fn any_client(&self, service: &str) -> ServiceClient {
        let client = ServiceClient::new(
            service,
            self.resolver.clone(),
            self.metrics.client.clone(),
            client::Options {
                default_timeout: self.args.client_timeout,
            },
        );
        let client = client.with_identity(self.identity.clone());
        match &self.colocated {
            Some(colocated) => client.colocated(colocated.clone()),
            None => client,
        }
    }

    /// What this instance presents to the services it calls, for a client made by hand.
    pub fn identity(&self) -> &crate::identity::Identity {
        &self.identity
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
                self.client(crate::auth::KEY_SERVICE)?,
            )),
        }
    }

    /// The background tasks of this instance: `ctx.background().spawn_periodic(…)` for a pass
    /// every instance runs on a timer. Code that starts its own takes a `&Background`, so that
    /// its tests can give it one without a running instance.
    pub fn background(&self) -> &Background {
        &self.background
    }

    /// Runs `work` beside the server until the service stops: it gets a [`shutdown::Stopping`]
    /// to watch, and is awaited (within the shutdown grace) after the server has drained and
    /// before the stores close. A task still running then is named in [`Error::Lingering`].
    pub fn spawn_background<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(shutdown::Stopping) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.spawn(name, work);
    }

    /// Shows the refusals the chassis' middleware answers by itself (503 overloaded, 504
    /// deadline exceeded, a panic, an unknown route) as `page` instead of problem+json: for an
    /// edge that serves people rather than programs. Statuses and `Retry-After` are kept.
    pub fn render_problems(&self, page: crate::problem::ProblemPage) {
        if let Ok(mut slot) = self.problem_page.lock() {
            *slot = Some(page);
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
    /// the relay and serves the outbox feed to the services its `DEPENDS_ON.read_by` names (the
    /// feed is read with their identity, [`crate::identity`]). Append with the returned
    /// [`events::Outbox`].
    pub async fn publish_events(&mut self, db: &Db) -> Result<events::Outbox, events::Error> {
        self.info.depends_on.check_publish(self.info.name)?;
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
        let relay = relay.measured(&self.metrics.events);
        let (backlog, metrics) = (relay.clone(), self.metrics.events.clone());
        self.metrics.on_scrape_async(move || {
            let (relay, metrics) = (backlog.clone(), metrics.clone());
            async move {
                if let Err(error) = relay.refresh_backlog(&metrics).await {
                    tracing::debug!(%error, "cannot read the outbox backlog for /metrics");
                }
            }
        });
        if let Ok(mut routes) = self.events.routes.lock() {
            *routes = std::mem::take(&mut *routes).merge(
                events::feed_routes(relay.clone(), self.health.clone())
                    .route_layer(crate::guard::callers(self.info.depends_on.read_by)),
            );
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
        self.info
            .depends_on
            .check_consume(self.info.name, subscription.source())?;
        let name = events::subscription_name(self.info.name, subscription.source());
        let inbox = events::Inbox::new(db.clone())
            .traced(self.tracer.clone())
            .measured(self.metrics.events.consumer(&name));
        let (parked, source) = (inbox.clone(), subscription.source().to_owned());
        self.metrics.on_scrape_async(move || {
            let (inbox, source) = (parked.clone(), source.clone());
            async move {
                if let Err(error) = inbox.refresh_parked(&source).await {
                    tracing::debug!(%error, "cannot count the parked events for /metrics");
                }
            }
        });
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
                let producer = self.any_client(subscription.source());
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

    /// The store the chassis opened from [`super::Service::MIGRATIONS`] before the service's
    /// build step.
    pub fn store(&self) -> Result<Db, Error> {
        self.store.clone().ok_or_else(|| {
            Error::Config(format!(
                "{} declares no migrations, so it has no store",
                self.info.name
            ))
        })
    }

    /// Connects to the service's store, applies `migrations`, and makes readiness depend on it.
    /// The first store opened is the service's own ([`Context::store`]).
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
        if self.store.is_none() {
            self.store = Some(db.clone());
        }
        Ok(db)
    }
}

/// The parts of a [`Context`] the chassis makes before the service's build step.
pub(super) struct Parts {
    pub info: ServiceInfo,
    pub args: ServiceArgs,
    pub instance_id: String,
    pub health: Health,
    pub metrics: Metrics,
    pub resolver: Resolver,
    pub colocated: Option<Colocated>,
    pub identity: crate::identity::Identity,
    pub guard: crate::guard::Guard,
    pub transport: events::Transport,
    pub tracer: Option<Tracer>,
}

impl Context {
    pub(super) fn new(parts: Parts) -> Context {
        let events = Events {
            transport: parts.transport,
            options: events::Options {
                namespace: parts.args.events_namespace.clone(),
                ..events::Options::default()
            },
            nats: Arc::default(),
            consumers: Arc::default(),
            routes: Arc::new(Mutex::new(Router::new())),
        };
        Context {
            info: parts.info,
            args: parts.args,
            instance_id: parts.instance_id,
            health: parts.health,
            metrics: parts.metrics,
            resolver: parts.resolver,
            colocated: parts.colocated,
            identity: parts.identity,
            guard: parts.guard,
            tracer: parts.tracer,
            store: None,
            stores: Arc::default(),
            events,
            background: Background::new(),
            problem_page: Arc::default(),
        }
    }
}

impl Events {
    /// The routes the chassis serves for this process's events (feeds, parked events).
    pub(super) fn take_routes(&self) -> Router {
        self.routes
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }
}
