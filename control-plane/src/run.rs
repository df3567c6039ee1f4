//! `brigade run SERVICE [FLAGS…]`: one service in the foreground, in this process. `brigade up`
//! starts every instance this way, so that one binary carries every service (one link instead of
//! several on small machines); each service also has its own binary.

/// The services `brigade run` knows, each with its own flags.
// Parsed once per process: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Service {
    /// The catalog: products, categories and prices, with search.
    Catalog(catalog::Args),
    /// Users: accounts, log-in, signed access tokens and their public keys.
    Users(users::Args),
    /// Inventory: stock per SKU, reservations that never oversell.
    Inventory(inventory::Args),
    /// Payments: a simulated card processor with idempotent charges, refunds and a ledger.
    Payments(payments::Args),
    /// Cart: one cart per user, priced by the catalog.
    Cart(cart::Args),
    /// Orders: checkout as a saga (reserve, charge, commit, or compensate), and order history.
    Orders(orders::Args),
    /// Recommendations: bought-together and popular products, learnt from events.
    Recommendations(recommendations::Args),
    /// The gateway: the public JSON API under /api/v1.
    Gateway(gateway::Args),
}

/// Runs `service` until it is asked to stop.
pub async fn run(service: Service) -> anyhow::Result<()> {
    match service {
        Service::Catalog(args) => catalog::main_with(args).await,
        Service::Users(args) => users::main_with(args).await,
        Service::Inventory(args) => inventory::main_with(args).await,
        Service::Payments(args) => payments::main_with(args).await,
        Service::Cart(args) => cart::main_with(args).await,
        Service::Orders(args) => orders::main_with(args).await,
        Service::Recommendations(args) => recommendations::main_with(args).await,
        Service::Gateway(args) => gateway::main_with(args).await,
    }
}
