//! `brigade chaos`: faults on purpose in a system started with `brigade up --chaos`.
//!
//! Two kinds, driven from two places:
//! - request faults (latency, errors, aborted connections, per route prefix) live in each
//!   instance's chassis and are set through the instance's own `/v1/chaos` ([`faults`]);
//! - process faults (kill, pause, resume) are signals only the process's parent can send well,
//!   so the control plane, which supervises every process, serves them ([`instances`]).
//!
//! [`scenario`] files schedule both under load ([`runner`], with [`shoppers`]).

pub mod faults;
pub mod instances;
pub mod keep_dead;
pub mod operator;
pub mod runner;
pub mod scenario;
pub mod shoppers;

use std::path::PathBuf;
use std::time::Duration;

use self::faults::Change;
use self::operator::Operator;
use brigade_supervisor::ProcessFault;

pub use self::runner::{run_scenario, ScenarioOptions, ScenarioReport};
use self::scenario::Action;
pub use self::scenario::Scenario;

/// Options of `brigade chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    #[command(flatten)]
    pub control: crate::status::ControlUrl,
    #[command(flatten)]
    pub operator: crate::operator_auth::cli::OperatorToken,
    #[command(subcommand)]
    pub command: ChaosCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ChaosCommand {
    /// Add latency to every request to a service (or to one route prefix); 0s removes it.
    Latency {
        service: String,
        /// The added delay, e.g. 2s or 300ms (at most 60 s).
        #[arg(value_parser = parse_delay)]
        delay: Duration,
        #[command(flatten)]
        route: RouteArg,
    },
    /// Fail a share of a service's requests with 503 injected-fault.
    Errors {
        service: String,
        /// The share, as 30% or 0.3.
        #[arg(value_parser = parse_rate)]
        rate: f64,
        #[command(flatten)]
        route: RouteArg,
    },
    /// Close a share of a service's connections without answering.
    Abort {
        service: String,
        /// The share, as 10% or 0.1.
        #[arg(value_parser = parse_rate)]
        rate: f64,
        #[command(flatten)]
        route: RouteArg,
    },
    /// SIGKILL a service's instances (or one); the supervisor restarts them as after a crash.
    Kill {
        service: String,
        #[command(flatten)]
        instance: InstanceArg,
    },
    /// SIGSTOP a service's instances (or one): alive, listening, answering nothing.
    Pause {
        service: String,
        #[command(flatten)]
        instance: InstanceArg,
    },
    /// SIGCONT a service's paused instances (or one).
    Resume {
        service: String,
        #[command(flatten)]
        instance: InstanceArg,
    },
    /// Every instance's fault rules and the paused instances.
    Show {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove the fault rules and resume the paused instances of a service, or of all.
    Clear { service: Option<String> },
    /// Run a fault schedule (a TOML file) under checkout and browsing load, then check promises.
    Scenario {
        file: PathBuf,
        /// Checkouts started per second, each by a fresh shopper.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// How long unfinished orders get to settle before the promise checker judges them.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        settle: Duration,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RouteArg {
    /// Only requests under this path prefix of the service, e.g. /v1/products.
    #[arg(long, value_parser = parse_route)]
    pub route: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InstanceArg {
    /// One instance: its number (2 is SERVICE-2) or its slot name [default: every instance].
    #[arg(long)]
    pub instance: Option<String>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    faults::parse_rate(text).map_err(|e| e.to_string())
}

fn parse_delay(text: &str) -> Result<Duration, String> {
    faults::parse_delay(text).map_err(|e| e.to_string())
}

fn parse_route(text: &str) -> Result<String, String> {
    faults::parse_route(text).map_err(|e| e.to_string())
}

/// `brigade chaos …`.
pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let mut operator = Operator::new(&args.control.url);
    // Every command but `show` changes the system: processes through the control port, which
    // demands the operator credential, or request-fault rules on the instances, which demand
    // the operator's identity (minted for the same credential).
    let credential = if args.command.changes_the_system() {
        let credential = args.operator.load()?;
        operator = operator.authenticated(credential.clone());
        Some(credential)
    } else {
        None
    };
    // A fault command does at once what a scenario step does on schedule.
    if let Some(action) = args.command.action() {
        println!("{}", operator.apply(&action).await?);
        return Ok(());
    }
    let said = match args.command {
        ChaosCommand::Show { json } => {
            let faults = operator.faults().await?;
            anyhow::ensure!(
                faults.enabled,
                "the system was not started with `brigade up --chaos`: it has no faults to show"
            );
            if json {
                serde_json::to_string_pretty(&faults)?
            } else {
                operator::table(&faults).trim_end().to_owned()
            }
        }
        ChaosCommand::Scenario { file, rate, settle } => {
            let scenario = Scenario::load(&file)?;
            let options = ScenarioOptions {
                rate,
                settle,
                verbose: true,
                credential,
            };
            let report = run_scenario(&args.control.url, &scenario, &options).await?;
            println!("{report}");
            anyhow::ensure!(
                report.holds(),
                "{} promise(s) broken under {}",
                report.promises.violations.len(),
                file.display()
            );
            return Ok(());
        }
        // Faults and clearing them: done above.
        _ => return Ok(()),
    };
    println!("{said}");
    Ok(())
}

impl ChaosCommand {
    /// Whether this command changes the system (processes, or request-fault rules); only
    /// `show` reads.
    fn changes_the_system(&self) -> bool {
        !matches!(self, Self::Show { .. })
    }

    /// The fault this command makes (or clears) as a scenario step's action; `None` for the
    /// commands that only read the faults or run a scenario.
    fn action(&self) -> Option<Action> {
        let request = |service: &str, route: &RouteArg, change| Action::Request {
            service: service.to_owned(),
            route: route.route.clone(),
            change,
        };
        let process = |service: &str, instance: &InstanceArg, fault| Action::Process {
            service: service.to_owned(),
            instance: instance.instance.clone(),
            fault,
        };
        Some(match self {
            Self::Latency {
                service,
                delay,
                route,
            } => request(service, route, Change::Latency(*delay)),
            Self::Errors {
                service,
                rate,
                route,
            } => request(service, route, Change::Errors(*rate)),
            Self::Abort {
                service,
                rate,
                route,
            } => request(service, route, Change::Abort(*rate)),
            Self::Kill { service, instance } => process(service, instance, ProcessFault::Kill),
            Self::Pause { service, instance } => process(service, instance, ProcessFault::Pause),
            Self::Resume { service, instance } => process(service, instance, ProcessFault::Resume),
            Self::Clear { service } => Action::Clear {
                service: service.clone(),
            },
            Self::Show { .. } | Self::Scenario { .. } => return None,
        })
    }
}
