//! `brigade bench storefront`: the storefront's pages (home, product, cart) against the
//! gateway's JSON that carries the same data, side by side in one system, open loop.
//!
//! One whole system (the built-in manifest, SQLite). Before the clock: signed-up shoppers, each
//! with a cart of a few products ([`shoppers`]). Then for each page, `--rounds` rounds of one
//! phase per side, alternating which side goes first, each phase `--rate` pages per second for
//! `--duration`, latency from each page's intended start. A page on the gateway side is every
//! JSON request a client needs for what the HTML page shows, sent at once:
//!
//! | page | storefront | gateway |
//! |---|---|---|
//! | home | `/` | `/categories`, `/products?sort=newest&page_size=8`, `/me/recommendations?limit=8` |
//! | product | `/products/{id}` | `/products/{id}/page` (product, availability, recommendations) |
//! | cart | `/cart` | `/cart` |
//!
//! Every request is a signed-in shopper's (the session cookie, or the bearer token), so the
//! home page's popular products are the shopper's on both sides.

mod shoppers;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_operator::harness::Running;
use brigade_operator::output::human_duration;

use super::fixtures::{self, Listed};
use super::load::{self, Figures};
use shoppers::Shopper;

/// Options of `brigade bench storefront`.
#[derive(Debug, Clone, clap::Args)]
pub struct StorefrontBenchArgs {
    /// Pages requested per second, in every phase.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// How long each phase lasts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Rounds per page, each one phase per side; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Signed-up shoppers the pages are spread over.
    #[arg(long, default_value_t = 20)]
    pub shoppers: usize,
    /// Which pages to measure (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "home,product,cart"
    )]
    pub pages: Vec<Page>,
}

/// A page of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Page {
    Home,
    Product,
    Cart,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::Home => "home",
            Page::Product => "product",
            Page::Cart => "cart",
        }
    }
}

/// Which way the page is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Storefront,
    Gateway,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Storefront => "storefront HTML",
            Side::Gateway => "gateway JSON",
        }
    }
}

/// Where the two sides answer.
#[derive(Debug, Clone)]
pub struct Sites {
    pub storefront: String,
    pub gateway: String,
}

/// Products in each shopper's cart.
const PER_CART: usize = 3;
/// The products the product pages go round.
const PRODUCTS: usize = 20;
/// How many products the home page shows in each shelf (the storefront's `FEATURED`, `POPULAR`).
const SHELF: u32 = 8;

fn check(args: &StorefrontBenchArgs) -> anyhow::Result<usize> {
    let count = load::arrivals(args.rate, args.duration, "pages")?;
    anyhow::ensure!(
        (1..=20).contains(&args.rounds),
        "--rounds takes 1 to 20, got {}",
        args.rounds
    );
    anyhow::ensure!(
        (1..=500).contains(&args.shoppers),
        "--shoppers takes 1 to 500, got {}",
        args.shoppers
    );
    anyhow::ensure!(!args.pages.is_empty(), "--pages needs at least one page");
    // Warm-up included: one extra second per side and page.
    let phases = (args.pages.len() * 2) as u32;
    let measuring = (args.duration * args.rounds as u32 + Duration::from_secs(1)) * phases;
    anyhow::ensure!(
        measuring <= shoppers::SIGNED_IN_FOR * 2 / 3,
        "--duration × --rounds × 2 sides × {} page(s) is {}: the shoppers' sign-in lasts {}, so \
         keep it under {}",
        args.pages.len(),
        human_duration(measuring),
        human_duration(shoppers::SIGNED_IN_FOR),
        human_duration(shoppers::SIGNED_IN_FOR * 2 / 3)
    );
    Ok(count)
}

/// Runs `brigade bench storefront` and prints its table.
pub async fn run(args: StorefrontBenchArgs) -> anyhow::Result<()> {
    let count = check(&args)?;
    let dir = tempfile::tempdir()?;
    let mut running = super::up::system(dir.path(), |_| {
        // Request logs would measure the terminal.
        vec![("BRIGADE_LOG".to_owned(), "warn".to_owned())]
    })
    .await?;
    let result = measure(&running, &args, count).await;
    let _ = running.stop().await;
    let (rows, failures) = result?;
    print_table(&args, count, &rows);
    for ((page, side), reason, times) in failures {
        println!("{} {}: {times} × {reason}", page.name(), side.label());
    }
    Ok(())
}

/// The most frequent failure of each page and side that had any, and how often it happened.
type Failures = Vec<((Page, Side), String, u64)>;

/// One page's medians on each side.
struct Row {
    page: Page,
    storefront: Figures,
    gateway: Figures,
}

async fn measure(
    running: &Running,
    args: &StorefrontBenchArgs,
    count: usize,
) -> anyhow::Result<(Vec<Row>, Failures)> {
    let client = PlainClient::new(Duration::from_secs(30));
    let sites = Sites {
        storefront: running.storefront_url.clone(),
        gateway: running.gateway_url.clone(),
    };
    let products = fixtures::listed_products(&client, &sites.gateway, PRODUCTS).await?;
    let shoppers = shoppers::prepare(&client, &sites, &products, args.shoppers, PER_CART).await?;
    let target = Arc::new(Target {
        client,
        sites,
        products,
        shoppers,
        failures: Mutex::default(),
    });
    let warm_up = (args.rate.ceil() as usize).min(count);
    let mut rows = Vec::new();
    for &page in &args.pages {
        // Connections, caches and the first page's allocations, on both sides, untimed.
        for side in [Side::Storefront, Side::Gateway] {
            phase(&target, page, side, args.rate, warm_up).await;
        }
        target.forget_failures(page);
        let (mut storefront, mut gateway) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            // Alternating which side goes first evens out a machine that drifts.
            let order = if round % 2 == 0 {
                [Side::Storefront, Side::Gateway]
            } else {
                [Side::Gateway, Side::Storefront]
            };
            for side in order {
                let figures = phase(&target, page, side, args.rate, count).await;
                match side {
                    Side::Storefront => storefront.push(figures),
                    Side::Gateway => gateway.push(figures),
                }
            }
        }
        rows.push(Row {
            page,
            storefront: load::median(&storefront),
            gateway: load::median(&gateway),
        });
    }
    Ok((rows, target.failures()))
}

/// What the pages are asked of, and as whom.
struct Target {
    client: PlainClient,
    sites: Sites,
    products: Vec<Listed>,
    shoppers: Vec<Shopper>,
    /// Why requests failed, per page and side: a count of errors alone does not say what broke.
    failures: Mutex<BTreeMap<(Page, Side), BTreeMap<String, u64>>>,
}

impl Target {
    /// The paths of `page` on `side` for the `i`th request (shoppers and products in turn).
    fn urls(&self, page: Page, side: Side, i: usize) -> Vec<String> {
        let product = &self.products[i % self.products.len()].id;
        let (storefront, gateway) = (&self.sites.storefront, &self.sites.gateway);
        match (side, page) {
            (Side::Storefront, Page::Home) => vec![format!("{storefront}/")],
            (Side::Storefront, Page::Product) => vec![format!("{storefront}/products/{product}")],
            (Side::Storefront, Page::Cart) => vec![format!("{storefront}/cart")],
            (Side::Gateway, Page::Home) => vec![
                format!("{gateway}/api/v1/categories"),
                format!("{gateway}/api/v1/products?sort=newest&page_size={SHELF}"),
                format!("{gateway}/api/v1/me/recommendations?limit={SHELF}"),
            ],
            (Side::Gateway, Page::Product) => {
                vec![format!("{gateway}/api/v1/products/{product}/page")]
            }
            (Side::Gateway, Page::Cart) => vec![format!("{gateway}/api/v1/cart")],
        }
    }

    /// Fetches the `i`th `page` on `side` as shopper `i`; true when every answer was a 200.
    async fn visit(&self, page: Page, side: Side, i: usize) -> bool {
        let shopper = &self.shoppers[i % self.shoppers.len()];
        let (cookie, token) = match side {
            Side::Storefront => (Some(shopper.cookie.as_str()), None),
            Side::Gateway => (None, Some(shopper.token.as_str())),
        };
        let fetches = self.urls(page, side, i).into_iter().map(|url| async move {
            let failure = match shoppers::get(&self.client, &url, cookie, token).await {
                Ok(answer) if answer.status == 200 => return true,
                Ok(answer) => format!("{} from {}", answer.status, path_of(&url)),
                Err(error) => error.to_string(),
            };
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            *failures
                .entry((page, side))
                .or_default()
                .entry(failure)
                .or_default() += 1;
            false
        });
        futures_util::future::join_all(fetches)
            .await
            .into_iter()
            .all(|ok| ok)
    }

    /// Forgets the failures of `page` seen so far: its warm-up's.
    fn forget_failures(&self, page: Page) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.retain(|(of, _), _| *of != page);
    }

    /// The most frequent reason of failure of each page and side that had any.
    fn failures(&self) -> Vec<((Page, Side), String, u64)> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .iter()
            .filter_map(|(at, reasons)| {
                let (reason, count) = reasons.iter().max_by_key(|(_, count)| **count)?;
                Some((*at, reason.clone(), *count))
            })
            .collect()
    }
}

/// The path of `url`, without the host the run picked.
fn path_of(url: &str) -> &str {
    url.trim_start_matches("http://")
        .find('/')
        .map_or(url, |at| &url["http://".len() + at..])
}

async fn phase(target: &Arc<Target>, page: Page, side: Side, rate: f64, count: usize) -> Figures {
    let target = target.clone();
    load::open_loop(rate, count, move |i| {
        let target = target.clone();
        async move { target.visit(page, side, i).await }
    })
    .await
}

fn print_table(args: &StorefrontBenchArgs, count: usize, rows: &[Row]) {
    println!(
        "storefront pages against the gateway's JSON for the same data, one system: {count} \
         pages at {} per second per phase, open loop (latency from the intended start), {} \
         round(s) per side (medians; errors summed), {} signed-in shoppers with {PER_CART} products in each cart",
        args.rate, args.rounds, args.shoppers
    );
    println!(
        "{:<8} {:<16} {:>10} {:>10} {:>10} {:>8}  storefront/gateway",
        "page", "path", "pages/s", "p50", "p99", "errors"
    );
    for row in rows {
        let name = row.page.name();
        for (side, figures) in [
            (Side::Storefront, row.storefront),
            (Side::Gateway, row.gateway),
        ] {
            let ratios = match side {
                Side::Storefront => format!(
                    "p50 ×{:.2}, p99 ×{:.2}",
                    load::ratio(row.storefront.p50, row.gateway.p50),
                    load::ratio(row.storefront.p99, row.gateway.p99)
                ),
                Side::Gateway => String::new(),
            };
            println!(
                "{name:<8} {:<16} {} {:>8}  {ratios}",
                side.label(),
                figures.rate_and_latency_columns(),
                figures.errors
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        args: StorefrontBenchArgs,
    }

    fn parsed(flags: &[&str]) -> Result<StorefrontBenchArgs, clap::Error> {
        let argv = std::iter::once("storefront").chain(flags.iter().copied());
        Command::try_parse_from(argv).map(|c| c.args)
    }

    fn refused(flags: &[&str]) -> String {
        let args = parsed(flags).expect("flags that parse");
        check(&args).expect_err("flags to refuse").to_string()
    }

    #[test]
    fn the_defaults_are_the_issues_target_rate_on_every_page() {
        let args = parsed(&[]).unwrap();
        assert_eq!(check(&args).unwrap(), 2_000);
        assert_eq!(args.pages, [Page::Home, Page::Product, Page::Cart]);
        assert_eq!(args.rounds, 3);
    }

    #[test]
    fn pages_are_chosen_by_name_and_an_unknown_one_is_a_usage_error() {
        assert_eq!(
            parsed(&["--pages", "cart,home"]).unwrap().pages,
            [Page::Cart, Page::Home]
        );
        let error = parsed(&["--pages", "basket"]).unwrap_err().to_string();
        assert!(error.contains("basket"), "{error}");
    }

    #[test]
    fn bad_flags_are_refused_saying_which_and_why() {
        assert!(refused(&["--rate", "0"]).contains("--rate"));
        assert!(refused(&["--rate", "9000"]).contains("--rate"));
        assert!(refused(&["--rounds", "0"]).contains("--rounds"));
        assert!(refused(&["--shoppers", "0"]).contains("--shoppers"));
        assert!(refused(&["--duration", "1ms", "--rate", "10"]).contains("at least one"));
        // A run longer than the shoppers stay signed in would measure log-in pages.
        assert!(refused(&["--duration", "2m"]).contains("sign-in"));
        assert!(parsed(&["--duration", "soon"]).is_err());
    }
}
