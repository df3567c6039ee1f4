//! The `brigade` command. Everything it does lives in the libraries (`brigade` for `up` and
//! `run`, `brigade_operator` for the commands that talk to a running system, `brigade_bench` for
//! the benchmarks); this parses the command line.

use std::process::ExitCode;

use brigade::up::UpArgs;
use brigade_operator::status::StatusArgs;
use clap::{Parser, Subcommand};

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
        service: brigade::run::Service,
    },
    /// Check the running system's promises: no oversell, no double charge, no lost order.
    Check(brigade_operator::checker::CheckArgs),
    /// Events that services could not apply: list them, replay them.
    Events(brigade_operator::events::EventsArgs),
    /// Faults on purpose (system started with `up --chaos`): latency, errors, kills, scenarios.
    Chaos(brigade_operator::chaos::ChaosArgs),
    /// Measure the system against a baseline taken in the same run.
    Bench {
        #[command(subcommand)]
        bench: brigade_bench::Bench,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
                let filter =
                    std::env::var("BRIGADE_LOG").unwrap_or_else(|_| "warn,brigade=info".to_owned());
                brigade_chassis::logging::init(brigade_chassis::logging::LogFormat::Auto, &filter);
                brigade::up::run(args).await
            }
            Command::Status(args) => brigade_operator::status::run(args).await,
            Command::Run { service } => brigade::run::run(service).await,
            Command::Check(args) => brigade_operator::checker::run(args).await,
            Command::Events(args) => brigade_operator::events::run(args).await,
            Command::Chaos(args) => brigade_operator::chaos::run(args).await,
            Command::Bench { bench } => bench.run().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("brigade: {error:#}");
            ExitCode::FAILURE
        }
    }
}
