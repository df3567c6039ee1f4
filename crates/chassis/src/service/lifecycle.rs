//! The life of an instance, step by step: make the [`Context`], let the service build its
//! routes, wrap them in the chassis' middleware, serve, register, wait for the stop, and leave
//! in the documented order: not-ready → deregister → pause → stop accepting → drain → stop the
//! background tasks → close the stores → exit.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::Instrument;

use super::context::{Events, Parts};
use super::{Background, Context, Error, ServiceArgs, ServiceInfo};
use crate::client::{colocated_handler, Colocated, ColocatedHandler};
use crate::db::Db;
use crate::discovery::api::Registration;
use crate::discovery::{Registrar, Resolver};
use crate::health::Health;
use crate::http::{self, Limits};
use crate::metrics::Metrics;
use crate::telemetry::export::{Exporter, Origin};
use crate::{logging, shutdown, BoxError};

/// Binds `args.listen` and serves until the process is asked to stop (SIGTERM, Ctrl-C, or its
/// supervisor going away). `build` gets a [`Context`] and returns the service's routes.
pub(super) async fn run<B, Fut>(info: ServiceInfo, args: ServiceArgs, build: B) -> Result<(), Error>
where
    B: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Router, BoxError>>,
{
    logging::init(args.log_format, &args.log);
    let parent = args.parent_pid;
    let served = match bind(&args).await {
        Ok(listener) => serve(info, args, listener, build, shutdown::signal(parent)).await,
        Err(error) => Err(error),
    };
    logging::flush();
    served
}

/// [`run`] for one of the instances a process serves together (`brigade up --colocate`),
/// until `shutdown` resolves. The process logs with the first instance's format and filter.
pub(super) async fn run_colocated<B, Fut, S>(
    info: ServiceInfo,
    args: ServiceArgs,
    build: B,
    shutdown: S,
    colocated: Colocated,
) -> Result<(), Error>
where
    B: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Router, BoxError>>,
    S: Future<Output = shutdown::Reason>,
{
    logging::init(args.log_format, &args.log);
    let served = match bind(&args).await {
        Ok(listener) => serve_in(info, args, listener, build, shutdown, Some(colocated)).await,
        Err(error) => Err(error),
    };
    logging::flush();
    served
}

/// Listens on `args.listen` (a free port on loopback when unset).
async fn bind(args: &ServiceArgs) -> Result<tokio::net::TcpListener, Error> {
    let listen = args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    bind_socket(listen, args.reuse_port).map_err(|source| Error::Bind {
        address: listen,
        source,
    })
}

/// Listens on `address`; with `reuse_port`, beside any other process that does the same (a
/// rolling restart's old and new process on one fixed port).
fn bind_socket(address: SocketAddr, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std's and tokio's own `bind` do: a restarted process may take the port at once.
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(1024)
}

/// Serves on an already-bound `listener` until `shutdown` resolves, then leaves gracefully.
/// Tests and benchmarks bind port 0 themselves and pass their own shutdown future.
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
    serve_in(info, args, listener, build, shutdown, None).await
}

/// [`serve`], and when `colocated` is given, served in-process through it too (from the moment
/// it serves until it drains), its own clients calling `colocated`'s instances in-process.
async fn serve_in<B, Fut, S>(
    info: ServiceInfo,
    args: ServiceArgs,
    listener: tokio::net::TcpListener,
    build: B,
    shutdown: S,
    colocated: Option<Colocated>,
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
    async move {
        let local = listener.local_addr().map_err(Error::Serve)?;
        let exporter = Exporter::start(
            &args.tracing,
            Origin {
                service: info.name,
                instance_id: &instance_id,
                version: info.version,
            },
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        let context = make_context(
            info,
            args,
            instance_id.clone(),
            exporter.as_ref(),
            colocated.clone(),
        )?;
        let running = Running::of(&context, exporter);
        let routes = build(context).await.map_err(Error::Build)?;
        let app = wrap_app(&running, routes);
        let in_process = colocated.map(|colocated| {
            let address = advertised(&running.args, local);
            colocated.insert(info.name, address, handler_of(app.clone()));
            InProcess { colocated, address }
        });
        let socket = bind_local_socket(&running.args, &instance_id);
        let socket_path = socket.as_ref().map(|(_, path)| path.clone());
        let server = Server::start(listener, socket, app);
        // The socket's path when there is one; no field at all when there is none.
        let socket_field = socket_path
            .as_deref()
            .map(|path| tracing::field::display(path.display()));
        tracing::info!(address = %local, local_socket = socket_field, version = info.version, "listening");
        let registration = register(&running, info, &instance_id, local, socket_path);
        let reason = shutdown.await;
        tracing::info!(%reason, "shutting down: draining");
        leave(running, registration, in_process, server).await
    }
    .instrument(span)
    .await
}

/// An instance served in-process too, until it drains.
struct InProcess {
    colocated: Colocated,
    address: SocketAddr,
}

/// The address callers find the instance at: the advertised one when it is an address, else the
/// bound one.
fn advertised(args: &ServiceArgs, local: SocketAddr) -> SocketAddr {
    args.advertise
        .as_deref()
        .and_then(|a| a.parse().ok())
        .unwrap_or(local)
}

/// The instance's whole HTTP stack as an in-process handler: a request goes through the same
/// middleware and routes as one read from a socket.
fn handler_of(app: Router) -> ColocatedHandler {
    colocated_handler(move |request| {
        let app = app.clone();
        async move {
            match app.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

/// What the chassis keeps of an instance to stop it: the parts of its [`Context`] that outlive
/// the build step.
struct Running {
    args: ServiceArgs,
    health: Health,
    metrics: Metrics,
    events: Events,
    background: Background,
    stores: Arc<Mutex<Vec<Db>>>,
    problem_page: Arc<Mutex<Option<crate::problem::ProblemPage>>>,
    /// How the instance checks its callers, given to every request.
    guard: crate::guard::Guard,
    /// The span exporter, flushed last so that the spans of the drained requests leave.
    exporter: Option<Exporter>,
}

impl Running {
    fn of(context: &Context, exporter: Option<Exporter>) -> Running {
        Running {
            exporter,
            args: context.args().clone(),
            health: context.health().clone(),
            metrics: context.metrics().clone(),
            events: context.events.clone(),
            background: context.background.clone(),
            stores: context.stores.clone(),
            problem_page: context.problem_page.clone(),
            guard: context.guard.clone(),
        }
    }
}

/// The context a starting instance builds with: its metrics, health, discovery and events.
fn make_context(
    info: ServiceInfo,
    args: ServiceArgs,
    instance_id: String,
    exporter: Option<&Exporter>,
    colocated: Option<Colocated>,
) -> Result<Context, Error> {
    let metrics = Metrics::new();
    metrics.register_info(info.name, info.version, &instance_id);
    if let Some(exporter) = exporter {
        exporter.register_metrics(&metrics);
    }
    let resolver = Resolver::new(args.discovery_source()?);
    let transport = args.events.clone();
    let secret = std::env::var(crate::identity::BOOTSTRAP_SECRET_ENV).ok();
    let identity = super::identity::establish(info.name, &args, secret, &metrics)?;
    Ok(Context::new(Parts {
        info,
        args,
        instance_id,
        health: Health::new(),
        metrics,
        resolver,
        colocated,
        identity: identity.presenter,
        guard: identity.guard,
        transport,
        tracer: exporter.map(|e| e.tracer().clone()),
    }))
}

/// The service's routes with the chassis' own (health, metrics, events), in the chassis'
/// middleware (limits, load shedding, fault injection when on).
fn wrap_app(running: &Running, routes: Router) -> Router {
    let args = &running.args;
    let scrape = running.metrics.clone();
    if args.chaos {
        tracing::warn!(
            "chaos is on: faults can be injected through {}",
            crate::routes::CHAOS
        );
    }
    let health = running.health.clone();
    http::wrap_traced(
        Router::new()
            .merge(running.health.router())
            .route(
                crate::routes::METRICS,
                get(move |headers: ::http::HeaderMap| async move {
                    scrape.scrape(headers.get(::http::header::ACCEPT)).await
                }),
            )
            .merge(routes.merge(running.events.take_routes())),
        running.metrics.clone(),
        Limits {
            max_request_time: args.request_timeout,
            max_body_bytes: args.body_limit,
            max_header_bytes: args.header_limit,
        },
        http::Protection {
            max_concurrent_requests: args.max_concurrent_requests,
            adaptive_concurrency: args.adaptive_concurrency,
            chaos: args.chaos.then(crate::chaos::Chaos::new),
            problem_page: running.problem_page.lock().ok().and_then(|p| p.clone()),
        },
        running.exporter.as_ref().map(|e| e.tracer().clone()),
    )
    .layer(axum::Extension(running.guard.clone()))
    .layer(axum::middleware::map_response(
        move |response: axum::response::Response| {
            let draining = health.is_draining();
            async move { close_when_draining(draining, response) }
        },
    ))
}

/// While the instance drains, every answer asks its client to close the connection: a client
/// holding a kept-alive connection then opens its next one elsewhere (another instance, or on a
/// shared port the process that stays), instead of having it closed under it when the listener
/// stops.
fn close_when_draining(
    draining: bool,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if draining {
        response.headers_mut().insert(
            ::http::header::CONNECTION,
            ::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Listens on a Unix socket in `--local-socket-dir` when one is given. The socket only saves
/// callers on this machine the loopback TCP stack, so an instance that cannot have one (a path
/// too long, a directory it may not write) says why and serves over TCP alone.
fn bind_local_socket(
    args: &ServiceArgs,
    instance_id: &str,
) -> Option<(tokio::net::UnixListener, PathBuf)> {
    // Absolute: callers find it in the registry whatever their working directory.
    let dir = std::path::absolute(args.local_socket_dir.as_deref()?).ok()?;
    let Some(path) = crate::local_socket::socket_path(&dir, instance_id, std::process::id()) else {
        tracing::warn!(
            dir = %dir.display(),
            max_bytes = crate::local_socket::MAX_PATH_BYTES,
            "the local socket's path would be too long; serving over TCP only"
        );
        return None;
    };
    match crate::local_socket::bind(&path) {
        Ok(listener) => Some((listener, path)),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot listen on the local socket; serving over TCP only");
            None
        }
    }
}

/// The HTTP server: its listeners served on their own tasks until told to stop accepting.
struct Server {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), std::io::Error>>>,
    /// The local socket's file, removed once drained.
    socket_path: Option<PathBuf>,
}

impl Server {
    fn start(
        listener: tokio::net::TcpListener,
        socket: Option<(tokio::net::UnixListener, PathBuf)>,
        app: Router,
    ) -> Server {
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut socket_path = None;
        if let Some((unix, path)) = socket {
            // A peer on the local socket is on this machine: to the edges' rate limits
            // (`ratelimit::ClientAddress`) it is the loopback address a TCP peer here would be.
            let local_peer = ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0)));
            let app = app.clone().layer(axum::Extension(local_peer));
            let stopped = stop.clone().cancelled_owned();
            tasks.push(tokio::spawn(
                axum::serve(unix, app.into_make_service())
                    .with_graceful_shutdown(stopped)
                    .into_future(),
            ));
            socket_path = Some(path);
        }
        tasks.push(tokio::spawn(
            // With each connection's peer address: the edges' rate limits key on it
            // (`ratelimit::ClientAddress`).
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
        ));
        Server {
            stop,
            tasks,
            socket_path,
        }
    }

    /// Stops accepting and waits for the requests in flight, at most `grace`; then removes the
    /// local socket's file.
    async fn drain(self, grace: std::time::Duration) -> Result<(), Error> {
        self.stop.cancel();
        let served = tokio::time::timeout(grace, futures_util::future::join_all(self.tasks)).await;
        if let Some(path) = &self.socket_path {
            if let Err(error) = std::fs::remove_file(path) {
                tracing::debug!(path = %path.display(), %error, "could not remove the local socket");
            }
        }
        let Ok(served) = served else {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish within the grace period; stopping anyway"
            );
            return Ok(());
        };
        for result in served {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Error::Serve(e)),
                Err(join) => tracing::error!(error = %join, "the server task failed"),
            }
        }
        tracing::info!("drained; stopped");
        Ok(())
    }
}

/// Registers the instance with the registry when there is one (heartbeats until deregistered);
/// without one, it counts as registered at once.
fn register(
    running: &Running,
    info: ServiceInfo,
    instance_id: &str,
    local: SocketAddr,
    local_socket: Option<PathBuf>,
) -> Option<crate::discovery::RegistrationHandle> {
    let args = &running.args;
    let Some(url) = &args.registry_url else {
        running.health.set_registered(true);
        return None;
    };
    Some(Registrar::new(url).start(
        Registration {
            service: info.name.to_owned(),
            instance_id: instance_id.to_owned(),
            address: args.advertise.clone().unwrap_or_else(|| local.to_string()),
            local_socket: local_socket.and_then(|path| path.to_str().map(str::to_owned)),
            version: info.version.to_owned(),
            pid: Some(std::process::id()),
            started_at_ms: crate::time::unix_ms(),
            ttl_ms: args.registration_ttl.as_millis() as u64,
            metadata: Default::default(),
        },
        running.health.clone(),
    ))
}

/// Leaves in the documented order: not-ready, deregister, pause so that watchers move away,
/// stop accepting and drain, stop the background tasks, close the stores.
async fn leave(
    running: Running,
    registration: Option<crate::discovery::RegistrationHandle>,
    in_process: Option<InProcess>,
    server: Server,
) -> Result<(), Error> {
    let args = &running.args;
    running.health.set_draining();
    if let Some(registration) = registration {
        registration.deregister().await;
        tokio::time::sleep(args.deregister_delay).await;
    }
    // Callers that still pick it go over HTTP from now on, and meet the listener closing.
    if let Some(InProcess { colocated, address }) = in_process {
        colocated.remove(address);
    }
    server.drain(args.shutdown_grace).await?;
    let background = running.background.stop(args.shutdown_grace).await;
    if let Err(lingering) = &background {
        tracing::warn!(tasks = ?lingering.tasks, grace = ?lingering.grace, "background tasks did not stop in time");
    }
    let stores: Vec<Db> = running.stores.lock().map(|s| s.clone()).unwrap_or_default();
    for store in stores {
        store.close().await;
    }
    if let Some(exporter) = running.exporter {
        exporter.shutdown().await;
    }
    background.map_err(Error::from)
}
