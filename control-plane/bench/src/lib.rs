//! `brigade bench …`: benchmarks that print figures side by side with a baseline measured in the
//! same run, because this kind of machine is shared and noisy: only ratios and medians travel.

pub mod checkout;
pub mod colocate;
pub mod events;
mod fixtures;
pub mod hop;
mod load;
pub mod loadgen;
pub mod resilience;
pub mod sink;
pub mod storefront;
pub mod telemetry;
pub mod up;

/// `brigade bench …`: which benchmark, with its options.
#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// What one service-to-service hop through the chassis costs, against raw hyper.
    Hop(hop::HopArgs),
    /// How fast `brigade up` is ready and stops, and each idle instance's memory.
    Up(up::UpBenchArgs),
    /// Checkouts per second and their latency, open loop, on SQLite and on PostgreSQL.
    Checkout(checkout::CheckoutBenchArgs),
    /// The microservice tax: the same load mixes against `brigade up` and `brigade up
    /// --colocate` (every instance in one process), throughput per core and latency side by side.
    Colocate(colocate::ColocateBenchArgs),
    /// Events per second and publish-to-applied latency, embedded transport against NATS.
    Events(events::EventsBenchArgs),
    /// The product page with recommendations healthy, slow and dead, side by side.
    Degradation(resilience::DegradationBenchArgs),
    /// Goodput of an overloaded service with load shedding on and off.
    Shedding(resilience::SheddingBenchArgs),
    /// The storefront's home, product and cart pages against the gateway's JSON for the same
    /// data, open loop.
    Storefront(storefront::StorefrontBenchArgs),
    /// What tracing costs: the hop and the checkout with tracing off, on (100 % sampled, live
    /// receiver) and on with the receiver down, side by side.
    Telemetry(telemetry::TelemetryBenchArgs),
    /// The telemetry benchmark's OTLP receiver, run as a process of its own.
    #[command(hide = true)]
    OtlpSink(sink::SinkArgs),
}

impl Bench {
    /// Runs the benchmark and prints its figures.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Bench::Hop(args) => hop::run(args).await,
            Bench::Up(args) => up::run(args).await,
            Bench::Checkout(args) => checkout::run(args).await,
            Bench::Colocate(args) => colocate::run(args).await,
            Bench::Events(args) => events::run(args).await,
            Bench::Degradation(args) => resilience::degradation(args).await,
            Bench::Shedding(args) => resilience::shedding(args).await,
            Bench::Storefront(args) => storefront::run(args).await,
            Bench::Telemetry(args) => telemetry::run(args).await,
            Bench::OtlpSink(args) => sink::serve(args).await,
        }
    }
}
