//! What a service declares ([`Service`]) and the one way every service is started from it:
//! [`main`] for a service's own binary, [`run`] for the control plane's `brigade run SERVICE`,
//! both with the flags of [`Flags`]: the chassis' [`ServiceArgs`] next to the service's own.
//!
//! A new service writes its business code, an `impl Service`, and a `main.rs` of three lines:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     brigade_chassis::service::main::<catalog::Catalog>()
//! }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser};

use super::{lifecycle, Context, Dependencies, Error, ServiceArgs, ServiceInfo};
use crate::client::Colocated;
use crate::db::Migration;
use crate::shutdown;
use crate::BoxError;

/// A service, as the chassis runs it: who it is, its own flags, its store's schema, and how a
/// starting instance builds its routes.
pub trait Service: Send + 'static {
    /// Its name (logs, metrics, registration, discovery), version and [`Service::DEPENDS_ON`].
    const INFO: ServiceInfo;
    /// What it depends on: the services it calls, the event feeds it consumes, whether it
    /// publishes. The one declaration of its edges: the chassis refuses a client, subscription
    /// or outbox beyond it, and `brigade deploy render` makes the deployment's network policies
    /// from it. (Whether it needs a database follows from [`Service::MIGRATIONS`].)
    const DEPENDS_ON: Dependencies;
    /// The name of its own binary, shown by `--help` and `--version`.
    const BINARY: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The store's schema, applied at start. When there is one, the chassis opens the store
    /// before [`Service::build`] (see [`Context::store`]); a service without it has no store.
    const MIGRATIONS: &'static [Migration] = &[];
    /// The port when `--listen` is not given; 0 picks a free one.
    const DEFAULT_PORT: u16 = 0;

    /// The service's own flags, parsed next to the chassis' [`ServiceArgs`] ([`NoArgs`] for
    /// none).
    type Args: Args + Clone + std::fmt::Debug + Send + 'static;

    /// Everything a starting instance does before it serves: publish and subscribe to events,
    /// start its background work ([`super::Background::spawn_periodic`]), and build its routes. Every step
    /// must be safe when another instance does the same at the same moment.
    fn build(
        ctx: Context,
        args: Self::Args,
    ) -> impl Future<Output = Result<Router, BoxError>> + Send;
}

/// Declares who a service is inside its `impl Service`: its [`Service::INFO`] (the name given,
/// the version of the crate that invokes the macro, the impl's [`Service::DEPENDS_ON`]),
/// [`Service::BINARY`] (`brigade-NAME`) and [`Service::ABOUT`]:
///
/// ```ignore
/// impl Service for Catalog {
///     brigade_chassis::service_identity!("catalog", "Brigade's catalog service: products");
///     const DEPENDS_ON: Dependencies = Dependencies { publishes: true, ..Dependencies::NONE };
///     // …
/// }
/// ```
#[macro_export]
macro_rules! service_identity {
    ($name:literal, $about:literal) => {
        const INFO: $crate::service::ServiceInfo = $crate::service::ServiceInfo {
            name: $name,
            version: env!("CARGO_PKG_VERSION"),
            depends_on: <Self as $crate::service::Service>::DEPENDS_ON,
        };
        const BINARY: &'static str = concat!("brigade-", $name);
        const ABOUT: &'static str = $about;
    };
}

/// The own flags of a service that has none.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct NoArgs {}

/// The command line of service `S`: the chassis' flags and the service's own.
pub struct Flags<S: Service> {
    pub service: ServiceArgs,
    pub own: S::Args,
}

impl<S: Service> Clone for Flags<S> {
    fn clone(&self) -> Self {
        Flags {
            service: self.service.clone(),
            own: self.own.clone(),
        }
    }
}

impl<S: Service> std::fmt::Debug for Flags<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flags")
            .field("service", &self.service)
            .field("own", &self.own)
            .finish()
    }
}

impl<S: Service> FromArgMatches for Flags<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Flags {
            service: ServiceArgs::from_arg_matches(matches)?,
            own: S::Args::from_arg_matches(matches)?,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.service.update_from_arg_matches(matches)?;
        self.own.update_from_arg_matches(matches)
    }
}

impl<S: Service> Args for Flags<S> {
    fn augment_args(cmd: Command) -> Command {
        S::Args::augment_args(ServiceArgs::augment_args(cmd))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        S::Args::augment_args_for_update(ServiceArgs::augment_args_for_update(cmd))
    }
}

impl<S: Service> CommandFactory for Flags<S> {
    fn command() -> Command {
        Self::named(Self::augment_args(Command::new(S::BINARY)))
    }

    fn command_for_update() -> Command {
        Self::named(Self::augment_args_for_update(Command::new(S::BINARY)))
    }
}

impl<S: Service> Flags<S> {
    /// Names the service's command. After the flags: a flattened `clap::Args` sets the command's
    /// about text from its own documentation.
    fn named(command: Command) -> Command {
        command
            .about(S::ABOUT)
            .long_about(None)
            .version(S::INFO.version)
    }
}

impl<S: Service> Parser for Flags<S> {}

/// The `main` of service `S`'s own binary: parses the command line (a bad flag exits with
/// clap's usage error), runs the service on the runtime its flags ask for (`--runtime`) until it
/// is asked to stop, and reports why it could not run, if it could not.
pub fn main<S: Service>() -> ExitCode {
    let flags = Flags::<S>::parse();
    let outcome = flags
        .service
        .runtime
        .build()
        .map_err(Error::Runtime)
        .and_then(|runtime| runtime.block_on(run::<S>(flags)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs service `S` with `flags` until it is asked to stop (SIGTERM, Ctrl-C, or its
/// supervisor going away).
pub async fn run<S: Service>(flags: Flags<S>) -> Result<(), Error> {
    let (args, own) = flags.with_default_listen();
    lifecycle::run(S::INFO, args, move |ctx| build::<S>(ctx, own)).await
}

/// Runs service `S` with `flags` as one of the instances this process serves together
/// (`brigade up --colocate`) until `shutdown` resolves: it listens and registers as [`run`]
/// does, is served in-process through `colocated`, and calls `colocated`'s instances
/// in-process.
pub async fn run_colocated<S: Service>(
    flags: Flags<S>,
    colocated: Colocated,
    shutdown: impl Future<Output = shutdown::Reason>,
) -> Result<(), Error> {
    let (args, own) = flags.with_default_listen();
    lifecycle::run_colocated(
        S::INFO,
        args,
        move |ctx| build::<S>(ctx, own),
        shutdown,
        colocated,
    )
    .await
}

impl<S: Service> Flags<S> {
    /// The chassis' flags, listening on the service's well-known port unless told otherwise;
    /// and the service's own.
    fn with_default_listen(self) -> (ServiceArgs, S::Args) {
        let mut args = self.service;
        if args.listen.is_none() {
            args.listen = Some(SocketAddr::from(([127, 0, 0, 1], S::DEFAULT_PORT)));
        }
        (args, self.own)
    }
}

/// How the chassis builds an instance of `S`: its store first, when it declares one, then
/// whatever the service builds. Public so that tests start instances exactly as `main` does.
pub async fn build<S: Service>(mut ctx: Context, own: S::Args) -> Result<Router, BoxError> {
    if !S::MIGRATIONS.is_empty() {
        ctx.open_store(S::MIGRATIONS).await?;
    }
    S::build(ctx, own).await
}

/// Whether a starting instance makes sure its sample data is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleData {
    Load,
    Skip,
}

/// What a service with sample data says about `--no-seed`: its environment variable and help.
pub trait Seeded {
    /// The variable that sets `--no-seed`, `BRIGADE_<SERVICE>_NO_SEED`.
    const NO_SEED_ENV: &'static str;
    /// The help of `--no-seed`: what the sample data is.
    const NO_SEED_HELP: &'static str;
}

/// The `--no-seed` flag of service `S` (the service's own flags, or part of them): whether a
/// starting instance loads the sample data into an empty store.
pub struct SeedArgs<S> {
    pub sample: SampleData,
    of: PhantomData<fn() -> S>,
}

impl<S> SeedArgs<S> {
    pub fn new(sample: SampleData) -> SeedArgs<S> {
        SeedArgs {
            sample,
            of: PhantomData,
        }
    }
}

impl<S> Clone for SeedArgs<S> {
    fn clone(&self) -> Self {
        SeedArgs::new(self.sample)
    }
}

impl<S> std::fmt::Debug for SeedArgs<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedArgs")
            .field("sample", &self.sample)
            .finish()
    }
}

/// The id of the `--no-seed` argument in clap's matches.
const NO_SEED: &str = "no_seed";

impl<S: Seeded> FromArgMatches for SeedArgs<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let skip = matches.get_flag(NO_SEED);
        Ok(SeedArgs::new(if skip {
            SampleData::Skip
        } else {
            SampleData::Load
        }))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<S: Seeded> Args for SeedArgs<S> {
    fn augment_args(cmd: Command) -> Command {
        cmd.arg(
            Arg::new(NO_SEED)
                .long("no-seed")
                .env(S::NO_SEED_ENV)
                .help(S::NO_SEED_HELP)
                .action(ArgAction::SetTrue)
                .value_parser(clap::builder::BoolishValueParser::new()),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shop;

    impl Seeded for Shop {
        const NO_SEED_ENV: &'static str = "BRIGADE_SHOP_TEST_NO_SEED";
        const NO_SEED_HELP: &'static str = "Do not load the sample shop.";
    }

    impl Service for Shop {
        const INFO: ServiceInfo = ServiceInfo {
            name: "shop",
            version: "1.2.3",
            depends_on: Self::DEPENDS_ON,
        };
        const DEPENDS_ON: Dependencies = Dependencies::NONE;
        const BINARY: &'static str = "brigade-shop";
        const ABOUT: &'static str = "A shop for tests";
        type Args = SeedArgs<Shop>;

        async fn build(_ctx: Context, _args: Self::Args) -> Result<Router, BoxError> {
            Ok(Router::new())
        }
    }

    fn parse(argv: &[&str]) -> Result<Flags<Shop>, clap::Error> {
        Flags::<Shop>::try_parse_from(argv)
    }

    #[test]
    fn no_seed_is_a_flag() {
        let sample = |argv: &[&str]| parse(argv).map(|f| f.own.sample).ok();
        assert_eq!(sample(&["brigade-shop"]), Some(SampleData::Load));
        assert_eq!(
            sample(&["brigade-shop", "--no-seed"]),
            Some(SampleData::Skip)
        );
        assert_eq!(sample(&["brigade-shop", "--no-seed=yes"]), None);
    }

    #[test]
    fn the_command_names_the_service_and_has_both_sets_of_flags() {
        let mut command = Flags::<Shop>::command();
        let help = command.render_help().to_string();
        assert!(help.contains("A shop for tests"), "{help}");
        assert!(help.contains("--no-seed"), "{help}");
        assert!(help.contains("[env: BRIGADE_SHOP_TEST_NO_SEED=]"), "{help}");
        assert!(help.contains("--database-url"), "{help}");
        assert_eq!(command.render_version().trim(), "brigade-shop 1.2.3");
        let flags = parse(&["brigade-shop", "--listen", "127.0.0.1:9"]).unwrap();
        assert_eq!(
            flags.service.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9)))
        );
    }
}
