//! The async runtime an instance runs on: its flavour and worker threads, as flags
//! (`--runtime`, `--worker-threads`), so that a machine running many instances on few cores
//! does not pay for more threads than it has cores.
//!
//! Tokio's default is a multi-threaded runtime with one worker per core. Ten instances on two
//! cores then hold twenty workers that steal work from each other and wake each other through
//! futexes; most of a request's CPU went to those hand-offs rather than to the request (see the
//! README's Performance section, "CPU per request", for the measurement behind the default).

use std::io;

use tokio::runtime::{Builder, Runtime};

/// Which tokio scheduler an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavour {
    /// Every task on one thread (blocking work still goes to the blocking pool): no hand-off
    /// between workers. Suits many instances sharing few cores.
    CurrentThread,
    /// Work-stealing workers (`--worker-threads`, default one per core). Suits one instance
    /// that has a machine to itself.
    MultiThread,
}

/// How the instance's runtime is built.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeArgs {
    /// The runtime's scheduler: current-thread (one thread) or multi-thread.
    #[arg(
        long = "runtime",
        env = "BRIGADE_RUNTIME",
        value_enum,
        default_value = "current-thread"
    )]
    pub flavour: Flavour,

    /// Worker threads of a multi-thread runtime (0: one per core).
    #[arg(long, env = "BRIGADE_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,
}

impl Default for RuntimeArgs {
    fn default() -> Self {
        RuntimeArgs {
            flavour: Flavour::CurrentThread,
            worker_threads: 0,
        }
    }
}

impl RuntimeArgs {
    /// Builds the runtime these flags describe, with every driver (I/O, time) enabled.
    pub fn build(&self) -> io::Result<Runtime> {
        let mut builder = match self.flavour {
            Flavour::CurrentThread => Builder::new_current_thread(),
            Flavour::MultiThread => {
                let mut builder = Builder::new_multi_thread();
                if self.worker_threads > 0 {
                    builder.worker_threads(self.worker_threads);
                }
                builder
            }
        };
        builder.enable_all().build()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    #[test]
    fn each_flavour_builds_a_runtime_that_runs_tasks() {
        for flags in [
            &["test"][..],
            &["test", "--runtime", "multi-thread", "--worker-threads", "1"],
            &["test", "--runtime", "multi-thread"],
        ] {
            let args = Cli::try_parse_from(flags).unwrap().runtime;
            let runtime = args.build().unwrap();
            let answer = runtime.block_on(async { tokio::spawn(async { 42 }).await.unwrap() });
            assert_eq!(answer, 42, "{flags:?}");
        }
        assert_eq!(RuntimeArgs::default().flavour, Flavour::CurrentThread);
        assert!(Cli::try_parse_from(["test", "--runtime", "fast"]).is_err());
    }
}
