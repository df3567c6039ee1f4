//! The promise checker: reads every service's API at the end of a run and says which of the
//! brief's promises do not hold. Used by the end-to-end tests, by `brigade check`, and by chaos
//! runs. It finds the services through the registry, as any client does, and only reads.
//!
//! What it checks:
//! 1. No oversell: inventory's own audit (committed + held never above stock; counters agree
//!    with the reservations).
//! 2. No double charge: payments' own audit (at most one capture per order; the ledger agrees
//!    with every charge), and every capture that was not refunded belongs to a CONFIRMED order.
//! 3. No lost order: no order stays PENDING once the run has had `settle` to finish, and every
//!    order's downstream state matches its status (CONFIRMED: one captured charge and a
//!    committed reservation; CANCELLED: no money kept and no units held or sold).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use brigade_chassis::client::{self, ServiceClient};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::metrics::Metrics;
use inventory_api::{InventoryClient, ReservationStatus};
use orders_api::{OrderStatus, OrderStatusEntry, OrdersClient};
use payments_api::{ChargeStatus, LedgerQuery, PaymentsClient};
use tokio::time::Instant;

use crate::credential::OperatorCredential;

/// What the checker found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Orders by status.
    pub orders: BTreeMap<String, u64>,
    /// Captures and refunds in the payments ledger.
    pub captures: u64,
    pub refunds: u64,
    /// Every broken promise, one sentence each; empty when every promise holds.
    pub violations: Vec<String>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let orders: Vec<String> = self
            .orders
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(
            f,
            "orders: {}; captures {}, refunds {}",
            orders.join(", "),
            self.captures,
            self.refunds
        )?;
        if self.violations.is_empty() {
            write!(f, "every promise holds")
        } else {
            writeln!(f, "{} broken promise(s):", self.violations.len())?;
            for violation in &self.violations {
                writeln!(f, "  - {violation}")?;
            }
            Ok(())
        }
    }
}

/// The services the checker reads.
struct Clients {
    orders: OrdersClient,
    inventory: InventoryClient,
    payments: PaymentsClient,
}

impl Clients {
    /// Clients through the registry at `control_url`, calling as the operator (`credential`):
    /// the audits, the ledger and the reservations are the operator's to read.
    fn through_registry(control_url: &str, credential: &OperatorCredential) -> Clients {
        let operator = crate::operator_presenter(control_url, credential);
        let resolver = Resolver::new(Source::Registry(control_url.to_owned()));
        let metrics = Metrics::new().client;
        let client = |service: &str| {
            ServiceClient::new(
                service,
                resolver.clone(),
                metrics.clone(),
                client::Options {
                    default_timeout: Duration::from_secs(10),
                },
            )
            .with_identity(operator.clone())
        };
        Clients {
            orders: OrdersClient::new(client("orders")),
            inventory: InventoryClient::new(client("inventory")),
            payments: PaymentsClient::new(client("payments")),
        }
    }
}

/// Checks the system whose registry is at `control_url`, as the operator (`credential`),
/// giving unfinished orders up to `settle` to reach a final state first. An error means a
/// service could not be read.
pub async fn check(
    control_url: &str,
    credential: &OperatorCredential,
    settle: Duration,
) -> anyhow::Result<Report> {
    // Fail fast, and say so, when there is no system to check.
    let view = crate::status::fetch(control_url).await?;
    for needed in ["orders", "inventory", "payments"] {
        anyhow::ensure!(
            view.services
                .iter()
                .any(|s| s.name == needed && s.instances.iter().any(|i| i.registered)),
            "the system at {control_url} has no registered {needed} instance to check"
        );
    }
    let clients = Clients::through_registry(control_url, credential);
    let mut report = Report::default();

    // 3a. Wait for every saga to finish, within `settle`.
    let deadline = Instant::now() + settle;
    let audit = loop {
        let audit = clients.orders.audit_older_than(0).await?;
        if audit.unfinished.is_empty() || Instant::now() >= deadline {
            break audit;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for id in &audit.unfinished {
        report
            .violations
            .push(format!("order {id} is still PENDING after {settle:?}"));
    }
    report.orders = audit.orders;

    // 1. No oversell.
    for violation in clients.inventory.audit().await?.violations {
        report
            .violations
            .push(format!("inventory: {}", serde_json::to_string(&violation)?));
    }

    // 2a. At most one capture per order; the ledger agrees with the charges.
    let payments = clients.payments.audit().await?;
    report.captures = payments.captures;
    report.refunds = payments.refunds;
    for violation in payments.violations {
        report
            .violations
            .push(format!("payments: {}", serde_json::to_string(&violation)?));
    }

    // 3b. Each order's downstream state matches its status.
    let mut known = HashSet::new();
    let mut after = None;
    loop {
        let page = clients.orders.audit_orders(after, 500).await?;
        for order in &page.items {
            known.insert(order.id);
            check_order(&clients, order, &mut report).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }

    // 2b. No money taken for an order that orders does not know.
    let mut cursor = None;
    loop {
        let page = clients
            .payments
            .ledger(&LedgerQuery {
                order_id: None,
                after: cursor.clone(),
                limit: Some(500),
            })
            .await?;
        for entry in &page.items {
            if !known.contains(&entry.order_id) {
                report.violations.push(format!(
                    "payments has a {:?} for order {} that orders does not know",
                    entry.kind, entry.order_id
                ));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(report)
}

async fn check_order(
    clients: &Clients,
    order: &OrderStatusEntry,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (id, status) = (order.id, order.status);
    let charges = clients.payments.charges_for_order(id).await?;
    let kept = charges
        .iter()
        .filter(|c| matches!(c.status, ChargeStatus::Captured | ChargeStatus::Pending))
        .count();
    let reservation = match clients.inventory.reservation(id).await {
        Ok(reservation) => Some(reservation.status),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    match status {
        OrderStatus::Confirmed => {
            let captured = charges
                .iter()
                .filter(|c| c.status == ChargeStatus::Captured)
                .count();
            if captured != 1 {
                report.violations.push(format!(
                    "order {id} is CONFIRMED with {captured} captured charges (want 1)"
                ));
            }
            // The capture is the order's total as charged: in the currency the shopper paid
            // in, converted when it is not the catalog's.
            for charge in charges
                .iter()
                .filter(|c| c.status == ChargeStatus::Captured)
            {
                if charge.amount_minor != order.total.amount_minor
                    || charge.currency != order.total.currency
                {
                    report.violations.push(format!(
                        "order {id} charges {} {} but its capture is {} {}",
                        order.total.amount_minor,
                        order.total.currency,
                        charge.amount_minor,
                        charge.currency
                    ));
                }
            }
            if reservation != Some(ReservationStatus::Committed) {
                report.violations.push(format!(
                    "order {id} is CONFIRMED but its reservation is {reservation:?}"
                ));
            }
        }
        OrderStatus::Cancelled => {
            if kept > 0 {
                report.violations.push(format!(
                    "order {id} is CANCELLED but keeps {kept} charge(s) not refunded"
                ));
            }
            if matches!(
                reservation,
                Some(ReservationStatus::Held | ReservationStatus::Committed)
            ) {
                report.violations.push(format!(
                    "order {id} is CANCELLED but its reservation is {reservation:?}"
                ));
            }
        }
        // Already reported as unfinished.
        OrderStatus::Pending => {}
    }
    Ok(())
}

/// Options of `brigade check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub control: crate::status::ControlUrl,
    /// The audits are the operator's to read: the checker proves the operator credential.
    #[command(flatten)]
    pub operator: crate::operator_auth::cli::OperatorToken,
    /// How long unfinished orders may take to finish before they count as lost.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
}

/// `brigade check`: prints the report; fails when a promise is broken.
pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let credential = args.operator.load()?;
    let report = check(&args.control.url, &credential, args.settle).await?;
    println!("{report}");
    anyhow::ensure!(report.holds(), "promises broken");
    Ok(())
}
