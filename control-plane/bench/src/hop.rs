//! `brigade bench hop`: what one service-to-service hop through the chassis costs, against the
//! physical limit, a raw hyper client calling a raw hyper server, over loopback in the same run.
//!
//! The chassis side is the real thing: a server wrapped in the chassis middleware (trace context,
//! request id, deadline, metrics, limits) registered in a real registry, and a `ServiceClient`
//! that resolves it through registry discovery, balances, propagates context and records metrics.
//! Rounds alternate raw and chassis so that both see the same background noise; medians are kept.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use brigade_chassis::client::{self, ServiceClient};
use brigade_chassis::discovery::api::Registration;
use brigade_chassis::discovery::{Registrar, Resolver, Source};
use brigade_chassis::health::Health;
use brigade_chassis::http::Limits;
use brigade_chassis::local_socket;
use brigade_chassis::metrics::Metrics;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::load::{self, Figures};
use super::sink;

const BODY: &[u8] = br#"{"ok":true}"#;

/// Options of `brigade bench hop`.
#[derive(Debug, Clone, clap::Args)]
pub struct HopArgs {
    /// How long each measurement runs.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Rounds of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Concurrent connections to measure at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub connections: Vec<usize>,
    /// Measure only these paths (e.g. `chassis` alone, to profile it); ratios need `raw`.
    #[arg(long, value_delimiter = ',', value_parser = ["raw", "chassis", "server", "axum", "client", "raw-unix", "unix"])]
    pub paths: Vec<String>,
}

/// Starts a raw hyper HTTP/1.1 server answering every request with the same small JSON body.
async fn raw_server() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(raw_connection(stream));
        }
    });
    Ok(address)
}

/// [`raw_server`] on a Unix socket at `path`.
fn raw_unix_server(path: &std::path::Path) -> std::io::Result<()> {
    let listener = tokio::net::UnixListener::bind(path)?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(raw_connection(stream));
        }
    });
    Ok(())
}

/// Serves one connection of the raw server.
async fn raw_connection<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|_request: Request<Incoming>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(BODY)))
                .unwrap_or_default(),
        )
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Starts a registry; returns its URL.
async fn registry() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = brigade_registry::router(brigade_registry::Registry::new());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

/// Starts a server with the one route, served the way services serve; wrapped in the chassis
/// middleware when `chassis`, else plain axum (the framework's own share of the cost); also on
/// a Unix socket at `unix`, when given, as instances under `brigade up` are.
async fn axum_server(chassis: bool, unix: Option<&std::path::Path>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = Router::new().route(
        "/v1/ping",
        get(|| async { ([("content-type", "application/json")], BODY) }),
    );
    let app = if chassis {
        brigade_chassis::http::wrap(router, Metrics::new(), Limits::default())
    } else {
        router
    };
    if let Some(path) = unix {
        let unix = brigade_chassis::local_socket::bind(path)?;
        let app = app.clone();
        tokio::spawn(async move {
            let _ = axum::serve(unix, app).await;
        });
    }
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(address)
}

/// Registers `address` (and the Unix socket it is also served on, if any) as the only instance
/// of `service` and waits until it is registered.
async fn register(
    registry_url: &str,
    service: &str,
    address: SocketAddr,
    local_socket: Option<&std::path::Path>,
) {
    let health = Health::new();
    Registrar::new(registry_url).start(
        Registration {
            service: service.into(),
            instance_id: format!("{service}-1"),
            address: address.to_string(),
            local_socket: local_socket.and_then(|p| p.to_str()).map(str::to_owned),
            version: env!("CARGO_PKG_VERSION").into(),
            pid: Some(std::process::id()),
            started_at_ms: brigade_chassis::time::unix_ms(),
            ttl_ms: 10_000,
            metadata: Default::default(),
        },
        health.clone(),
    );
    while !health.is_registered() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One way of making the hop.
#[derive(Clone)]
enum Path {
    /// A raw hyper client to a fixed URI.
    Raw(Box<(Client<HttpConnector, Full<Bytes>>, http::Uri)>),
    /// A raw hyper client to a fixed URI whose address is served on a Unix socket.
    RawUnix(Box<(Client<local_socket::Connector, Full<Bytes>>, http::Uri)>),
    /// A chassis client, finding its destination through the registry.
    Chassis(ServiceClient),
}

impl Path {
    async fn call(&self) -> bool {
        match self {
            Path::Raw(raw) => answered(raw.0.get(raw.1.clone()).await).await,
            Path::RawUnix(raw) => answered(raw.0.get(raw.1.clone()).await).await,
            Path::Chassis(client) => client
                .call(http::Method::GET, "/v1/ping", None)
                .await
                .is_ok(),
        }
    }
}

/// Whether a raw call succeeded, its body read.
async fn answered<E>(result: Result<Response<Incoming>, E>) -> bool {
    match result {
        Ok(response) => {
            let ok = response.status().is_success();
            response.into_body().collect().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

/// A path a call can take: its name, what it measures, and how to make the call.
type NamedPath = (&'static str, &'static str, Path);

/// Runs the benchmark and prints its table.
pub async fn run(args: HopArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    anyhow::ensure!(
        args.connections.iter().all(|c| (1..=1024).contains(c)),
        "--connections takes numbers from 1 to 1024"
    );
    // The Unix sockets' directory, removed when the benchmark ends.
    let sockets = tempfile::Builder::new().prefix("brigade-hop").tempdir()?;
    let paths = hop_paths(&args.paths, sockets.path()).await?;
    // Warm every path: connections, discovery, allocator.
    for (_, _, path) in &paths {
        for _ in 0..200 {
            anyhow::ensure!(path.call().await, "the warm-up call failed");
        }
    }

    println!(
        "hop benchmark: {} round(s) of {:?} per figure, closed loop, medians; rounds interleave the paths",
        args.rounds, args.duration
    );
    for (name, description, _) in &paths {
        println!("  {name:<8} {description}");
    }
    println!(
        "{:>11}  {:<8} {:>10} {:>10} {:>10} {:>7} {:>9}  {:>14}",
        "connections",
        "path",
        "req/s",
        "p50",
        "p99",
        "errors",
        "CPU µs/req",
        "vs raw (thr/p50/p99   CPU/req); unix vs raw-unix"
    );
    for &connections in &args.connections {
        let medians = measure(&paths, connections, &args).await;
        print_rows(&paths, connections, &medians);
    }
    Ok(())
}

/// Starts the servers and a registry, and returns the paths named in `wanted` (all when empty);
/// the Unix sockets go in `sockets`.
async fn hop_paths(wanted: &[String], sockets: &std::path::Path) -> anyhow::Result<Vec<NamedPath>> {
    let raw_address = raw_server().await?;
    let chassis_address = axum_server(true, None).await?;
    let axum_address = axum_server(false, None).await?;
    let (raw_socket, chassis_socket) = (sockets.join("raw.sock"), sockets.join("chassis.sock"));
    raw_unix_server(&raw_socket)?;
    // Its own server: a resolver sends every call to an address with a socket through it.
    let unix_address = axum_server(true, Some(&chassis_socket)).await?;
    let registry_url = registry().await?;
    register(&registry_url, "bench-raw", raw_address, None).await;
    register(&registry_url, "bench-chassis", chassis_address, None).await;
    register(
        &registry_url,
        "bench-unix",
        unix_address,
        Some(&chassis_socket),
    )
    .await;

    let raw_client: Client<_, Full<Bytes>> = {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new()).build(connector)
    };
    let resolver = Resolver::new(Source::Registry(registry_url));
    let chassis_client = |service: &str| {
        ServiceClient::new(
            service,
            resolver.clone(),
            Metrics::new().client,
            client::Options::default(),
        )
    };
    let raw_path = |address: SocketAddr| -> anyhow::Result<Path> {
        let uri = format!("http://{address}/v1/ping").parse()?;
        Ok(Path::Raw(Box::new((raw_client.clone(), uri))))
    };
    // A raw client whose connector dials the raw server's socket for a made-up address.
    let raw_unix_path = {
        let address = SocketAddr::from(([127, 0, 0, 1], 9));
        let known = local_socket::LocalSockets::new();
        known.replace("bench-raw-unix", [(address, raw_socket.clone())]);
        let connector = local_socket::Connector::new(HttpConnector::new(), known);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Path::RawUnix(Box::new((
            client,
            format!("http://{address}/v1/ping").parse()?,
        )))
    };
    // The headline pair first, then the two halves that say where the cost is.
    let paths = [
        (
            "raw",
            "raw hyper client → raw hyper server",
            raw_path(raw_address)?,
        ),
        (
            "chassis",
            "chassis client (discovery, balancing, context, metrics) → chassis server",
            Path::Chassis(chassis_client("bench-chassis")),
        ),
        (
            "server",
            "raw hyper client → chassis server (middleware, axum)",
            raw_path(chassis_address)?,
        ),
        (
            "axum",
            "raw hyper client → plain axum server, no chassis (the framework's share)",
            raw_path(axum_address)?,
        ),
        (
            "client",
            "chassis client → raw hyper server",
            Path::Chassis(chassis_client("bench-raw")),
        ),
        (
            "raw-unix",
            "raw hyper client → raw hyper server, over a Unix socket",
            raw_unix_path,
        ),
        (
            "unix",
            "chassis → chassis through the instance's Unix socket (as under `brigade up`)",
            Path::Chassis(chassis_client("bench-unix")),
        ),
    ];
    Ok(paths
        .into_iter()
        .filter(|(name, _, _)| wanted.is_empty() || wanted.iter().any(|p| p == name))
        .collect())
}

/// Each path's median figures at `connections`, the rounds interleaving the paths, with the
/// median CPU time per request of this process (client and server both live here), in µs: on a
/// shared machine a steadier measure of the work per hop than the throughput.
async fn measure(paths: &[NamedPath], connections: usize, args: &HopArgs) -> Vec<(Figures, f64)> {
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); paths.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    for _ in 0..args.rounds {
        for (((_, _, path), runs), cpu) in paths.iter().zip(runs.iter_mut()).zip(cpu.iter_mut()) {
            let path = path.clone();
            let before = sink::cpu_seconds("self");
            let figures = load::closed_loop(connections, args.duration, move || {
                let path = path.clone();
                async move { path.call().await }
            })
            .await;
            if let (Some(before), Some(after)) = (before, sink::cpu_seconds("self")) {
                cpu.push((after - before) * 1e6 / figures.requests.max(1) as f64);
            }
            runs.push(figures);
        }
    }
    runs.iter()
        .zip(cpu)
        .map(|(r, mut cpu)| {
            cpu.sort_by(f64::total_cmp);
            let median = cpu.get(cpu.len() / 2).copied().unwrap_or_default();
            (load::median(r), median)
        })
        .collect()
}

/// The path a path is compared with: the raw one over the same transport.
fn baseline_of(name: &str) -> &'static str {
    if name == "unix" {
        "raw-unix"
    } else {
        "raw"
    }
}

/// One row per path, each compared with its raw baseline ([`baseline_of`]).
fn print_rows(paths: &[NamedPath], connections: usize, medians: &[(Figures, f64)]) {
    let figures_of = |wanted: &str| {
        paths
            .iter()
            .position(|(name, _, _)| *name == wanted)
            .map(|i| medians[i])
    };
    for ((name, _, _), (figures, cpu)) in paths.iter().zip(medians) {
        let baseline = figures_of(baseline_of(name)).filter(|_| !name.starts_with("raw"));
        let versus = if let Some((raw, raw_cpu)) = baseline {
            format!(
                "{:.2}x / {:.2}x / {:.2}x   {:.2}x",
                raw.per_second / figures.per_second.max(f64::MIN_POSITIVE),
                ratio(figures.p50, raw.p50),
                ratio(figures.p99, raw.p99),
                cpu / raw_cpu.max(f64::MIN_POSITIVE),
            )
        } else {
            String::new()
        };
        print_row(connections, name, figures, *cpu, &versus);
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn print_row(connections: usize, path: &str, f: &Figures, cpu: f64, versus: &str) {
    println!(
        "{:>11}  {:<8} {:>10.0} {:>10} {:>10} {:>7} {:>9.1}  {}",
        connections,
        path,
        f.per_second,
        format!("{:.0?}", f.p50),
        format!("{:.0?}", f.p99),
        f.errors,
        cpu,
        versus
    );
}
