//! The `brigade` command. Everything it does lives in the libraries (`brigade` for `up` and
//! `run`, `brigade_operator` for the commands that talk to a running system, `brigade_bench` for
//! the benchmarks); this parses the command line.

// Every Brigade process allocates with mimalloc; ARCHITECTURE.md says why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use brigade::up::UpArgs;
use brigade_bench::hop::HopArgs;
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
        bench: Bench,
    },
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// What one service-to-service hop through the chassis costs, against raw hyper.
    Hop(HopArgs),
    /// How fast `brigade up` is ready and stops, and each idle instance's memory.
    Up(brigade_bench::up::UpBenchArgs),
    /// Checkouts per second and their latency, open loop, on SQLite and on PostgreSQL.
    Checkout(brigade_bench::checkout::CheckoutBenchArgs),
    /// Events per second and publish-to-applied latency, embedded transport against NATS.
    Events(brigade_bench::events::EventsBenchArgs),
    /// The product page with recommendations healthy, slow and dead, side by side.
    Degradation(brigade_bench::resilience::DegradationBenchArgs),
    /// Goodput of an overloaded service with load shedding on and off.
    Shedding(brigade_bench::resilience::SheddingBenchArgs),
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
            Command::Bench {
                bench: Bench::Hop(args),
            } => brigade_bench::hop::run(args).await,
            Command::Bench {
                bench: Bench::Up(args),
            } => brigade_bench::up::run(args).await,
            Command::Bench {
                bench: Bench::Checkout(args),
            } => brigade_bench::checkout::run(args).await,
            Command::Bench {
                bench: Bench::Events(args),
            } => brigade_bench::events::run(args).await,
            Command::Bench {
                bench: Bench::Degradation(args),
            } => brigade_bench::resilience::degradation(args).await,
            Command::Bench {
                bench: Bench::Shedding(args),
            } => brigade_bench::resilience::shedding(args).await,
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
