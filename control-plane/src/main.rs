//! The Brigade control plane: the `brigade` command, which wires what it is made of.
//!
//! - [`up`]: `brigade up`, the whole system on one machine from a [`manifest`], with the
//!   supervisor (`brigade_supervisor`), the registry (`brigade_registry`) and the control port
//!   (`brigade_operator::control`).
//! - [`run`]: `brigade run SERVICE`, one service in the foreground (how `up` starts instances);
//!   the only place that knows every service crate.
//! - [`deploy`]: `brigade deploy render`, the Kubernetes manifests from the services' declarations.
//! - The operator commands (`status`, `scale`, `restart`, `logs`, `telemetry`, `check`, `events`, `chaos`) live in `brigade_operator`,
//!   the benchmarks (`brigade bench …`) in `brigade_bench`: neither depends on any service, so
//!   editing a service rebuilds only that service and this binary.
//!
//! **Architecture invariant:** the control plane is not on the request path. Services find each
//! other through the registry but call each other directly, and keep their last known instance
//! lists if the control plane goes away.

mod colocate;
mod deploy;
mod identity;
mod manifest;
mod run;
mod secrets;
mod stores;
mod up;

// Every Brigade process allocates with mimalloc; ARCHITECTURE.md says why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use brigade_operator::status::StatusArgs;
use clap::{Parser, Subcommand};
use up::UpArgs;

/// Brigade: an online store as real microservices, and the tooling to run it.
#[derive(Debug, Parser)]
#[command(name = "brigade", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Start the whole system (control plane, every service instance) and stop it on Ctrl-C.
    Up(UpArgs),
    /// Show every service and instance of the running system: address, health, uptime, …
    Status(StatusArgs),
    /// Run one service in the foreground (how `up` starts each instance).
    Run {
        #[command(subcommand)]
        service: run::Service,
    },
    /// Every built-in instance in this one process, from the plan `up --colocate` gives.
    #[command(hide = true)]
    Colocated,
    /// Show the instances' log lines, interleaved: filter by service, instance, trace, level, text.
    Logs(brigade_operator::logs::cli::LogsArgs),
    /// Export the control plane's traces, logs and metrics as OTLP JSON Lines, or import them.
    Telemetry(brigade_operator::telemetry_file::cli::TelemetryArgs),
    /// Check the running system's promises: no oversell, no double charge, no lost order.
    Check(brigade_operator::checker::CheckArgs),
    /// Events that services could not apply: list them, replay them.
    Events(brigade_operator::events::EventsArgs),
    /// Run N instances of a service, live: new ones start, removed ones drain and exit.
    Scale(brigade_operator::scale::cli::ScaleArgs),
    /// Replace a service's instances (or every service's) one at a time, each new one ready
    /// before the old one drains: zero failed requests, and the binary on disk now.
    Restart(brigade_operator::scale::cli::RestartArgs),
    /// Faults on purpose (system started with `up --chaos`): latency, errors, kills, scenarios.
    Chaos(brigade_operator::chaos::ChaosArgs),
    /// Open-loop load on the running system through the gateway: rates, stages, mixes,
    /// thresholds, reports, --find-capacity.
    Load(brigade_bench::loadgen::LoadArgs),
    /// Deployment files made from the services' declarations: `deploy render [--check]`.
    Deploy {
        #[command(subcommand)]
        command: deploy::DeployCommand,
    },
    /// Measure the system against a baseline taken in the same run.
    Bench {
        #[command(subcommand)]
        bench: brigade_bench::Bench,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A service instance runs on the runtime its flags ask for; every other command on a
    // multi-threaded one (the control plane serves every instance's heartbeats, logs and spans).
    let runtime = match &cli.command {
        Command::Run { service } => service.runtime().build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("brigade: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => {
                // The control plane's own log lines (e.g. expired leases); services log their own.
                // Not a line per request it serves (every instance's heartbeats, the console's
                // polls): `brigade=info` would take in `brigade_chassis::http`'s, a prefix.
                let filter = std::env::var("BRIGADE_LOG")
                    .unwrap_or_else(|_| "warn,brigade=info,brigade_chassis::http=warn".to_owned());
                brigade_chassis::logging::init(brigade_chassis::logging::LogFormat::Auto, &filter);
                up::run(args).await
            }
            Command::Status(args) => brigade_operator::status::run(args).await,
            Command::Run { service } => run::run(service).await,
            Command::Colocated => colocate::run().await,
            Command::Logs(args) => brigade_operator::logs::cli::run(args).await,
            Command::Telemetry(args) => brigade_operator::telemetry_file::cli::run(args).await,
            Command::Check(args) => brigade_operator::checker::run(args).await,
            Command::Events(args) => brigade_operator::events::run(args).await,
            Command::Scale(args) => brigade_operator::scale::cli::scale(args).await,
            Command::Restart(args) => brigade_operator::scale::cli::restart(args).await,
            Command::Chaos(args) => brigade_operator::chaos::run(args).await,
            Command::Load(args) => args.run().await,
            Command::Bench { bench } => bench.run().await,
            Command::Deploy { command } => deploy::run(command).await,
        }
    });
    brigade_chassis::logging::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("brigade: {error:#}");
            ExitCode::FAILURE
        }
    }
}
