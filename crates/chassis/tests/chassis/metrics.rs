//! Every chassis instance's `/metrics` passes `promtool check metrics` (Prometheus's own parser
//! and naming lint: base units, `_total` on counters, HELP and TYPE on every family), after it
//! has served requests, made client calls, published and consumed events and used a store; and
//! the scrape configuration shipped for `brigade up` (`deploy/prometheus/brigade-up.yml`)
//! passes `promtool check config`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use brigade_chassis::db::Tx;
use brigade_chassis::events::{self, Envelope, Handle, Handled, Subscription};
use brigade_chassis::plain::PlainClient;
use brigade_chassis::testing::{self, Instance};
use http::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

use crate::events::CONSUMER;
use crate::support::{start_ticking_ledger, Ticked};

/// promtool (`PROMTOOL`, else Debian's `/usr/bin/promtool`), or `None` (skipped) when it is not
/// installed outside CI.
fn promtool() -> Option<PathBuf> {
    let path = std::env::var("PROMTOOL")
        .map_or_else(|_| PathBuf::from("/usr/bin/promtool"), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !testing::required_backends(),
        "CI=true but promtool is missing: apt-get install prometheus"
    );
    eprintln!("skipped: promtool is missing (apt-get install prometheus)");
    None
}

/// What `promtool args…` says about `input` (on its stdin): its exit status and output.
async fn run(promtool: &Path, args: &[&str], input: &str) -> (bool, String) {
    let mut child = tokio::process::Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// Fails on anything promtool has to say about `instance`'s exposition.
async fn assert_clean(promtool: &Path, name: &str, instance: &Instance) {
    let exposition = instance.metrics().await;
    let (ok, said) = run(promtool, &["check", "metrics"], &exposition).await;
    assert!(
        ok && said.trim().is_empty(),
        "promtool check metrics on {name}'s /metrics:\n{said}\n--- exposition:\n{exposition}"
    );
}

/// Says when an event was handled.
struct Seen(tokio::sync::mpsc::UnboundedSender<()>);

impl Handle<Ticked> for Seen {
    async fn handle(&self, _tx: &mut Tx, _event: Ticked, _envelope: &Envelope) -> Handled {
        let _ = self.0.send(());
        Ok(())
    }
}

#[tokio::test]
async fn every_instances_metrics_pass_promtool_after_requests_calls_events_and_a_store() {
    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ledger_db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let tally_db = format!("sqlite://{}", dir.path().join("tally.db").display());

    // `ledger`: a store, and an event in the outbox per tick.
    let flags = ["--database-url", &ledger_db];
    let ledger = start_ticking_ledger(&flags).await;

    // `tally`: consumes ledger's events into a store, and calls ledger (client metrics).
    let (seen, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let peers = format!("ledger={}", ledger.address);
    let flags = ["--database-url", &tally_db, "--peers", &peers];
    let tally = Instance::start_custom(CONSUMER, &flags, move |mut ctx| async move {
        let db = ctx.open_store(&[events::INBOX_MIGRATION]).await?;
        let subscription = Subscription::new("ledger").on::<Ticked, _>(Seen(seen));
        ctx.subscribe(&db, subscription).await?;
        let ledger = ctx.client("ledger");
        Ok(Router::new().route(
            "/v1/tick",
            get(move || async move {
                let ok = ledger.call(Method::POST, "/v1/ticks", None).await.is_ok();
                if ok {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::BAD_GATEWAY
                }
            }),
        ))
    })
    .await;

    let client = PlainClient::default();
    for _ in 0..3 {
        let answer = client
            .send(Method::GET, &format!("{}/v1/tick", tally.url()), None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    // A miss, so that the not-found route's series exist too.
    let answer = client
        .send(Method::GET, &format!("{}/v1/nowhere", tally.url()), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), handled.recv())
            .await
            .expect("the event was not handled in time");
    }

    assert_clean(&promtool, "ledger", &ledger).await;
    assert_clean(&promtool, "tally", &tally).await;
    tally.stop().await.unwrap();
    ledger.stop().await.unwrap();
}

#[tokio::test]
async fn the_scrape_configuration_for_brigade_up_passes_promtool() {
    let Some(promtool) = promtool() else { return };
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/brigade-up.yml");
    let config = config.display().to_string();
    let (ok, said) = run(&promtool, &["check", "config", &config], "").await;
    assert!(
        ok && said.contains("SUCCESS"),
        "promtool check config {config}:\n{said}"
    );
    // promtool says what it warns about alongside SUCCESS: none is wanted.
    assert!(
        !said.contains("WARNING"),
        "promtool check config {config}:\n{said}"
    );
}
