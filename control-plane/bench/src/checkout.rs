//! `brigade bench checkout`: checkouts per second and their latency, open loop at a fixed
//! arrival rate, on the embedded stores (SQLite) and on PostgreSQL, side by side in one run.
//!
//! Each backend gets a whole system of its own (`brigade up` with the repository's manifest; on
//! PostgreSQL every service gets a fresh database of its own). Shoppers are signed in with a key
//! the services are told to trust (`BRIGADE_JWKS_FILE`), so that password hashing is not what is
//! measured; every shopper's cart is filled before the clock starts; then one checkout per
//! shopper starts at the given rate, through the gateway: five hops and three writes each. At the
//! end the promise checker reads every service.

use std::time::Duration;

use brigade_chassis::auth::{claims_for, SigningKey};
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::db::provision::{PostgresAdmin, PostgresServer};
use http::{Method, Request};
use uuid::Uuid;

use super::load::{self, Figures};
use brigade_operator::harness::Running;

/// Services that own a store, and so a database of their own on PostgreSQL.
const STORES: &[&str] = &[
    "catalog",
    "users",
    "inventory",
    "payments",
    "cart",
    "orders",
];

/// Options of `brigade bench checkout`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckoutBenchArgs {
    /// Checkouts started per second.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long checkouts keep arriving.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Which stores to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// A PostgreSQL server where the benchmark may create and drop databases.
    #[arg(
        long,
        env = "BRIGADE_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backends {
    Sqlite,
    Postgres,
    Both,
}

/// What one backend's run found.
struct Outcome {
    backend: &'static str,
    figures: Figures,
    confirmed: u64,
    other: u64,
    promises: String,
}

/// Runs the benchmark and prints its table.
pub async fn run(args: CheckoutBenchArgs) -> anyhow::Result<()> {
    let count = load::arrivals(args.rate, args.duration, "checkouts")?;
    let mut outcomes = Vec::new();
    if args.backend != Backends::Postgres {
        outcomes.push(measure("SQLite", None, &args, count).await?);
    }
    if args.backend != Backends::Sqlite {
        let databases = PostgresDatabases::create(&args.postgres_url).await?;
        let outcome = measure("PostgreSQL", Some(&databases), &args, count).await;
        databases.drop_all().await;
        outcomes.push(outcome?);
    }
    println!(
        "checkout benchmark: {count} checkouts at {} per second, open loop (latency from the \
         intended start), through the gateway",
        args.rate
    );
    println!(
        "{:<11} {:>10} {:>10} {:>10} {:>10} {:>7}  promises",
        "store", "done/s", "p50", "p99", "confirmed", "other"
    );
    for o in &outcomes {
        println!(
            "{:<11} {} {:>10} {:>7}  {}",
            o.backend,
            o.figures.rate_and_latency_columns(),
            o.confirmed,
            o.other,
            o.promises
        );
    }
    Ok(())
}

/// A fresh database per service on a PostgreSQL server, dropped at the end.
struct PostgresDatabases {
    server: PostgresServer,
    admin: PostgresAdmin,
    names: Vec<(&'static str, String)>,
}

impl PostgresDatabases {
    async fn create(admin_url: &str) -> anyhow::Result<PostgresDatabases> {
        let server = PostgresServer::parse(admin_url)?;
        let admin = server.admin().await?;
        let run = Uuid::new_v4().simple().to_string();
        let mut names = Vec::new();
        for service in STORES {
            let name = format!("brigade_bench_{service}_{}", &run[..8]);
            admin.create_if_missing(&name).await?;
            names.push((*service, name));
        }
        Ok(PostgresDatabases {
            server,
            admin,
            names,
        })
    }

    fn url(&self, service: &str) -> Option<String> {
        self.names
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, name)| self.server.database_url(name))
    }

    async fn drop_all(self) {
        for (_, name) in &self.names {
            let _ = self.admin.drop_if_exists(name).await;
        }
        self.admin.close().await;
    }
}

/// A directory for a system, a key for signing its shoppers' tokens in, and the JWKS file
/// (in the directory) that tells the services to trust it.
pub(crate) fn trusted_key() -> anyhow::Result<(tempfile::TempDir, SigningKey, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let key = SigningKey::generate("bench")?;
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(
        &jwks_path,
        serde_json::json!({ "keys": [key.public_jwk()] }).to_string(),
    )?;
    Ok((dir, key, jwks_path))
}

async fn measure(
    backend: &'static str,
    postgres: Option<&PostgresDatabases>,
    args: &CheckoutBenchArgs,
    count: usize,
) -> anyhow::Result<Outcome> {
    let (dir, key, jwks_path) = trusted_key()?;
    let started = super::up::system(dir.path(), |service| {
        let mut env = vec![
            (
                "BRIGADE_JWKS_FILE".to_owned(),
                jwks_path.display().to_string(),
            ),
            // Request logs would measure the terminal.
            ("BRIGADE_LOG".to_owned(), "warn".to_owned()),
        ];
        if let Some(url) = postgres.and_then(|p| p.url(service)) {
            env.push(("BRIGADE_DATABASE_URL".to_owned(), url));
        }
        env
    })
    .await;
    let mut running = started?;
    let result = drive(&running, &key, args, count, backend).await;
    let _ = running.stop().await;
    result
}

async fn drive(
    running: &Running,
    key: &SigningKey,
    args: &CheckoutBenchArgs,
    count: usize,
    backend: &'static str,
) -> anyhow::Result<Outcome> {
    let gateway = running.gateway_url.clone();
    let client = PlainClient::new(Duration::from_secs(30));
    let products = stocked_products(&client, running).await?;
    let tokens = filled_carts(&client, &gateway, key, &products, count).await?;
    let figures = checkouts(client, gateway, tokens, args.rate, count).await;
    let report = brigade_operator::checker::check(
        &running.control_url,
        &running.operator_credential()?,
        Duration::from_secs(60),
    )
    .await?;
    let confirmed = report.orders.get("CONFIRMED").copied().unwrap_or(0);
    let all: u64 = report.orders.values().sum();
    Ok(Outcome {
        backend,
        figures,
        confirmed,
        other: all - confirmed,
        promises: if report.holds() {
            "hold".to_owned()
        } else {
            format!("BROKEN: {}", report.violations.join("; "))
        },
    })
}

/// The first products of the catalog, `(id, sku)`, each given plenty of stock: this measures
/// the happy path, not selling out.
pub(crate) async fn stocked_products(
    client: &PlainClient,
    running: &Running,
) -> anyhow::Result<Vec<(String, String)>> {
    let gateway = &running.gateway_url;
    let products: Vec<(String, String)> = super::fixtures::listed_products(client, gateway, 20)
        .await?
        .into_iter()
        .map(|p| (p.id, p.sku))
        .collect();
    let inventory = brigade_operator::status::fetch(&running.control_url)
        .await?
        .services
        .into_iter()
        .find(|s| s.name == "inventory")
        .and_then(|s| s.instances.into_iter().find_map(|i| i.address))
        .ok_or_else(|| anyhow::anyhow!("no inventory instance"))?;
    // Setting stock is an operator's act: the benchmark proves the operator credential.
    let operator = running.operator_identity("inventory").await?;
    for (_, sku) in &products {
        let body = serde_json::json!({ "stock": 1_000_000 }).to_string();
        let request = http::Request::builder()
            .method(Method::PUT)
            .uri(format!("http://{inventory}/v1/stock/{sku}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(brigade_chassis::identity::HEADER, &operator)
            .body(body.into())?;
        client.send_request(request).await?;
    }
    Ok(products)
}

/// `count` shoppers with filled carts, before the clock starts; returns their tokens.
pub(crate) async fn filled_carts(
    client: &PlainClient,
    gateway: &str,
    key: &SigningKey,
    products: &[(String, String)],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    use futures_util::StreamExt;
    let tokens: Vec<String> = (0..count)
        .map(|i| {
            key.sign(&claims_for(
                Uuid::new_v4(),
                &format!("shopper{i}@bench.example"),
                Duration::from_secs(3600),
            ))
        })
        .collect::<Result<_, _>>()?;
    let fills = tokens.iter().enumerate().map(|(i, token)| {
        let (product, _) = &products[i % products.len()];
        let request = Request::put(format!("{gateway}/api/v1/cart/items/{product}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(r#"{"quantity":1}"#.into());
        let client = client.clone();
        async move {
            match request {
                Ok(request) => client
                    .send_request(request)
                    .await
                    .is_ok_and(|a| a.status == 200),
                Err(_) => false,
            }
        }
    });
    let filled = futures_util::stream::iter(fills)
        .buffer_unordered(32)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    anyhow::ensure!(
        filled == count,
        "only {filled} of {count} carts could be filled"
    );
    Ok(tokens)
}

/// One checkout per shopper, open loop at `rate` per second.
pub(crate) async fn checkouts(
    client: PlainClient,
    gateway: String,
    tokens: Vec<String>,
    rate: f64,
    count: usize,
) -> Figures {
    let tokens = std::sync::Arc::new(tokens);
    load::open_loop(rate, count, move |i| {
        let tokens = tokens.clone();
        let client = client.clone();
        let gateway = gateway.clone();
        async move {
            let request = Request::post(format!("{gateway}/api/v1/checkout"))
                .header("authorization", format!("Bearer {}", tokens[i]))
                .header("idempotency-key", format!("bench-{i}"))
                .header("content-type", "application/json")
                .body(r#"{"card_number":"4242424242424242"}"#.into());
            match request {
                Ok(request) => client
                    .send_request(request)
                    .await
                    .is_ok_and(|a| a.status == 201 || a.status == 202),
                Err(_) => false,
            }
        }
    })
    .await
}
