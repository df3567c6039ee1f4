//! `brigade bench telemetry`: what tracing costs. The hop benchmark and the checkout benchmark,
//! each with tracing off, on with every request sampled and exported to a live receiver, and on
//! with the receiver down (the endpoint a closed port), side by side in one run, the rounds
//! interleaving the modes; medians, and ratios to tracing off.
//!
//! - The hop: a raw client calls `front`, a server wrapped in the chassis middleware, whose
//!   handler calls `back` through a `ServiceClient`: a server span in each, a client span between
//!   them, closed loop. The live receiver is an OTLP/HTTP endpoint that decodes and counts what
//!   it is sent, as a collector would: a process of its own by default (`--receiver`), whose CPU
//!   is reported apart from the services' ([`super::sink`]), since a deployment's collector
//!   runs apart from its services.
//! - The checkout: a whole system per measurement (`brigade up`, fresh data), open loop through
//!   the gateway; live means the control plane's own receiver, as under `brigade up`. A fourth
//!   mode, `on+logs`, keeps the services' default log filter (`info`: every request's `served`
//!   line, JSON through the supervisor into the control plane's log store), where the others run
//!   them at `warn`: the price of `brigade logs --trace` seeing every service.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::client::{self, ServiceClient};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::http::{Limits, Protection};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::telemetry::batch::{DropLabels, SpanCounts, EXPORT_FAILED, QUEUE_FULL};
use brigade_chassis::telemetry::export::{Exporter, Origin, SamplerKind, TracingArgs};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::load::{self, Figures};
use super::sink::{self, Sink};

/// Options of `brigade bench telemetry`.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryBenchArgs {
    /// Rounds of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// How long each hop measurement runs.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub hop_duration: Duration,
    /// Concurrent connections of the hop measurements.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Checkouts started per second (open loop).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long checkouts keep arriving in each measurement.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub checkout_duration: Duration,
    /// Where the hop's live receiver runs: a process of its own (as a collector would; its CPU
    /// is reported apart), or inside the benchmark's process, sharing its runtime.
    #[arg(long, default_value = "process", value_parser = ["process", "in-process"])]
    pub receiver: String,
    /// Which benchmarks to run.
    #[arg(long, value_delimiter = ',', default_value = "hop,checkout", value_parser = ["hop", "checkout"])]
    pub only: Vec<String>,
    /// Which tracing modes the hop measures: one alone suits a profiler (callgrind's
    /// instructions per request are its total over two durations' difference in requests).
    #[arg(long, value_delimiter = ',', default_value = "off,on,down", value_parser = ["off", "on", "down"])]
    pub hop_modes: Vec<String>,
}

/// How an instance is traced in one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    On,
    Down,
    /// On, with the services' default log filter (checkout only).
    OnWithLogs,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::Down => "down",
            Mode::OnWithLogs => "on+logs",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Mode::Off => "no OTLP endpoint: no spans",
            Mode::On => "every request sampled, exported to a live receiver",
            Mode::Down => "every request sampled, the receiver's port closed",
            Mode::OnWithLogs => "as on, with every request's served line logged (info)",
        }
    }
}

/// Runs the benchmark and prints its tables.
pub async fn run(args: TelemetryBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    anyhow::ensure!(
        (1..=1024).contains(&args.connections),
        "--connections takes a number from 1 to 1024"
    );
    let checkouts = load::arrivals(args.rate, args.checkout_duration, "checkouts")?;
    println!(
        "telemetry benchmark: {} round(s) per figure, rounds interleave the modes, medians",
        args.rounds
    );
    for mode in [Mode::Off, Mode::On, Mode::Down, Mode::OnWithLogs] {
        println!("  {:<8} {}", mode.name(), mode.description());
    }
    if args.only.iter().any(|b| b == "hop") {
        hop(&args).await?;
    }
    if args.only.iter().any(|b| b == "checkout") {
        checkout(&args, checkouts).await?;
    }
    Ok(())
}

/// A closed port: bound, then released, so nothing listens there.
async fn closed_port() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{address}"))
}

/// A tracer exporting to `endpoint` (every span sampled), as the services' flags would make.
fn exporter(endpoint: &str, service: &str) -> anyhow::Result<Exporter> {
    let args = TracingArgs {
        otlp_endpoint: Some(endpoint.to_owned()),
        otlp_traces_endpoint: None,
        traces_sampler: SamplerKind::ParentBasedAlwaysOn,
        traces_sampler_arg: 1.0,
    };
    let origin = Origin {
        service,
        instance_id: service,
        version: env!("CARGO_PKG_VERSION"),
    };
    Exporter::start(&args, origin)?.ok_or_else(|| anyhow::anyhow!("no exporter for {endpoint}"))
}

/// Serves `router` in the chassis middleware, traced by `exporter` when there is one.
async fn serve(router: Router, exporter: Option<&Exporter>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = brigade_chassis::http::wrap_traced(
        router,
        Metrics::new(),
        Limits::default(),
        Protection {
            max_concurrent_requests: 0,
            ..Protection::default()
        },
        exporter.map(|e| e.tracer().clone()),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(address)
}

/// `front` → `back`, both exporting to `endpoint` when there is one; returns front's URL and
/// the exporters to stop.
async fn traced_pair(endpoint: Option<&str>) -> anyhow::Result<(http::Uri, Vec<Exporter>)> {
    let (front_exporter, back_exporter) = match endpoint {
        Some(endpoint) => (
            Some(exporter(endpoint, "front")?),
            Some(exporter(endpoint, "back")?),
        ),
        None => (None, None),
    };
    let back = serve(
        Router::new().route(
            "/v1/ping",
            get(|| async { ([("content-type", "application/json")], r#"{"ok":true}"#) }),
        ),
        back_exporter.as_ref(),
    )
    .await?;
    let resolver = Resolver::new(Source::Static(
        [("back".to_owned(), vec![back])].into_iter().collect(),
    ));
    let client = ServiceClient::new(
        "back",
        resolver,
        Metrics::new().client,
        client::Options::default(),
    );
    let front = serve(
        Router::new().route(
            "/v1/hop",
            get(move || {
                let client = client.clone();
                async move {
                    match client.call(http::Method::GET, "/v1/ping", None).await {
                        Ok(_) => StatusCode::OK,
                        Err(_) => StatusCode::BAD_GATEWAY,
                    }
                }
            }),
        ),
        front_exporter.as_ref(),
    )
    .await?;
    let uri = format!("http://{front}/v1/hop").parse()?;
    Ok((
        uri,
        front_exporter.into_iter().chain(back_exporter).collect(),
    ))
}

async fn hop(args: &TelemetryBenchArgs) -> anyhow::Result<()> {
    let sink = match args.receiver.as_str() {
        "in-process" => Sink::start_in_process().await?,
        _ => Sink::start().await?,
    };
    let down = closed_port().await?;
    let modes = [
        (Mode::Off, None),
        (Mode::On, Some(sink.url.as_str())),
        (Mode::Down, Some(down.as_str())),
    ]
    .into_iter()
    .filter(|(mode, _)| args.hop_modes.iter().any(|m| m == mode.name()));
    let raw_client: Client<_, Full<Bytes>> = {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new()).build(connector)
    };
    let mut pairs = Vec::new();
    let mut exporters = Vec::new();
    for (mode, endpoint) in modes {
        let (uri, pair_exporters) = traced_pair(endpoint).await?;
        exporters.extend(pair_exporters.into_iter().map(|e| (mode, e)));
        pairs.push((mode, uri));
    }
    let call = move |uri: http::Uri| {
        let client = raw_client.clone();
        async move {
            match client.get(uri).await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.into_body().collect().await.is_ok() && ok
                }
                Err(_) => false,
            }
        }
    };
    for (_, uri) in &pairs {
        for _ in 0..200 {
            anyhow::ensure!(call(uri.clone()).await, "the warm-up hop failed");
        }
    }
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); pairs.len()];
    let mut cpu: Vec<Vec<CpuPerRequest>> = vec![Vec::new(); pairs.len()];
    for _ in 0..args.rounds {
        for (((_, uri), runs), cpu) in pairs.iter().zip(runs.iter_mut()).zip(cpu.iter_mut()) {
            let uri = uri.clone();
            let call = call.clone();
            let before = (sink::cpu_seconds("self"), sink.cpu_seconds());
            let figures = load::closed_loop(args.connections, args.hop_duration, move || {
                call(uri.clone())
            })
            .await;
            let after = (sink::cpu_seconds("self"), sink.cpu_seconds());
            cpu.push(CpuPerRequest::between(before, after, figures.requests));
            runs.push(figures);
        }
    }
    let mut spans = Vec::new();
    for (mode, exporter) in exporters {
        let counts = exporter.counts().clone();
        exporter.shutdown().await;
        spans.push((mode, counts));
    }
    println!();
    println!(
        "hop: raw client → front (chassis server) → chassis client → back (chassis server), \
         {} connections, closed loop, {} round(s) × {:?}",
        args.connections, args.rounds, args.hop_duration
    );
    let medians: Vec<(Mode, Figures)> = pairs
        .iter()
        .zip(&runs)
        .map(|((mode, _), runs)| (*mode, load::median(runs)))
        .collect();
    print_table("req/s", &medians);
    print_cpu(&pairs.iter().map(|(m, _)| *m).collect::<Vec<_>>(), &cpu);
    print_span_counts(&spans);
    println!(
        "  the live receiver ({}) decoded {} spans",
        args.receiver,
        sink.spans().await?
    );
    Ok(())
}

/// What the services' exporters did with their spans, per mode: under normal load none is
/// dropped while the receiver is up.
fn print_span_counts(counts: &[(Mode, SpanCounts)]) {
    let dropped = |c: &SpanCounts, reason| c.dropped.get_or_create(&DropLabels { reason }).get();
    for mode in [Mode::On, Mode::Down] {
        let of_mode = counts.iter().filter(|(m, _)| *m == mode).map(|(_, c)| c);
        let (exported, queue_full, failed) = of_mode.fold((0, 0, 0), |(e, q, f), c| {
            (
                e + c.exported.get(),
                q + dropped(c, QUEUE_FULL),
                f + dropped(c, EXPORT_FAILED),
            )
        });
        if exported + queue_full + failed > 0 {
            println!(
                "  {:<8} spans exported {exported}, dropped {queue_full} (queue full) + {failed} \
                 (export failed)",
                mode.name()
            );
        }
    }
}

/// CPU time per request of one measurement, in microseconds: the benchmark's process (load
/// generator, `front` and `back`, and the receiver when it runs in process) and the receiver's
/// own process.
#[derive(Debug, Clone, Copy, Default)]
struct CpuPerRequest {
    process: f64,
    receiver: f64,
}

impl CpuPerRequest {
    fn between(
        before: (Option<f64>, Option<f64>),
        after: (Option<f64>, Option<f64>),
        requests: u64,
    ) -> CpuPerRequest {
        let per_request = |before: Option<f64>, after: Option<f64>| match (before, after) {
            (Some(b), Some(a)) if requests > 0 => (a - b) * 1e6 / requests as f64,
            _ => 0.0,
        };
        CpuPerRequest {
            process: per_request(before.0, after.0),
            receiver: per_request(before.1, after.1),
        }
    }
}

/// The medians of each mode's CPU per request, and the throughput per core it allows against
/// tracing off: what tracing costs the services wherever the receiver runs.
fn print_cpu(modes: &[Mode], runs: &[Vec<CpuPerRequest>]) {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or_default()
    };
    let medians: Vec<CpuPerRequest> = runs
        .iter()
        .map(|runs| CpuPerRequest {
            process: median(runs.iter().map(|c| c.process).collect()),
            receiver: median(runs.iter().map(|c| c.receiver).collect()),
        })
        .collect();
    println!(
        "  {:<8} {:>22} {:>22}  requests per CPU-second vs off",
        "tracing", "CPU µs/req (services)", "CPU µs/req (receiver)"
    );
    let off = modes
        .iter()
        .position(|m| *m == Mode::Off)
        .map(|i| medians[i].process);
    for (mode, cpu) in modes.iter().zip(&medians) {
        let versus = match off.filter(|_| *mode != Mode::Off) {
            Some(off) => format!("{:.3}x", off / cpu.process.max(f64::MIN_POSITIVE)),
            None => String::new(),
        };
        println!(
            "  {:<8} {:>22.1} {:>22.1}  {}",
            mode.name(),
            cpu.process,
            cpu.receiver,
            versus
        );
    }
}

/// The figures of each mode, with ratios to tracing off.
fn print_table(rate_unit: &str, medians: &[(Mode, Figures)]) {
    println!(
        "  {:<8} {:>10} {:>10} {:>10} {:>7}  vs off (throughput / p50 / p99)",
        "tracing", rate_unit, "p50", "p99", "errors"
    );
    let off = medians
        .iter()
        .find(|(m, _)| *m == Mode::Off)
        .map(|(_, f)| *f);
    for (mode, figures) in medians {
        let versus = match off.filter(|_| *mode != Mode::Off) {
            Some(off) => format!(
                "{:.3}x / {:.2}x / {:.2}x",
                figures.per_second / off.per_second.max(f64::MIN_POSITIVE),
                load::ratio(figures.p50, off.p50),
                load::ratio(figures.p99, off.p99),
            ),
            None => String::new(),
        };
        println!(
            "  {:<8} {:>10.1} {:>10} {:>10} {:>7}  {}",
            mode.name(),
            figures.per_second,
            format!("{:.1?}", figures.p50),
            format!("{:.1?}", figures.p99),
            figures.errors,
            versus
        );
    }
}

async fn checkout(args: &TelemetryBenchArgs, count: usize) -> anyhow::Result<()> {
    let down = closed_port().await?;
    let modes = [Mode::Off, Mode::On, Mode::Down, Mode::OnWithLogs];
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); modes.len()];
    for round in 0..args.rounds {
        for (mode, runs) in modes.iter().zip(runs.iter_mut()) {
            let figures = checkout_once(*mode, &down, args.rate, count)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("round {}, tracing {}: {e:#}", round + 1, mode.name())
                })?;
            runs.push(figures);
        }
    }
    println!();
    println!(
        "checkout: {count} checkouts at {}/s per measurement, open loop through the gateway, \
         a fresh `brigade up` system (SQLite) each, {} round(s)",
        args.rate, args.rounds
    );
    let medians: Vec<(Mode, Figures)> = modes
        .iter()
        .zip(&runs)
        .map(|(mode, runs)| (*mode, load::median(runs)))
        .collect();
    print_table("done/s", &medians);
    Ok(())
}

/// One checkout measurement on a system of its own, traced as `mode` says.
async fn checkout_once(mode: Mode, down: &str, rate: f64, count: usize) -> anyhow::Result<Figures> {
    let (dir, key, jwks_path) = super::checkout::trusted_key()?;
    let mut running = super::up::system(dir.path(), |_service| {
        let mut env = vec![(
            "BRIGADE_JWKS_FILE".to_owned(),
            jwks_path.display().to_string(),
        )];
        if mode != Mode::OnWithLogs {
            env.push(("BRIGADE_LOG".to_owned(), "warn".to_owned()));
        }
        match mode {
            // Empty means unset (the OpenTelemetry rule): no exporter.
            Mode::Off => env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), String::new())),
            Mode::Down => env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), down.to_owned())),
            // `brigade up`'s own: the control plane's receiver.
            Mode::On | Mode::OnWithLogs => {}
        }
        env
    })
    .await?;
    let result = async {
        let client = PlainClient::new(Duration::from_secs(30));
        let products = super::checkout::stocked_products(&client, &running).await?;
        let tokens =
            super::checkout::filled_carts(&client, &running.gateway_url, &key, &products, count)
                .await?;
        Ok(
            super::checkout::checkouts(client, running.gateway_url.clone(), tokens, rate, count)
                .await,
        )
    }
    .await;
    let _ = running.stop().await;
    result
}
