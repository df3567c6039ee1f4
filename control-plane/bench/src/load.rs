//! Load generators. Closed loop: `concurrency` workers each send one request after another for
//! a fixed time. Open loop: requests start at a fixed rate whatever the answers do, and each
//! latency counts from the moment the request was due, so that a slow system cannot hide its
//! queueing (no coordinated omission). Latencies go into an HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What one measurement found.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Figures {
    /// Throughput, p50 and p99 as three right-aligned table columns (`{:>10.1} {:>10} {:>10}`).
    pub fn rate_and_latency_columns(&self) -> String {
        format!(
            "{:>10.1} {:>10} {:>10}",
            self.per_second,
            brigade_operator::output::human_duration(self.p50),
            brigade_operator::output::human_duration(self.p99)
        )
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s with 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Runs `call` from `concurrency` workers for `duration` and measures it.
pub async fn closed_loop<F, Fut>(concurrency: usize, duration: Duration, call: F) -> Figures
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let merged = Arc::new(Mutex::new((histogram(), 0u64)));
    let started = Instant::now();
    let stop_at = started + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let call = call.clone();
        let merged = merged.clone();
        workers.push(tokio::spawn(async move {
            let mut local = histogram();
            let mut errors = 0u64;
            while Instant::now() < stop_at {
                let begin = Instant::now();
                let ok = call().await;
                let micros = begin.elapsed().as_micros().max(1) as u64;
                let _ = local.record(micros.min(60_000_000));
                if !ok {
                    errors += 1;
                }
            }
            let mut merged = merged.lock().await;
            let _ = merged.0.add(&local);
            merged.1 += errors;
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let merged = merged.lock().await;
    let requests = merged.0.len();
    Figures {
        requests,
        errors: merged.1,
        per_second: requests as f64 / elapsed,
        p50: Duration::from_micros(merged.0.value_at_quantile(0.50)),
        p99: Duration::from_micros(merged.0.value_at_quantile(0.99)),
    }
}

/// How many calls `rate` per second make in `duration`: the flags' check shared by the
/// open-loop benchmarks, naming `what` is counted ("checkouts", "pages") in its error.
pub fn arrivals(rate: f64, duration: Duration, what: &str) -> anyhow::Result<usize> {
    anyhow::ensure!(
        rate > 0.0 && rate <= 5_000.0,
        "--rate takes a number of {what} per second from 0 to 5000, got {rate}"
    );
    let count = (rate * duration.as_secs_f64()).round() as usize;
    anyhow::ensure!(
        count >= 1,
        "--rate × --duration must make at least one of the {what}"
    );
    Ok(count)
}

/// `a / b`, for the "×1.23" columns (a zero `b` does not divide by zero).
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// The median of a non-empty list of figures, field by field.
pub fn median(runs: &[Figures]) -> Figures {
    fn mid<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        values[values.len() / 2]
    }
    Figures {
        requests: mid(runs.iter().map(|f| f.requests).collect()),
        errors: runs.iter().map(|f| f.errors).sum(),
        per_second: mid(runs.iter().map(|f| f.per_second).collect()),
        p50: mid(runs.iter().map(|f| f.p50).collect()),
        p99: mid(runs.iter().map(|f| f.p99).collect()),
    }
}

/// Starts `count` calls at `rate` per second, call `i` due at `i / rate` seconds; each call's
/// latency counts from when it was due. `call(i)` gets the call's index.
pub async fn open_loop<F, Fut>(rate: f64, count: usize, call: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let ok = call(i).await;
            (due.elapsed(), ok)
        }));
    }
    let mut latencies = histogram();
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((latency, ok)) => {
                let micros = latency.as_micros().max(1) as u64;
                let _ = latencies.record(micros.min(60_000_000));
                if !ok {
                    errors += 1;
                }
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Figures {
        requests: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50: Duration::from_micros(latencies.value_at_quantile(0.50)),
        p99: Duration::from_micros(latencies.value_at_quantile(0.99)),
    }
}
