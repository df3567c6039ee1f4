//! Structured logs: JSON lines when stdout is not a terminal (for collectors), compact text when
//! a person is watching. The server middleware opens a span per request carrying `trace_id` and
//! `request_id`, so every line logged while serving a request names them. JSON lines are
//! written in batches ([`batched`]); call [`flush`] before the process exits.

mod batched;

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text otherwise.
    Auto,
    Json,
    Text,
}

/// The JSON lines' writer, once installed: [`flush`] writes what waits in it.
static JSON_LINES: OnceLock<batched::Batched<std::io::Stdout>> = OnceLock::new();

/// Writes the log lines still waiting to be written. The chassis calls it when a service stops
/// and before a panic's message; a process with its own `main` calls it before exiting.
pub fn flush() {
    if let Some(lines) = JSON_LINES.get() {
        lines.flush();
    }
}

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax (e.g. `info,catalog=debug`).
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        let lines = JSON_LINES
            .get_or_init(|| {
                flush_before_panics();
                batched::Batched::new(std::io::stdout(), batched::LINGER)
            })
            .clone();
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(lines)
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_target(false),
            )
            .try_init()
    };
}

/// Makes a panic write the lines logged before it ahead of its own message (on stderr), so
/// that they are read in the order they happened.
fn flush_before_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        previous(info);
    }));
}
