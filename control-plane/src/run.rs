//! `brigade run SERVICE [FLAGS…]`: one service in the foreground, in this process. `brigade up`
//! starts every instance this way, so that one binary carries every service (one link instead of
//! several on small machines); each service also has its own binary.

/// The services `brigade run` knows, each with its own flags.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Service {
    /// The catalog: products, categories and prices, with search.
    Catalog(catalog::Args),
    /// The gateway: the public JSON API under /api/v1.
    Gateway(gateway::Args),
}

/// Runs `service` until it is asked to stop.
pub async fn run(service: Service) -> anyhow::Result<()> {
    match service {
        Service::Catalog(args) => catalog::main_with(args).await,
        Service::Gateway(args) => gateway::main_with(args).await,
    }
}
