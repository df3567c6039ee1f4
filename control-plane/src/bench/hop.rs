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
use brigade_chassis::metrics::Metrics;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::load::{self, Figures};

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
}

/// Starts a raw hyper HTTP/1.1 server answering every request with the same small JSON body.
async fn raw_server() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
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
            });
        }
    });
    Ok(address)
}

/// Starts a registry and a chassis server registered in it; returns the registry's URL.
async fn chassis_server() -> anyhow::Result<String> {
    let registry_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let registry_url = format!("http://{}", registry_listener.local_addr()?);
    let registry = crate::registry::Registry::new();
    let registry_router = crate::registry::router(registry);
    tokio::spawn(async move {
        let _ = axum::serve(registry_listener, registry_router).await;
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let metrics = Metrics::new();
    let app = brigade_chassis::http::wrap(
        Router::new().route(
            "/v1/ping",
            get(|| async { ([("content-type", "application/json")], BODY) }),
        ),
        metrics,
        Limits::default(),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let health = Health::new();
    Registrar::new(&registry_url).start(
        Registration {
            service: "bench".into(),
            instance_id: "bench-1".into(),
            address: address.to_string(),
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
    Ok(registry_url)
}

/// Runs the benchmark and prints its table.
pub async fn run(args: HopArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    anyhow::ensure!(
        args.connections.iter().all(|c| (1..=1024).contains(c)),
        "--connections takes numbers from 1 to 1024"
    );
    let raw_address = raw_server().await?;
    let registry_url = chassis_server().await?;

    let raw_client: Client<_, Full<Bytes>> = {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new()).build(connector)
    };
    let raw_uri: http::Uri = format!("http://{raw_address}/v1/ping").parse()?;
    let chassis = ServiceClient::new(
        "bench",
        Resolver::new(Source::Registry(registry_url)),
        Metrics::new().client,
        client::Options::default(),
    );
    // Warm both paths: connections, discovery, allocator.
    for _ in 0..200 {
        let _ = chassis.call(http::Method::GET, "/v1/ping", None).await?;
    }

    println!(
        "hop benchmark: {} round(s) of {:?} per figure, closed loop, medians",
        args.rounds, args.duration
    );
    println!(
        "{:>11}  {:<8} {:>10} {:>10} {:>10} {:>7}",
        "connections", "path", "req/s", "p50", "p99", "errors"
    );
    for &connections in &args.connections {
        let mut raw_runs = Vec::new();
        let mut chassis_runs = Vec::new();
        for _ in 0..args.rounds {
            let client = raw_client.clone();
            let uri = raw_uri.clone();
            raw_runs.push(
                load::closed_loop(connections, args.duration, move || {
                    let client = client.clone();
                    let uri = uri.clone();
                    async move {
                        match client.get(uri).await {
                            Ok(response) => {
                                let ok = response.status().is_success();
                                response.into_body().collect().await.is_ok() && ok
                            }
                            Err(_) => false,
                        }
                    }
                })
                .await,
            );
            let client = chassis.clone();
            chassis_runs.push(
                load::closed_loop(connections, args.duration, move || {
                    let client = client.clone();
                    async move {
                        client
                            .call(http::Method::GET, "/v1/ping", None)
                            .await
                            .is_ok()
                    }
                })
                .await,
            );
        }
        let raw = load::median(&raw_runs);
        let chassis = load::median(&chassis_runs);
        print_row(connections, "raw", &raw);
        print_row(connections, "chassis", &chassis);
        println!(
            "{:>11}  {:<8} {:>9.2}x {:>9.2}x {:>9.2}x   (chassis cost: throughput raw/chassis, latency chassis/raw)",
            connections,
            "ratio",
            raw.per_second / chassis.per_second.max(f64::MIN_POSITIVE),
            ratio(chassis.p50, raw.p50),
            ratio(chassis.p99, raw.p99),
        );
    }
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn print_row(connections: usize, path: &str, f: &Figures) {
    println!(
        "{:>11}  {:<8} {:>10.0} {:>10} {:>10} {:>7}",
        connections,
        path,
        f.per_second,
        format!("{:.0?}", f.p50),
        format!("{:.0?}", f.p99),
        f.errors
    );
}
