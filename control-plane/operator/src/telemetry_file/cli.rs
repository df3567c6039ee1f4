//! `brigade telemetry export [--out FILE]` and `brigade telemetry import FILE`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use brigade_chassis::plain::{self, PlainClient};
use brigade_chassis::Problem;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::{Counts, Export, EXPORT};
use crate::status::ControlUrl;

/// `brigade telemetry …`.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    #[command(flatten)]
    pub control: ControlUrl,
    #[command(subcommand)]
    pub command: TelemetryCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TelemetryCommand {
    /// Write every trace, log line and metric point the control plane keeps as OTLP JSON
    /// Lines (the OpenTelemetry Collector's file exporter format).
    Export {
        /// The file to write (replaced); standard output without it.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Post each line of an OTLP JSON Lines file (from `export`, or the Collector's file
    /// exporter) to the running control plane. A bad line stops the import before anything
    /// is posted.
    Import {
        /// The file to read.
        file: PathBuf,
    },
}

/// Why a telemetry command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NotRunning(#[from] crate::status::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {reason}; nothing was imported")]
    BadLine {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("the control plane refused line {line} of {path} ({reason}); the lines before it were imported")]
    Refused {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("exporting from {url} failed: {reason}")]
    Export { url: String, reason: String },
}

/// What an import posted and what the control plane refused of it (past its caps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub lines: usize,
    pub posted: Counts,
    pub refused: Counts,
}

/// `brigade telemetry …`.
pub async fn run(args: TelemetryArgs) -> anyhow::Result<()> {
    let base = args.control.url.trim_end_matches('/').to_owned();
    match args.command {
        TelemetryCommand::Export { out } => {
            let lines = match &out {
                Some(path) => {
                    let file =
                        tokio::fs::File::create(path)
                            .await
                            .map_err(|source| Error::Write {
                                path: path.display().to_string(),
                                source,
                            })?;
                    export(&base, file, &path.display().to_string()).await?
                }
                None => export(&base, tokio::io::stdout(), "standard output").await?,
            };
            if let Some(path) = out {
                eprintln!("exported {lines} lines to {}", path.display());
            }
        }
        TelemetryCommand::Import { file } => {
            let imported = import(&PlainClient::new(Duration::from_secs(30)), &base, &file).await?;
            let Imported {
                lines,
                posted,
                refused,
            } = imported;
            println!(
                "imported {} ({lines} line{}): {} spans, {} log records, {} data points",
                file.display(),
                if lines == 1 { "" } else { "s" },
                posted.spans,
                posted.log_records,
                posted.data_points
            );
            if refused != Counts::default() {
                println!(
                    "the control plane dropped {} spans, {} log records, {} data points past \
                     its caps",
                    refused.spans, refused.log_records, refused.data_points
                );
            }
        }
    }
    Ok(())
}

/// Streams the control plane's export to `out`; returns how many lines it wrote.
pub async fn export<W: AsyncWrite + Unpin>(
    base: &str,
    mut out: W,
    out_name: &str,
) -> Result<usize, Error> {
    let url = format!("{base}{EXPORT}");
    let failed = |reason: String| Error::Export {
        url: url.clone(),
        reason,
    };
    let uri: http::Uri = url.parse().map_err(|e| failed(format!("{e}")))?;
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(uri).await.map_err(|source| {
        crate::status::not_running(
            base,
            &plain::Error::Transport {
                url: url.clone(),
                source,
            },
        )
    })?;
    if response.status() != StatusCode::OK {
        return Err(failed(format!(
            "it answered {}: is it a Brigade control plane with telemetry?",
            response.status()
        )));
    }
    let mut body = response.into_body();
    let mut lines = 0;
    let write_failed = |source| Error::Write {
        path: out_name.to_owned(),
        source,
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed(e.to_string()))?;
        if let Some(data) = frame.data_ref() {
            lines += data.iter().filter(|b| **b == b'\n').count();
            out.write_all(data).await.map_err(write_failed)?;
        }
    }
    out.flush().await.map_err(write_failed)?;
    Ok(lines)
}

/// Checks every line of `file`, then posts them in order.
pub async fn import(client: &PlainClient, base: &str, file: &Path) -> Result<Imported, Error> {
    let path = file.display().to_string();
    // Every line is read and checked first, so that a bad line imports nothing at all.
    let mut imported = Imported::default();
    let mut checked: Vec<(usize, &'static str, String)> = Vec::new();
    for_each_line(file, |number, text| {
        let export = Export::parse(text).map_err(|reason| Error::BadLine {
            path: path.clone(),
            line: number,
            reason,
        })?;
        imported.lines += 1;
        imported.posted += export.counts();
        checked.push((number, export.path(), text.to_owned()));
        Ok(())
    })
    .await?;
    for (number, receiver, text) in checked {
        imported.refused +=
            post(client, base, receiver, text)
                .await
                .map_err(|reason| match reason {
                    Posting::NotRunning(error) => Error::NotRunning(error),
                    Posting::Refused(reason) => Error::Refused {
                        path: path.clone(),
                        line: number,
                        reason,
                    },
                })?;
    }
    Ok(imported)
}

/// Calls `each` with every non-blank line and its number (from 1).
async fn for_each_line(
    file: &Path,
    mut each: impl FnMut(usize, &str) -> Result<(), Error>,
) -> Result<(), Error> {
    let read_failed = |source| Error::Read {
        path: file.display().to_string(),
        source,
    };
    let reader = tokio::fs::File::open(file).await.map_err(read_failed)?;
    let mut lines = BufReader::new(reader).lines();
    let mut number = 0;
    while let Some(line) = lines.next_line().await.map_err(read_failed)? {
        number += 1;
        if !line.trim().is_empty() {
            each(number, &line)?;
        }
    }
    Ok(())
}

enum Posting {
    NotRunning(crate::status::Error),
    Refused(String),
}

/// Posts one line to its receiver; returns what the receiver dropped.
async fn post(
    client: &PlainClient,
    base: &str,
    receiver: &str,
    text: String,
) -> Result<Counts, Posting> {
    let url = format!("{base}{receiver}");
    let answer = client
        .send(Method::POST, &url, Some(Bytes::from(text)))
        .await
        .map_err(|source| Posting::NotRunning(crate::status::not_running(base, &source)))?;
    if !answer.status.is_success() {
        let reason = serde_json::from_slice::<Problem>(&answer.body)
            .map(|problem| problem.detail)
            .unwrap_or_else(|_| format!("{url} answered {}", answer.status));
        return Err(Posting::Refused(reason));
    }
    // `{"partialSuccess": {"rejectedSpans": "3", …}}`: 64-bit counts may be strings.
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let rejected = |key: &str| {
        let value = &body["partialSuccess"][key];
        value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0) as usize
    };
    Ok(Counts {
        spans: rejected("rejectedSpans"),
        log_records: rejected("rejectedLogRecords"),
        data_points: rejected("rejectedDataPoints"),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        telemetry: TelemetryArgs,
    }

    fn parse(args: &[&str]) -> Result<TelemetryArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("telemetry").chain(args.iter().copied()))
            .map(|c| c.telemetry)
    }

    #[test]
    fn export_writes_to_standard_output_unless_told_and_import_needs_a_file() {
        let args = parse(&["export"]).unwrap();
        assert!(matches!(
            args.command,
            TelemetryCommand::Export { out: None }
        ));
        let args = parse(&[
            "--control-url",
            "http://127.0.0.1:9",
            "export",
            "-o",
            "run.jsonl",
        ])
        .unwrap();
        assert_eq!(args.control.url, "http://127.0.0.1:9");
        assert!(
            matches!(args.command, TelemetryCommand::Export { out: Some(ref p) } if p == Path::new("run.jsonl"))
        );
        let args = parse(&["import", "run.jsonl"]).unwrap();
        assert!(
            matches!(args.command, TelemetryCommand::Import { ref file } if file == Path::new("run.jsonl"))
        );
        assert!(parse(&["import"]).is_err());
        assert!(parse(&["send"]).is_err());
    }

    #[tokio::test]
    async fn without_a_control_plane_both_say_it_is_not_running() {
        let base = "http://127.0.0.1:9";
        let exported = export(base, Vec::new(), "memory").await;
        assert!(
            matches!(exported, Err(Error::NotRunning(_))),
            "{exported:?}"
        );
        let path = std::env::temp_dir().join(format!(
            "brigade-telemetry-{}-down.jsonl",
            std::process::id()
        ));
        std::fs::write(&path, "{\"resourceSpans\":[]}\n").unwrap();
        let imported = import(&PlainClient::default(), base, &path).await;
        assert!(
            matches!(imported, Err(Error::NotRunning(_))),
            "{imported:?}"
        );
        std::fs::remove_file(path).unwrap();
    }
}
