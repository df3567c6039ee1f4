//! `brigade bench events`: events per second end to end and publish-to-applied latency, on the
//! embedded transport and on NATS JetStream side by side in one run.
//!
//! Each transport gets a producer and a consumer served exactly as services serve them (the
//! chassis' `serve`, each with its own SQLite store; the consumer finds the producer through a
//! static peer list). The producer commits one event per transaction, as a service does with its
//! change, and wakes its relay. The consumer applies each event in a transaction that also writes
//! a row, as a service's effect would, and records how long after its commit it was applied.
//!
//! Two phases per transport: a fixed arrival rate (open loop) for latency, then a burst committed
//! as fast as the store takes it, for throughput (events per second from the first commit until
//! the last event is applied).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use brigade_chassis::db::{Db, Migration, Query, Tx};
use brigade_chassis::events::{
    self, Envelope, Event, Handle, Handled, HandlerError, Outbox, Subscription,
};
use brigade_chassis::service::{self, Dependencies, ServiceArgs, ServiceInfo};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Options of `brigade bench events`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsBenchArgs {
    /// Events committed per second in the latency phase.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// How long events keep arriving in the latency phase.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Events committed at once in the throughput phase.
    #[arg(long, default_value_t = 5000)]
    pub burst: u32,
    /// The NATS server for the JetStream transport.
    #[arg(
        long,
        env = "BRIGADE_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats: String,
    /// Which transports to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub transport: Transports,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transports {
    Embedded,
    Nats,
    Both,
}

const PRODUCER: ServiceInfo = ServiceInfo {
    name: "bench-producer",
    version: env!("CARGO_PKG_VERSION"),
    depends_on: Dependencies {
        publishes: true,
        read_by: &["bench-consumer"],
        ..Dependencies::NONE
    },
};
const CONSUMER: ServiceInfo = ServiceInfo {
    name: "bench-consumer",
    version: env!("CARGO_PKG_VERSION"),
    depends_on: Dependencies {
        consumes: &["bench-producer"],
        ..Dependencies::NONE
    },
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    key: String,
    n: u64,
}

impl Event for Measured {
    const SOURCE: &'static str = "bench-producer";
    const NAME: &'static str = "Measured";
    const VERSION: u32 = 1;
    fn subject(&self) -> String {
        self.key.clone()
    }
}

const EFFECTS: Migration = Migration {
    version: 1,
    name: "bench effects",
    sqlite: "CREATE TABLE effects (key TEXT NOT NULL, n INTEGER NOT NULL)",
    postgres: "CREATE TABLE effects (key TEXT NOT NULL, n BIGINT NOT NULL)",
};

/// What the consumer has applied: publish-to-applied latencies (µs) and a count.
struct Applied {
    latencies: Histogram<u64>,
    count: u64,
    last_at: Option<Instant>,
}

impl Applied {
    fn new() -> Applied {
        Applied {
            latencies: Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            count: 0,
            last_at: None,
        }
    }
}

struct Record(Arc<Mutex<Applied>>);

impl Handle<Measured> for Record {
    async fn handle(&self, tx: &mut Tx, event: Measured, envelope: &Envelope) -> Handled {
        Query::new("INSERT INTO effects (key, n) VALUES (?, ?)")
            .bind(&event.key)
            .bind(event.n as i64)
            .execute(tx.conn())
            .await
            .map_err(HandlerError::failed)?;
        let age = envelope.age().unwrap_or_default();
        if let Ok(mut applied) = self.0.lock() {
            let _ = applied.latencies.record((age.as_micros() as u64).max(1));
            applied.count += 1;
            applied.last_at = Some(Instant::now());
        }
        Ok(())
    }
}

/// A service served in this process until `stop` is sent.
struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), service::Error>>,
    address: std::net::SocketAddr,
}

impl Served {
    async fn shut_down(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn args(flags: &[String]) -> anyhow::Result<ServiceArgs> {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        service: ServiceArgs,
    }
    // In-process instances of no system: an explicit development identity (the consumer names
    // itself to the producer's feed), never none.
    let dev = ["--identity".to_owned(), "dev".to_owned()];
    let argv = std::iter::once("bench".to_owned())
        .chain(dev)
        .chain(flags.iter().cloned());
    Ok(<Wrapper as clap::Parser>::try_parse_from(argv)?.service)
}

async fn serve<B, F>(info: ServiceInfo, flags: &[String], build: B) -> anyhow::Result<Served>
where
    B: FnOnce(service::Context) -> F + Send + 'static,
    F: std::future::Future<Output = Result<Router, brigade_chassis::BoxError>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let args = args(flags)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service::serve(info, args, listener, build, async move {
        let _ = stopped.await;
        brigade_chassis::shutdown::Reason::Requested
    }));
    let client = brigade_chassis::client::plain::PlainClient::new(Duration::from_secs(1));
    let url = format!("http://{address}/readyz");
    for _ in 0..500 {
        anyhow::ensure!(!task.is_finished(), "{} stopped while starting", info.name);
        if let Ok(answer) = client.send(http::Method::GET, &url, None).await {
            if answer.status.is_success() {
                return Ok(Served {
                    stop,
                    task,
                    address,
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("{} did not become ready in 10 s", info.name)
}

/// One transport's figures.
struct Figures {
    transport: &'static str,
    sent: u64,
    p50: Duration,
    p99: Duration,
    burst: u32,
    burst_per_second: f64,
    burst_p99: Duration,
}

/// `brigade bench events`.
pub async fn run(args: EventsBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0.0 && args.rate <= 100_000.0,
        "--rate must be between 0 and 100000 events per second"
    );
    anyhow::ensure!(args.burst >= 1, "--burst must be at least 1");
    let mut all = Vec::new();
    if args.transport != Transports::Nats {
        all.push(measure(&args, None).await?);
    }
    if args.transport != Transports::Embedded {
        events::Transport::parse(&args.nats).map_err(|e| anyhow::anyhow!("--nats: {e}"))?;
        all.push(measure(&args, Some(&args.nats)).await?);
    }
    println!(
        "\nevents, producer commit → consumer applied (SQLite stores, one event per transaction)"
    );
    println!(
        "{:<10} {:>18} {:>10} {:>10}   {:>8} {:>10} {:>10}",
        "transport", "arrivals", "p50", "p99", "burst", "events/s", "p99"
    );
    for f in &all {
        println!(
            "{:<10} {:>18} {:>10} {:>10}   {:>8} {:>10.0} {:>10}",
            f.transport,
            format!("{} at {:.0}/s", f.sent, args.rate),
            fmt(f.p50),
            fmt(f.p99),
            f.burst,
            f.burst_per_second,
            fmt(f.burst_p99)
        );
    }
    if let [embedded, nats] = &all[..] {
        println!(
            "nats/embedded: p50 ×{:.2}, p99 ×{:.2}, burst events/s ×{:.2}",
            ratio(nats.p50, embedded.p50),
            ratio(nats.p99, embedded.p99),
            nats.burst_per_second / embedded.burst_per_second.max(f64::MIN_POSITIVE)
        );
    }
    Ok(())
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE)
}

async fn measure(args: &EventsBenchArgs, nats: Option<&str>) -> anyhow::Result<Figures> {
    let transport = if nats.is_some() { "nats" } else { "embedded" };
    eprintln!("measuring the {transport} transport…");
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let flags = transport_flags(nats);
    let (producer, db, outbox) = start_producer(&flags, dir.path()).await?;
    let applied = Arc::new(Mutex::new(Applied::new()));
    let consumer = start_consumer(flags, dir.path(), &producer, applied.clone()).await?;

    let count = (args.rate * args.duration.as_secs_f64()).round().max(1.0) as u64;
    let (p50, p99) = measure_latency(&db, &outbox, &applied, args.rate, count).await?;
    let (burst_per_second, burst_p99) = measure_burst(&db, &outbox, &applied, args.burst).await?;

    consumer.shut_down().await;
    producer.shut_down().await;
    Ok(Figures {
        transport,
        sent: count,
        p50,
        p99,
        burst: args.burst,
        burst_per_second,
        burst_p99,
    })
}

/// The flags that choose the transport (a fresh namespace on NATS), and quiet logs.
fn transport_flags(nats: Option<&str>) -> Vec<String> {
    let mut flags = vec!["--log".to_owned(), "warn".to_owned()];
    match nats {
        Some(url) => flags.extend([
            "--events".to_owned(),
            url.to_owned(),
            "--events-namespace".to_owned(),
            format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        ]),
        None => flags.extend(["--events".to_owned(), "embedded".to_owned()]),
    }
    flags
}

/// The producing service, with its store and outbox for the benchmark to commit through.
async fn start_producer(
    transport_flags: &[String],
    dir: &std::path::Path,
) -> anyhow::Result<(Served, Db, Outbox)> {
    let producer_store: Arc<OnceLock<(Db, Outbox)>> = Arc::new(OnceLock::new());
    let mut flags = transport_flags.to_vec();
    flags.extend([
        "--database-url".to_owned(),
        format!("sqlite://{}", dir.join("producer.db").display()),
    ]);
    let store = producer_store.clone();
    let producer = serve(PRODUCER, &flags, move |mut ctx| async move {
        let db = ctx.open_store(&[events::OUTBOX_MIGRATION]).await?;
        let outbox = ctx.publish_events(&db).await?;
        let _ = store.set((db, outbox));
        Ok(Router::new())
    })
    .await?;
    let (db, outbox) = producer_store
        .get()
        .cloned()
        .context("the producer did not open its store")?;
    Ok((producer, db, outbox))
}

/// The consuming service, recording each applied event into `applied`.
async fn start_consumer(
    mut flags: Vec<String>,
    dir: &std::path::Path,
    producer: &Served,
    applied: Arc<Mutex<Applied>>,
) -> anyhow::Result<Served> {
    flags.extend([
        "--database-url".to_owned(),
        format!("sqlite://{}", dir.join("consumer.db").display()),
        "--peers".to_owned(),
        format!("bench-producer={}", producer.address),
    ]);
    serve(CONSUMER, &flags, move |mut ctx| async move {
        let db = ctx.open_store(&[events::INBOX_MIGRATION, EFFECTS]).await?;
        let subscription = Subscription::new("bench-producer").on::<Measured, _>(Record(applied));
        ctx.subscribe(&db, subscription).await?;
        Ok(Router::new())
    })
    .await
}

/// Latency: one event per transaction at a constant rate, each commit on its own task so that
/// a slow one does not delay the next arrival; returns p50 and p99 publish-to-applied.
async fn measure_latency(
    db: &Db,
    outbox: &Outbox,
    applied: &Arc<Mutex<Applied>>,
    rate: f64,
    count: u64,
) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let mut commits = Vec::with_capacity(count as usize);
    for n in 0..count {
        tokio::time::sleep_until(started + Duration::from_secs_f64(n as f64 / rate)).await;
        let (db, outbox) = (db.clone(), outbox.clone());
        commits.push(tokio::spawn(
            async move { commit(&db, &outbox, n, 1).await },
        ));
    }
    for c in commits {
        c.await??;
    }
    wait_applied(applied, count).await?;
    let a = applied.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok((
        Duration::from_micros(a.latencies.value_at_quantile(0.5)),
        Duration::from_micros(a.latencies.value_at_quantile(0.99)),
    ))
}

/// Throughput: the burst committed 100 events per transaction, as fast as the store takes;
/// returns events applied per second and the burst's p99.
async fn measure_burst(
    db: &Db,
    outbox: &Outbox,
    applied: &Arc<Mutex<Applied>>,
    burst: u32,
) -> anyhow::Result<(f64, Duration)> {
    if let Ok(mut a) = applied.lock() {
        *a = Applied::new();
    }
    let started = Instant::now();
    let mut n = 0u64;
    while n < u64::from(burst) {
        let batch = (u64::from(burst) - n).min(100);
        commit(db, outbox, 1_000_000 + n, batch).await?;
        n += batch;
    }
    wait_applied(applied, u64::from(burst)).await?;
    let (last_at, burst_p99) = {
        let a = applied.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (
            a.last_at.unwrap_or_else(Instant::now),
            Duration::from_micros(a.latencies.value_at_quantile(0.99)),
        )
    };
    let elapsed = last_at.duration_since(started).as_secs_f64().max(1e-6);
    Ok((f64::from(burst) / elapsed, burst_p99))
}

/// Commits `events` events (keys spread over 16 subjects) in one transaction and wakes the relay.
async fn commit(db: &Db, outbox: &Outbox, first: u64, events: u64) -> anyhow::Result<()> {
    let mut tx = db.begin_write().await?;
    for n in first..first + events {
        let event = Measured {
            key: format!("k{}", n % 16),
            n,
        };
        outbox.append(tx.conn(), &event).await?;
    }
    tx.commit().await?;
    outbox.wake();
    Ok(())
}

async fn wait_applied(applied: &Arc<Mutex<Applied>>, count: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = applied.lock().map(|a| a.count).unwrap_or(0);
        if done >= count {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {done} of {count} events applied within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
