//! `brigade logs`: the running system's log lines, every instance's interleaved in the order
//! the control plane read them, each prefixed `service#instance |`.

use std::io::Write as _;
use std::time::Duration;

use brigade_chassis::client::plain::{self, PlainClient};
use brigade_chassis::Problem;
use http::StatusCode;

use super::{Level, LogLine, Page, LOGS};
use crate::status::ControlUrl;

/// `brigade logs [SERVICE] [--instance N] [--follow] [--trace ID] [--level LEVEL] [--grep TEXT] [--json]`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub control: ControlUrl,
    /// Only this service's lines.
    pub service: Option<String>,
    /// Only this instance of the service (1 is `catalog-1`).
    #[arg(long, requires = "service", value_parser = clap::value_parser!(u32).range(1..))]
    pub instance: Option<u32>,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// Only the lines of this trace: its 32-digit id, or a whole `traceparent`.
    #[arg(long, value_parser = trace_id)]
    pub trace: Option<String>,
    /// Only lines of this level and above.
    #[arg(long, value_enum)]
    pub level: Option<Level>,
    /// Only lines whose message or fields contain this text.
    #[arg(long)]
    pub grep: Option<String>,
    /// How many of the latest lines to print first.
    #[arg(long, short = 'n', default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=super::MAX_LIMIT as u64))]
    pub lines: u64,
    /// Print the stored lines as JSON, one object a line.
    #[arg(long)]
    pub json: bool,
}

/// A trace id from `--trace`: 32 hex digits, or the trace id of a `traceparent`
/// (`00-<trace id>-<span id>-<flags>`), as a response's header gives it.
fn trace_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    let id = match text.split('-').collect::<Vec<_>>().as_slice() {
        [_, id, _, _] => *id,
        _ => text,
    };
    match crate::traces::parse_trace_id(id) {
        Some(_) => Ok(id.to_ascii_lowercase()),
        None => Err("expected a trace id (32 hexadecimal digits) or a traceparent".to_owned()),
    }
}

/// Why `brigade logs` could not print.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NotRunning(#[from] crate::status::Error),
    /// The control plane refused the query; its problem's detail says why.
    #[error("{0}")]
    Refused(String),
}

impl LogsArgs {
    /// The query string, with `after` (following) or without (the latest lines).
    fn query(&self, after: Option<u64>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(service) = &self.service {
            pairs.push(("service", service.clone()));
        }
        if let Some(instance) = self.instance {
            pairs.push(("instance", instance.to_string()));
        }
        if let Some(trace) = &self.trace {
            pairs.push(("trace", trace.clone()));
        }
        if let Some(level) = self.level {
            pairs.push(("level", format!("{level:?}").to_ascii_lowercase()));
        }
        if let Some(grep) = &self.grep {
            pairs.push(("grep", grep.clone()));
        }
        match after {
            Some(after) => {
                pairs.push(("after", after.to_string()));
                pairs.push(("limit", super::MAX_LIMIT.to_string()));
                pairs.push(("wait_ms", FOLLOW_WAIT.as_millis().to_string()));
            }
            None => pairs.push(("limit", self.lines.to_string())),
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// How long each of `--follow`'s queries waits for a line.
const FOLLOW_WAIT: Duration = Duration::from_secs(20);

/// `brigade logs …`.
pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let base = args.control.url.trim_end_matches('/').to_owned();
    let client = PlainClient::new(FOLLOW_WAIT + Duration::from_secs(10));
    let page = fetch(&client, &base, &args.query(None)).await?;
    let mut next = print(&args, &page);
    if !args.follow {
        return Ok(());
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let query = args.query(Some(next));
        let page = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            page = fetch(&client, &base, &query) => page?,
        };
        next = print(&args, &page);
    }
}

async fn fetch(client: &PlainClient, base: &str, query: &str) -> Result<Page, Error> {
    let url = format!("{base}{LOGS}?{query}");
    client.get_json(&url).await.map_err(|source| match source {
        plain::Error::Transport { .. }
        | plain::Error::Timeout { .. }
        | plain::Error::InvalidUrl { .. } => crate::status::not_running(base, &source).into(),
        plain::Error::Status { status, body, .. }
            if status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST =>
        {
            match serde_json::from_str::<Problem>(&body) {
                Ok(problem) => Error::Refused(
                    match problem.extensions.get("parameter").and_then(|p| p.as_str()) {
                        Some(parameter) => format!("{parameter}: {}", problem.detail),
                        None => problem.detail,
                    },
                ),
                Err(_) => Error::Refused(format!(
                    "{base} answered {status}: is it a Brigade control plane with logs?"
                )),
            }
        }
        other => crate::status::Error::Unexpected {
            url: base.to_owned(),
            source: other,
        }
        .into(),
    })
}

/// Prints a page's lines; returns the cursor for the next.
fn print(args: &LogsArgs, page: &Page) -> u64 {
    let mut out = std::io::stdout().lock();
    for line in &page.lines {
        let text = if args.json {
            serde_json::to_string(line).unwrap_or_default()
        } else {
            format!("{:<17} | {}", prefix(line), line.render())
        };
        // A closed pipe (`| head`) ends the output, not with a panic.
        if writeln!(out, "{text}").is_err() {
            std::process::exit(0);
        }
    }
    let _ = out.flush();
    page.next
}

/// `catalog#2`; padded to `recommendations#1`'s width when printed, so that columns align. A
/// line from an OTLP exporter that is no numbered instance: `worker@host-a-7`, or `worker`.
pub fn prefix(line: &LogLine) -> String {
    match (line.instance, &line.instance_id) {
        (0, Some(id)) => format!("{}@{id}", line.service),
        (0, None) => line.service.clone(),
        (n, _) => format!("{}#{n}", line.service),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        logs: LogsArgs,
    }

    fn parse(args: &[&str]) -> Result<LogsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("logs").chain(args.iter().copied())).map(|c| c.logs)
    }

    #[test]
    fn filters_become_the_query_and_follow_asks_after_the_cursor() {
        let args = parse(&[
            "orders",
            "--instance",
            "2",
            "--level",
            "warn",
            "--grep",
            "out of stock",
            "--trace",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "-n",
            "50",
        ])
        .unwrap();
        assert_eq!(
            args.query(None),
            "service=orders&instance=2&trace=4bf92f3577b34da6a3ce929d0e0e4736\
             &level=warn&grep=out+of+stock&limit=50"
        );
        assert_eq!(
            parse(&["--follow"]).unwrap().query(Some(41)),
            "after=41&limit=5000&wait_ms=20000"
        );
        assert!(parse(&["-f", "--json"]).unwrap().json);
    }

    #[test]
    fn a_line_is_prefixed_with_its_instance_whatever_wrote_it() {
        let mut line: LogLine = serde_json::from_value(serde_json::json!({
            "seq": 1, "service": "catalog", "instance": 2, "stream": "stdout",
            "time": "2026-12-06T11:06:44Z", "message": "m"
        }))
        .unwrap();
        assert_eq!(prefix(&line), "catalog#2");
        line.instance = 0;
        assert_eq!(prefix(&line), "catalog");
        line.instance_id = Some("host-a-7".into());
        assert_eq!(prefix(&line), "catalog@host-a-7");
    }

    #[test]
    fn bad_arguments_are_refused_before_asking() {
        for bad in [
            &["--instance", "1"][..],
            &["orders", "--instance", "0"],
            &["--level", "loud"],
            &["--trace", "abc"],
            &["--trace", &"0".repeat(32)],
            &["-n", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
