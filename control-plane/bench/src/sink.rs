//! The live OTLP receiver of `brigade bench telemetry`'s hop, as a process of its own, and the
//! CPU time each process spends.
//!
//! A deployment's collector runs apart from its services (often on other machines), so the
//! benchmark keeps the receiver out of the measured process: `brigade bench otlp-sink` (hidden)
//! decodes and counts what it is sent, as a collector would, and the benchmark reads its CPU
//! time from `/proc` apart from its own. On a machine of two cores the receiver still takes CPU
//! from the services while it runs; the CPU per request says what the services spend whatever
//! shares the cores with them.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::client::plain::PlainClient;
use http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the sink counts what it decoded (`GET`).
const COUNT: &str = "/v1/count";

/// Options of `brigade bench otlp-sink`.
#[derive(Debug, Clone, clap::Args)]
pub struct SinkArgs {}

/// The receiver's routes: `POST /v1/traces` decodes an OTLP/protobuf export and counts its
/// spans; `GET /v1/count` tells the count.
pub fn router(count: Arc<AtomicU64>) -> Router {
    async fn receive(State(count): State<Arc<AtomicU64>>, body: Bytes) -> StatusCode {
        let Ok(export) = ExportTraceServiceRequest::decode(body) else {
            return StatusCode::BAD_REQUEST;
        };
        let spans: usize = export
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        count.fetch_add(spans as u64, Ordering::Relaxed);
        StatusCode::OK
    }
    async fn counted(State(count): State<Arc<AtomicU64>>) -> axum::Json<u64> {
        axum::Json(count.load(Ordering::Relaxed))
    }
    Router::new()
        .route("/v1/traces", post(receive))
        .route(COUNT, get(counted))
        .with_state(count)
}

/// Serves the sink on a free loopback port, printing its base URL as the first line on stdout.
pub async fn serve(_args: SinkArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    axum::serve(listener, router(Arc::default())).await?;
    Ok(())
}

/// Serves the sink's routes in this process (on the tasks of the benchmark itself); returns its
/// base URL.
pub async fn in_process() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(Arc::default())).await;
    });
    Ok(url)
}

/// A running sink: a process of its own (killed when dropped), or tasks of this one.
pub struct Sink {
    child: Option<Child>,
    pub url: String,
}

impl Sink {
    /// Starts `brigade bench otlp-sink` (this very binary) and waits for its URL.
    pub async fn start() -> anyhow::Result<Sink> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["bench", "otlp-sink"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("the sink's stdout is not piped"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let url = line.trim().to_owned();
        anyhow::ensure!(
            url.starts_with("http://"),
            "the sink did not start: {url:?}"
        );
        Ok(Sink {
            child: Some(child),
            url,
        })
    }

    /// A sink in this process: its CPU time is the benchmark's own.
    pub async fn start_in_process() -> anyhow::Result<Sink> {
        Ok(Sink {
            child: None,
            url: in_process().await?,
        })
    }

    /// Spans the sink decoded so far.
    pub async fn spans(&self) -> anyhow::Result<u64> {
        let client = PlainClient::new(Duration::from_secs(5));
        Ok(client.get_json(&format!("{}{COUNT}", self.url)).await?)
    }

    /// The sink process's CPU time so far (`None` in process).
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&self.child.as_ref()?.id()?.to_string())
    }
}

/// A process's CPU time (user and system, all its threads) so far, from `/proc/<pid>/stat`;
/// `pid` may be `self`.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces), from the third: utime is the 14th
    // field and stime the 15th of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / CLOCK_TICKS)
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux the project runs on (the kernel's USER_HZ).
const CLOCK_TICKS: f64 = 100.0;
