//! `brigade run SERVICE [FLAGS…]`: one service in the foreground, in this process. `brigade up`
//! starts every instance this way, so that one binary carries every service (one link instead of
//! several on small machines); each service also has its own binary. Both start a service the
//! same way, through `brigade_chassis::service::run` (`brigade up --colocate` through
//! `service::run_colocated`, several in one process).

use brigade_chassis::client::Colocated;
use brigade_chassis::service::{self, Flags, RuntimeArgs};
use brigade_chassis::shutdown::Reason;

/// The services `brigade run` knows, each with its own flags.
// Parsed once per process: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Service {
    /// The catalog: products, categories and prices, with search.
    Catalog(Flags<catalog::Catalog>),
    /// Users: accounts, log-in, signed access tokens and their public keys.
    Users(Flags<users::Users>),
    /// Inventory: stock per SKU, reservations that never oversell.
    Inventory(Flags<inventory::Inventory>),
    /// Payments: a simulated card processor with idempotent charges, refunds and a ledger.
    Payments(Flags<payments::Payments>),
    /// Cart: one cart per user, priced by the catalog.
    Cart(Flags<cart::Cart>),
    /// Shipping: quotes by destination and weight, and a shipment per confirmed order.
    Shipping(Flags<shipping::Shipping>),
    /// Orders: checkout as a saga (reserve, charge, commit, or compensate), and order history.
    Orders(Flags<orders::Orders>),
    /// Recommendations: bought-together and popular products, learnt from events.
    Recommendations(Flags<recommendations::Recommendations>),
    /// Currency: supported currencies and conversion from reference rates it owns.
    Currency(Flags<currency::Currency>),
    /// Notifications: each shopper's messages, from events, sent by email when configured.
    Notifications(Flags<notifications::Notifications>),
    /// The gateway: the public JSON API under /api/v1.
    Gateway(Flags<gateway::GatewayService>),
    /// The storefront: the shop's pages.
    Storefront(Flags<storefront::StorefrontService>),
}

/// `brigade run`'s command line on its own: the service and its flags.
#[derive(Debug, clap::Parser)]
#[command(name = "run")]
pub struct RunCommand {
    #[command(subcommand)]
    pub service: Service,
}

/// `$run(flags)` with the flags of whichever service `chosen` is.
macro_rules! with_flags {
    ($chosen:expr, $flags:ident => $run:expr) => {
        match $chosen {
            Service::Catalog($flags) => $run,
            Service::Users($flags) => $run,
            Service::Inventory($flags) => $run,
            Service::Payments($flags) => $run,
            Service::Cart($flags) => $run,
            Service::Shipping($flags) => $run,
            Service::Orders($flags) => $run,
            Service::Recommendations($flags) => $run,
            Service::Currency($flags) => $run,
            Service::Notifications($flags) => $run,
            Service::Gateway($flags) => $run,
            Service::Storefront($flags) => $run,
        }
    };
}

impl Service {
    /// The runtime the chosen service asks for (`--runtime`, `--worker-threads`): `main` builds
    /// it before running the service on it.
    pub fn runtime(&self) -> &RuntimeArgs {
        with_flags!(self, flags => &flags.service.runtime)
    }
}

/// Runs `chosen` until it is asked to stop.
pub async fn run(chosen: Service) -> anyhow::Result<()> {
    with_flags!(chosen, flags => service::run(flags).await?);
    Ok(())
}

/// Runs `chosen` as one of the instances this process serves together (`brigade up
/// --colocate`), until `shutdown` resolves.
pub async fn run_colocated(
    chosen: Service,
    colocated: Colocated,
    shutdown: impl std::future::Future<Output = Reason> + Send,
) -> anyhow::Result<()> {
    with_flags!(chosen, flags => service::run_colocated(flags, colocated, shutdown).await?);
    Ok(())
}

/// Whether the built-in `service` keeps a store (declares migrations); `None` for a service
/// `brigade run` does not know, which may have one.
pub fn has_store(service: &str) -> Option<bool> {
    declared()
        .into_iter()
        .find(|d| d.name == service)
        .map(|d| d.store)
}

/// What a built-in service declares about itself, as a deployment needs it.
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    pub name: &'static str,
    /// Its `DEPENDS_ON`.
    pub depends_on: service::Dependencies,
    /// Whether it keeps a store (declares migrations), and so needs a database.
    pub store: bool,
    /// Its well-known port when it has one: an edge that people reach (gateway, storefront).
    pub public_port: Option<u16>,
}

/// Every built-in service's declaration, in `brigade run`'s order.
pub fn declared() -> Vec<Declared> {
    fn of<S: service::Service>() -> Declared {
        Declared {
            name: S::INFO.name,
            depends_on: S::DEPENDS_ON,
            store: !S::MIGRATIONS.is_empty(),
            public_port: (S::DEFAULT_PORT != 0).then_some(S::DEFAULT_PORT),
        }
    }
    vec![
        of::<catalog::Catalog>(),
        of::<users::Users>(),
        of::<inventory::Inventory>(),
        of::<payments::Payments>(),
        of::<cart::Cart>(),
        of::<shipping::Shipping>(),
        of::<orders::Orders>(),
        of::<recommendations::Recommendations>(),
        of::<currency::Currency>(),
        of::<notifications::Notifications>(),
        of::<gateway::GatewayService>(),
        of::<storefront::StorefrontService>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_service_says_whether_it_keeps_a_store() {
        for name in crate::manifest::built_in() {
            assert!(has_store(&name).is_some(), "{name}");
        }
        assert_eq!(has_store("orders"), Some(true));
        assert_eq!(has_store("gateway"), Some(false));
        assert_eq!(has_store("wishlist"), None);
    }

    #[test]
    fn every_built_in_service_declares_its_dependencies_and_only_known_ones() {
        let declared = declared();
        let names: Vec<&str> = declared.iter().map(|d| d.name).collect();
        assert_eq!(names, crate::manifest::built_in());
        for service in &declared {
            let named = service
                .depends_on
                .calls
                .iter()
                .chain(service.depends_on.consumes);
            for dependency in named {
                assert!(names.contains(dependency), "{}: {dependency}", service.name);
            }
            // A service consumes only what another publishes, and the producer's feed accepts
            // it as a reader: the two declarations cannot drift apart.
            for source in service.depends_on.consumes {
                let producer = declared.iter().find(|d| d.name == *source);
                assert!(producer.is_some_and(|p| p.depends_on.publishes), "{source}");
                assert!(
                    producer.is_some_and(|p| p.depends_on.read_by.contains(&service.name)),
                    "{source}'s DEPENDS_ON.read_by leaves out {}, which consumes its events",
                    service.name
                );
            }
            // And a feed accepts only the services that consume it.
            for reader in service.depends_on.read_by {
                assert!(service.depends_on.publishes, "{}", service.name);
                let consumer = declared.iter().find(|d| d.name == *reader);
                assert!(
                    consumer.is_some_and(|c| c.depends_on.consumes.contains(&service.name)),
                    "{}'s feed accepts {reader}, which does not consume it",
                    service.name
                );
            }
        }
    }
}
