//! `brigade scale SERVICE N` and `brigade restart SERVICE|--all`.

use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use http::Method;

use super::{RestartReport, ScaleReport, ScaleRequest, MAX_INSTANCES};
use crate::chaos::instances::ControlClient;
use crate::operator_auth::cli::OperatorToken;
use crate::status::ControlUrl;

/// A scale waits for new instances to be ready, a restart for every replacement: longer than
/// any other call to the control port.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `brigade scale`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub control: ControlUrl,
    #[command(flatten)]
    pub operator: OperatorToken,
    /// The service, e.g. orders.
    pub service: String,
    /// How many instances it should run (0 to 32).
    #[arg(value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_INSTANCES)))]
    pub instances: u32,
    /// Print what was done as JSON (the answer of the control port) instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

/// Options of `brigade restart`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["service", "all"])))]
pub struct RestartArgs {
    #[command(flatten)]
    pub control: ControlUrl,
    #[command(flatten)]
    pub operator: OperatorToken,
    /// The service whose instances to replace, one at a time.
    pub service: Option<String>,
    /// Every service, one after the other, in the manifest's order.
    #[arg(long)]
    pub all: bool,
    /// Print what was done as JSON, one line per service, instead of sentences.
    #[arg(long)]
    pub json: bool,
}

/// A client of the control port that proves itself with the operator credential.
fn client(control: &ControlUrl, operator: &OperatorToken) -> anyhow::Result<ControlClient> {
    Ok(
        ControlClient::new(&control.url, PlainClient::new(CHANGE_TIMEOUT))
            .authenticated(operator.load()?),
    )
}

/// `brigade scale SERVICE N`.
pub async fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&ScaleRequest {
        instances: args.instances,
    })?;
    let report: ScaleReport = client(&args.control, &args.operator)?
        .call_with(
            Method::POST,
            &format!("/v1/system/services/{}/scale", args.service),
            Some(body.into()),
        )
        .await?;
    print_report(args.json, &report, describe_scale)
}

/// `brigade restart SERVICE` or `brigade restart --all`.
pub async fn restart(args: RestartArgs) -> anyhow::Result<()> {
    // Before anything else: without the credential nothing would be restarted.
    let client = client(&args.control, &args.operator)?;
    let services = match &args.service {
        Some(service) => vec![service.clone()],
        // One call per service: each is bounded by the control port's request limit, and a
        // failure stops the roll-out there, the rest untouched.
        None => crate::status::fetch(&args.control.url)
            .await?
            .services
            .into_iter()
            .filter(|s| s.instances.iter().any(|i| i.slot.is_some()))
            .map(|s| s.name)
            .collect(),
    };
    for service in services {
        let report: RestartReport = client
            .call_with(
                Method::POST,
                &format!("/v1/system/services/{service}/restart"),
                None,
            )
            .await?;
        print_report(args.json, &report, describe_restart)?;
    }
    Ok(())
}

/// Prints what a change did: one line of JSON (`--json`, for scripts) or `describe`'s sentence.
fn print_report<R: serde::Serialize>(
    json: bool,
    report: &R,
    describe: fn(&R) -> String,
) -> anyhow::Result<()> {
    let line = if json {
        serde_json::to_string(report)?
    } else {
        describe(report)
    };
    println!("{line}");
    Ok(())
}

/// `orders: 2 → 4 instances; started orders-3 (ready in 412 ms), orders-4 (…)`.
pub fn describe_scale(report: &ScaleReport) -> String {
    let mut line = format!(
        "{}: {} → {} instances",
        report.service, report.from, report.to
    );
    if !report.added.is_empty() {
        let started: Vec<String> = report
            .added
            .iter()
            .map(|s| {
                format!(
                    "{} on {} (ready in {} ms)",
                    s.slot, s.address, s.ready_after_ms
                )
            })
            .collect();
        line.push_str(&format!("; started {}", started.join(", ")));
    }
    if !report.removed.is_empty() {
        line.push_str(&format!(
            "; drained and stopped {}",
            report.removed.join(", ")
        ));
    }
    line
}

/// `orders: replaced orders-1 by orders-3 (ready in 380 ms), …`.
pub fn describe_restart(report: &RestartReport) -> String {
    if report.replaced.is_empty() {
        return format!("{}: no instance to restart", report.service);
    }
    let parts: Vec<String> = report
        .replaced
        .iter()
        .map(|r| {
            format!(
                "{} by {} (ready in {} ms)",
                r.old_slot, r.new.slot, r.new.ready_after_ms
            )
        })
        .collect();
    format!("{}: replaced {}", report.service, parts.join(", "))
}
