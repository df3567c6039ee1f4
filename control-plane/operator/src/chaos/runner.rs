//! `brigade chaos scenario`: a fault schedule applied to a running system under load.
//!
//! Before the clock starts: the scenario is checked against the system, products are restocked
//! and one fresh shopper per checkout signs up and fills a cart. Then, for the scenario's
//! duration, checkouts start at a fixed rate whatever the answers (open loop), each shopper
//! browsing a product page alongside, while the steps are applied at their times. At the end
//! every fault is cleared and paused instance resumed, the last requests finish, and the promise
//! checker says whether the system kept its promises.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::operator::Operator;
use super::scenario::Scenario;
use super::shoppers::{BrowseCounts, CheckoutCounts, Product, Shop};
use crate::checker;
use crate::credential::OperatorCredential;
use crate::output::human_duration;

/// The most checkouts one run prepares shoppers for.
pub const MAX_CHECKOUTS: usize = 10_000;

/// How many shoppers sign up at once before the run (password hashing is the cost).
const SIGN_UP_CONCURRENCY: usize = 4;

/// How a scenario runs.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// Checkouts started per second.
    pub rate: f64,
    /// How long unfinished orders get to settle before the promise checker judges them.
    pub settle: Duration,
    /// Print progress and each step as it happens.
    pub verbose: bool,
    /// The operator credential: a scenario restocks, sets faults and reads the audits as the
    /// operator.
    pub credential: Option<OperatorCredential>,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            rate: 20.0,
            settle: Duration::from_secs(30),
            verbose: true,
            credential: None,
        }
    }
}

/// What happened to one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    pub number: usize,
    /// When it was due, from the start of the run.
    pub at: Duration,
    /// When it was applied, from the start of the run.
    pub applied_at: Duration,
    pub action: String,
    /// What it did, or why it could not.
    pub result: Result<String, String>,
}

impl std::fmt::Display for StepLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:>8}] step {}: ",
            human_duration(self.applied_at),
            self.number
        )?;
        // What was done says what was asked; a failure needs both.
        match &self.result {
            Ok(done) => f.write_str(done),
            Err(error) => write!(f, "{} FAILED: {error}", self.action),
        }
    }
}

/// What a scenario run found.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub steps: Vec<StepLog>,
    pub checkouts: CheckoutCounts,
    pub browse: BrowseCounts,
    /// The promise checker's verdict after the run.
    pub promises: checker::Report,
}

impl ScenarioReport {
    /// True when every promise held (faulted requests may fail; promises may not break).
    pub fn holds(&self) -> bool {
        self.promises.holds()
    }
}

impl std::fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "steps:")?;
        for step in &self.steps {
            writeln!(f, "  {step}")?;
        }
        let c = &self.checkouts;
        writeln!(
            f,
            "checkouts: {} — confirmed {}, cancelled {}, pending {}, failed {} ({} needed retries)",
            c.total(),
            c.confirmed,
            c.cancelled,
            c.pending,
            c.failed,
            c.retried
        )?;
        for (reason, count) in &c.failures {
            writeln!(f, "  failed {count}× with {reason}")?;
        }
        let b = &self.browse;
        writeln!(
            f,
            "browsing: {} product pages, {:.1}% shown ({} with recommendations)",
            b.pages,
            b.success_rate() * 100.0,
            b.recommendations_ok
        )?;
        write!(f, "promises: {}", self.promises)
    }
}

/// Runs `scenario` against the system whose control plane is at `control_url`.
pub async fn run_scenario(
    control_url: &str,
    scenario: &Scenario,
    options: &ScenarioOptions,
) -> anyhow::Result<ScenarioReport> {
    anyhow::ensure!(
        options.rate > 0.0 && options.rate <= 1000.0,
        "--rate takes checkouts per second, more than 0 and at most 1000, got {}",
        options.rate
    );
    let count = (options.rate * scenario.duration.as_secs_f64()).round() as usize;
    anyhow::ensure!(
        (1..=MAX_CHECKOUTS).contains(&count),
        "--rate × duration makes {count} checkouts; it must make 1 to {MAX_CHECKOUTS}"
    );
    let say = |line: String| {
        if options.verbose {
            println!("{line}");
        }
    };
    // Restocking, request faults and the promise checker's reads are the operator's, as are
    // kills and pauses: a scenario runs as the operator.
    let credential = options.credential.clone().context(
        "a scenario restocks, sets faults and checks promises as the operator: it needs the \
         operator credential",
    )?;
    let operator = Operator::new(control_url).authenticated(credential.clone());
    let view = operator.view().await?;
    scenario.check_services(&view)?;
    let gateway = view
        .gateway_url
        .clone()
        .context("the system has no registered gateway to send shoppers to")?;
    let inventory = view
        .services
        .iter()
        .filter(|s| s.name == "inventory")
        .flat_map(|s| s.instances.iter())
        .find_map(|i| i.address.clone())
        .context("the system has no inventory instance to restock")?;

    let shop = Shop::new(&gateway);
    let products = shop.products(20).await?;
    let as_operator = crate::operator_presenter(control_url, &credential);
    for product in &products {
        shop.restock(&inventory, &as_operator, &product.sku, count as u64)
            .await?;
    }
    say(format!(
        "restocked {} products; signing up {count} shoppers, each with a filled cart",
        products.len()
    ));
    let prepared = Instant::now();
    let shoppers = prepare_shoppers(&shop, &products, count).await?;
    say(format!(
        "{count} shoppers ready in {}; running for {} at {} checkouts/s",
        human_duration(prepared.elapsed()),
        humantime::format_duration(scenario.duration),
        options.rate
    ));

    let load = drive(&operator, &shop, scenario, options, shoppers, &products).await;
    // Whatever happened, leave no fault behind.
    let cleared = operator.clear(None).await;
    let (steps, checkouts, browse) = load?;
    // The end of the load cleared them already; this one is for a run that failed midway.
    cleared.context("cannot clear the faults after the run")?;
    say(format!(
        "checking promises (unfinished orders get {} to settle)",
        human_duration(options.settle)
    ));
    let promises = checker::check(control_url, &credential, options.settle).await?;
    Ok(ScenarioReport {
        steps,
        checkouts,
        browse,
        promises,
    })
}

/// The tokens of `count` new shoppers, each with a product in their cart.
async fn prepare_shoppers(
    shop: &Shop,
    products: &[Product],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prepared: Vec<anyhow::Result<String>> = futures_util::stream::iter(0..count)
        .map(|i| {
            let product = &products[i % products.len()];
            let email = format!("chaos-{}-{i}@scenario.example", &run[..8]);
            async move {
                shop.shopper(&email, product)
                    .await
                    .with_context(|| format!("cannot prepare shopper {email}"))
            }
        })
        .buffered(SIGN_UP_CONCURRENCY)
        .collect()
        .await;
    prepared.into_iter().collect()
}

type Load = (Vec<StepLog>, CheckoutCounts, BrowseCounts);

/// The timed part: steps at their times, checkouts and page views at the rate; returns once
/// every request has finished, after clearing the faults at the end of the duration.
async fn drive(
    operator: &Operator,
    shop: &Shop,
    scenario: &Scenario,
    options: &ScenarioOptions,
    shoppers: Vec<String>,
    products: &[Product],
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let verbose = options.verbose;
    let schedule: Vec<_> = scenario.schedule().into_iter().cloned().collect();
    let steps_operator = operator.clone();
    let steps = tokio::spawn(async move {
        let mut logs = Vec::new();
        for step in schedule {
            tokio::time::sleep_until(started + step.at).await;
            let result = steps_operator
                .apply(&step.action)
                .await
                .map_err(|e| format!("{e:#}"));
            let log = StepLog {
                number: step.number,
                at: step.at,
                applied_at: started.elapsed(),
                action: step.action.to_string(),
                result,
            };
            if verbose {
                println!("{log}");
            }
            logs.push(log);
        }
        logs
    });

    let checkouts = Arc::new(Mutex::new(CheckoutCounts::default()));
    let browse = Arc::new(Mutex::new(BrowseCounts::default()));
    let mut requests = JoinSet::new();
    let run = uuid::Uuid::new_v4().simple().to_string();
    for (i, token) in shoppers.into_iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / options.rate)).await;
        let (shop, checkouts, browse) = (shop.clone(), checkouts.clone(), browse.clone());
        let page = products[(i * 7 + 3) % products.len()].clone();
        let key = format!("chaos-{}-{i}", &run[..8]);
        requests.spawn(async move {
            let ((outcome, retries), (shown, recommended)) =
                tokio::join!(shop.checkout(&token, &key), shop.browse(&page));
            if let Ok(mut counts) = checkouts.lock() {
                counts.record(outcome, retries);
            }
            if let Ok(mut counts) = browse.lock() {
                counts.pages += 1;
                counts.ok += u64::from(shown);
                counts.recommendations_ok += u64::from(recommended);
            }
        });
    }
    tokio::time::sleep_until(started + scenario.duration).await;
    let logs = steps.await.context("the step runner failed")?;
    // Clear before waiting, so that requests stuck behind a fault can finish.
    match operator.clear(None).await {
        Ok(done) if verbose => println!(
            "[{:>8}] end of the scenario: {done}",
            human_duration(started.elapsed())
        ),
        Ok(_) => {}
        Err(error) if verbose => println!("cannot clear the faults yet: {error:#}"),
        Err(_) => {}
    }
    while requests.join_next().await.is_some() {}
    let checkouts = checkouts.lock().map(|c| c.clone()).unwrap_or_default();
    let browse = browse.lock().map(|b| b.clone()).unwrap_or_default();
    Ok((logs, checkouts, browse))
}
