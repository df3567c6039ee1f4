//! `brigade bench degradation` and `brigade bench shedding`: what the resilience machinery buys,
//! measured side by side in one run.
//!
//! - **degradation**: the product page (`/api/v1/products/{id}/page`: catalog + inventory +
//!   recommendations) under open-loop load with recommendations healthy, slowed to 2 s (fault
//!   injection), and dead (every process killed as soon as it restarts), one phase after the
//!   other in one system. A failure stays local when the three rows look alike.
//! - **shedding**: one catalog instance offered about twice what it can serve, open loop, each
//!   request willing to wait `--deadline`; with load shedding on (the default limit) and off.
//!   Goodput is what matters: answers that came back in time, per second. Three ways: a fixed
//!   limit, the adaptive limit (`--adaptive-concurrency`), and no shedding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::context::DEADLINE_HEADER;
use brigade_chassis::shedding::LimitMode;
use http::Request;
use tokio::time::Instant;

use super::fixtures;
use super::load::{self, Figures};
use super::up::system;
use brigade_operator::chaos::faults::Change;
use brigade_operator::chaos::keep_dead::KeepDead;
use brigade_operator::chaos::operator::Operator;
use brigade_operator::harness::Running;
use brigade_operator::output::human_duration;

/// Options of `brigade bench degradation`.
#[derive(Debug, Clone, clap::Args)]
pub struct DegradationBenchArgs {
    /// Product pages requested per second, in every phase.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long each phase lasts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The latency added to recommendations in the "slow" phase.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub slow: Duration,
}

/// Options of `brigade bench shedding`.
#[derive(Debug, Clone, clap::Args)]
pub struct SheddingBenchArgs {
    /// How much more than its measured capacity the catalog is offered.
    #[arg(long, default_value_t = 2.0)]
    pub overload: f64,
    /// How long the overload lasts, each way.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// How long a client waits for an answer (sent as its deadline); later answers are useless.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub deadline: Duration,
    /// The concurrency limit when shedding is on (the adaptive limit's ceiling).
    #[arg(long, default_value_t = brigade_chassis::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS)]
    pub limit: usize,
}

/// The registered addresses of `service`.
async fn addresses(control_url: &str, service: &str) -> anyhow::Result<Vec<String>> {
    let view = brigade_operator::status::fetch(control_url).await?;
    Ok(view
        .instances_of(service)
        .filter_map(|i| i.address.clone())
        .collect())
}

/// One phase's figures.
struct Phase {
    name: &'static str,
    figures: Figures,
    /// Pages answered without recommendations.
    degraded: u64,
}

/// Runs `brigade bench degradation` and prints its table.
pub async fn degradation(args: DegradationBenchArgs) -> anyhow::Result<()> {
    let count = load::arrivals(args.rate, args.duration, "pages")?;
    let dir = tempfile::tempdir()?;
    let mut running = system(dir.path(), |service| {
        let mut env = vec![("BRIGADE_LOG".to_owned(), "warn".to_owned())];
        if service == "recommendations" {
            env.push(("BRIGADE_CHAOS".to_owned(), "true".to_owned()));
        }
        env
    })
    .await?;
    let result = degradation_phases(&running, &args, count).await;
    let _ = running.stop().await;
    let phases = result?;
    println!(
        "product page under open-loop load: {count} pages at {} per second per phase (latency \
         from the intended start), through the gateway",
        args.rate
    );
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "recommendations", "pages/s", "p50", "p99", "errors", "degraded"
    );
    let baseline = phases[0].figures;
    for phase in &phases {
        println!(
            "{:<24} {} {:>8} {:>9.0}%   p50 ×{:.2}, p99 ×{:.2}",
            phase.name,
            phase.figures.rate_and_latency_columns(),
            phase.figures.errors,
            100.0 * phase.degraded as f64 / phase.figures.requests.max(1) as f64,
            load::ratio(phase.figures.p50, baseline.p50),
            load::ratio(phase.figures.p99, baseline.p99),
        );
    }
    Ok(())
}

async fn degradation_phases(
    running: &Running,
    args: &DegradationBenchArgs,
    count: usize,
) -> anyhow::Result<Vec<Phase>> {
    let client = PlainClient::new(Duration::from_secs(10));
    let gateway = running.gateway_url.clone();
    let ids: Vec<String> = fixtures::listed_products(&client, &gateway, 20)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let ids = Arc::new(ids);
    let control = running.control_url.as_str();

    let mut phases = Vec::new();
    phases.push(page_load("healthy", &client, &gateway, &ids, args.rate, count).await);

    // Clearing resumes through the control port, which demands the operator credential.
    let operator = Operator::new(control).authenticated(running.operator_credential()?);
    operator
        .request_fault("recommendations", None, Change::Latency(args.slow))
        .await?;
    let name = "slow (+latency)";
    phases.push(page_load(name, &client, &gateway, &ids, args.rate, count).await);
    operator.clear(Some("recommendations")).await?;

    let dead = KeepDead::start(control, "recommendations").await?;
    phases.push(page_load("dead (killed)", &client, &gateway, &ids, args.rate, count).await);
    dead.stop().await;
    Ok(phases)
}

async fn page_load(
    name: &'static str,
    client: &PlainClient,
    gateway: &str,
    ids: &Arc<Vec<String>>,
    rate: f64,
    count: usize,
) -> Phase {
    let degraded = Arc::new(AtomicU64::new(0));
    let (client, gateway, ids, counter) = (
        client.clone(),
        gateway.to_owned(),
        ids.clone(),
        degraded.clone(),
    );
    let figures = load::open_loop(rate, count, move |i| {
        let url = format!("{gateway}/api/v1/products/{}/page", ids[i % ids.len()]);
        let (client, counter) = (client.clone(), counter.clone());
        async move {
            match client.get_json::<serde_json::Value>(&url).await {
                Ok(page) => {
                    if page["recommendations"]["status"] != "available" {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
    Phase {
        name,
        figures,
        degraded: degraded.load(Ordering::Relaxed),
    }
}

/// One side of the shedding comparison.
struct Overload {
    name: String,
    offered: f64,
    /// 200s that came back within the deadline, per second.
    goodput: f64,
    served_late: u64,
    shed: u64,
    failed: u64,
    figures: Figures,
}

/// Runs `brigade bench shedding` and prints its table.
pub async fn shedding(args: SheddingBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.overload >= 1.0 && args.overload <= 20.0,
        "--overload takes a factor from 1 to 20"
    );
    anyhow::ensure!(args.limit >= 1, "--limit must be at least 1");
    anyhow::ensure!(
        !args.deadline.is_zero() && args.deadline <= Duration::from_secs(60),
        "--deadline takes a duration up to 60s"
    );
    let mut sides = Vec::new();
    let mut capacity = None;
    for mode in [
        LimitMode::Fixed(args.limit),
        LimitMode::Adaptive(args.limit),
        LimitMode::Off,
    ] {
        let dir = tempfile::tempdir()?;
        let mut running = system(dir.path(), |service| {
            let mut env = vec![("BRIGADE_LOG".to_owned(), "warn".to_owned())];
            if service == "catalog" {
                let (limit, adaptive) = match mode {
                    LimitMode::Off => (0, false),
                    LimitMode::Fixed(limit) => (limit, false),
                    LimitMode::Adaptive(limit) => (limit, true),
                };
                env.push((
                    "BRIGADE_MAX_CONCURRENT_REQUESTS".to_owned(),
                    limit.to_string(),
                ));
                env.push((
                    "BRIGADE_ADAPTIVE_CONCURRENCY".to_owned(),
                    adaptive.to_string(),
                ));
            }
            env
        })
        .await?;
        let result = overload(&running, &args, mode, &mut capacity).await;
        let _ = running.stop().await;
        sides.push(result?);
    }
    println!(
        "one catalog instance offered {:.1}× its capacity for {}, open loop; each request waits \
         at most {} (its deadline)",
        args.overload,
        human_duration(args.duration),
        human_duration(args.deadline)
    );
    println!(
        "{:<22} {:>9} {:>10} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "catalog", "offered/s", "goodput/s", "late", "shed", "failed", "p50", "p99"
    );
    for side in &sides {
        println!(
            "{:<22} {:>9.0} {:>10.1} {:>8} {:>8} {:>8} {:>10} {:>10}",
            side.name,
            side.offered,
            side.goodput,
            side.served_late,
            side.shed,
            side.failed,
            human_duration(side.figures.p50),
            human_duration(side.figures.p99),
        );
    }
    if let [fixed, adaptive, off] = &sides[..] {
        println!(
            "goodput of the fixed limit ×{:.2}, of the adaptive limit ×{:.2}, of no shedding",
            fixed.goodput / off.goodput.max(1e-9),
            adaptive.goodput / off.goodput.max(1e-9)
        );
    }
    Ok(())
}

/// The catalog query every request makes: the heaviest page the API allows.
const CATALOG_QUERY: &str = "/v1/products?page_size=100";

async fn overload(
    running: &Running,
    args: &SheddingBenchArgs,
    mode: LimitMode,
    capacity: &mut Option<f64>,
) -> anyhow::Result<Overload> {
    let address = addresses(&running.control_url, "catalog")
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no catalog instance registered"))?;
    let url = format!("http://{address}{CATALOG_QUERY}");
    let client = PlainClient::new(args.deadline);
    // The catalog takes reads from its callers and operators: the benchmark reads as the
    // operator (a token outlives a run).
    let operator = running.operator_identity("catalog").await?;
    // Capacity is measured once, on the first system, closed loop: what it serves flat out.
    let capacity = match capacity {
        Some(capacity) => *capacity,
        None => {
            let (client, url, operator) = (client.clone(), url.clone(), operator.clone());
            let flat_out = load::closed_loop(16, Duration::from_secs(5), move || {
                let (client, url) = (client.clone(), url.clone());
                let request = Request::get(&url)
                    .header(brigade_chassis::identity::HEADER, &operator)
                    .body(Default::default());
                async move {
                    let Ok(request) = request else {
                        return false;
                    };
                    client
                        .send_request(request)
                        .await
                        .is_ok_and(|a| a.status == 200)
                }
            })
            .await;
            *capacity = Some(flat_out.per_second);
            flat_out.per_second
        }
    };
    let offered = (capacity * args.overload).max(1.0);
    let count = (offered * args.duration.as_secs_f64()).round() as usize;
    let on_time = Arc::new(AtomicU64::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let deadline = args.deadline;
    let counters = (on_time.clone(), late.clone(), shed.clone());
    let started = Instant::now();
    let figures = load::open_loop(offered, count, move |_| {
        let (client, url, operator) = (client.clone(), url.clone(), operator.clone());
        let (on_time, late, shed) = counters.clone();
        async move {
            let due = Instant::now();
            let Ok(request) = Request::get(&url)
                .header(DEADLINE_HEADER, deadline.as_millis().to_string())
                .header(brigade_chassis::identity::HEADER, &operator)
                .body(Default::default())
            else {
                return false;
            };
            match client.send_request(request).await {
                Ok(answer) if answer.status == 200 && due.elapsed() <= deadline => {
                    on_time.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Ok(answer) if answer.status == 200 => {
                    late.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Ok(answer) if answer.status == 503 => {
                    shed.fetch_add(1, Ordering::Relaxed);
                    false
                }
                _ => false,
            }
        }
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let (on_time, late, shed) = (
        on_time.load(Ordering::Relaxed),
        late.load(Ordering::Relaxed),
        shed.load(Ordering::Relaxed),
    );
    Ok(Overload {
        name: match mode {
            LimitMode::Off => "no shedding".to_owned(),
            LimitMode::Fixed(limit) => format!("fixed limit {limit}"),
            LimitMode::Adaptive(limit) => format!("adaptive, up to {limit}"),
        },
        offered,
        goodput: on_time as f64 / elapsed,
        served_late: late,
        shed,
        failed: figures.requests - on_time - late - shed,
        figures,
    })
}
