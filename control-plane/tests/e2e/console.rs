//! The console in headless Chromium against a running system (`brigade up --chaos`): a
//! checkout found in the trace list and drawn as one waterfall across the services and the
//! consumers of its events, with its logs beside it; the logs tab streaming and filtered by
//! service; a service scaled up and down from its replica buttons; a breaker opened by `brigade
//! chaos latency` shown open; an instance paused and resumed from its buttons; a service kept
//! dead shown down; before all that, the login through the link `brigade up` printed, and a
//! forged request from another page refused. Screenshots of every tab go to
//! `$BRIGADE_ARTIFACTS` (default `target/artifacts/console`), kept by CI. Skipped without
//! Chromium, except under `CI=true`.
//!
//! Every check polls the page until it shows what is awaited, with a deadline: the console
//! refreshes every second or few, and spans arrive in batches.

use std::path::PathBuf;
use std::time::Duration;

use brigade_chassis::testing::chromium::{
    artifacts_dir, click, screenshot, wait_for_script, Driver, PATIENCE,
};
use brigade_chassis::testing::webdriver::Client;
use brigade_operator::chaos::keep_dead::KeepDead;
use serde_json::{json, Value};

use crate::chaos::chaos_ok;
use crate::support::shop::{get, product, traced_checkout};
use crate::support::System;

/// What "within a few seconds" means for a change the console must show: its views refresh
/// every 1 to 3 s, and the services' metrics are scraped every 2 s, so this leaves room for a
/// loaded machine without waiting forever.
const FEW_SECONDS: Duration = Duration::from_secs(15);

/// Spans leave each instance in batches, every few seconds.
const SPANS_ARRIVE: Duration = Duration::from_secs(30);

/// Opens `tab` of the console (the URL's hash chooses it).
async fn open(browser: &Client, system: &System, tab: &str) {
    browser.goto(&format!("{}/#{tab}", system.control)).await;
}

/// Waits until the page has an element that `css` selects; fails after `patience`.
async fn shows(browser: &Client, css: &str, what: &str, patience: Duration) {
    let script = format!("return document.querySelectorAll({css:?}).length");
    wait_for_script(browser, &script, what, patience).await;
}

/// Saves a screenshot of the page as it is now, named after what it shows.
async fn keep(browser: &Client, name: &str) {
    let dir: PathBuf = artifacts_dir("BRIGADE_ARTIFACTS", "artifacts/console");
    screenshot(browser, &dir, name).await;
}

/// The console's door: no console without the login; a wrong link refused; the link `brigade
/// up` printed logs in, leaves the address bar without the secret, and sets a cookie no script
/// reads. Then a page of another origin on the same host (the gateway's, same *site*) posts a
/// pause with that cookie, as a cross-site request forgery would: nothing is paused.
async fn log_in(browser: &Client, system: &System) {
    browser.goto(&format!("{}/", system.control)).await;
    shows(
        browser,
        "#login-needed",
        "the page that asks for the login link",
        PATIENCE,
    )
    .await;
    keep(browser, "login-needed").await;
    let console = browser
        .execute("return document.querySelectorAll('#resources, script').length")
        .await;
    assert_eq!(console, json!(0), "no console, no script without the login");
    browser
        .goto(&format!("{}/login?t=not-the-credential", system.control))
        .await;
    shows(
        browser,
        "#login-refused",
        "a wrong login link refused",
        PATIENCE,
    )
    .await;

    let link = system
        .running
        .printed_login_link()
        .expect("brigade up printed the console's login link");
    browser.goto(&link).await;
    shows(
        browser,
        "#resources",
        "the console after the login",
        PATIENCE,
    )
    .await;
    let at = browser.execute("return location.href").await;
    assert_eq!(
        at,
        json!(format!("{}/", system.control)),
        "the secret left the address bar"
    );
    let cookies = browser.execute("return document.cookie").await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("brigade_operator"),
        "{cookies}"
    );

    browser.goto(&format!("{}/livez", system.gateway)).await;
    browser
        .execute(&format!(
            "window.forged = null;
             fetch({:?}, {{method: 'POST', mode: 'no-cors', credentials: 'include'}})
               .then(() => {{ window.forged = 'answered'; }}, (e) => {{ window.forged = String(e); }});
             return true;",
            format!("{}/v1/chaos/instances/shipping-1/pause", system.control)
        ))
        .await;
    wait_for_script(
        browser,
        "return window.forged",
        "the forged request settled",
        PATIENCE,
    )
    .await;
    let (status, state) = get(&format!("{}/v1/chaos", system.control)).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(
        state["paused"],
        json!([]),
        "a forged request paused an instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_checkout_its_logs_a_breaker_and_instances_down() {
    let Some((driver, chromium)) = Driver::start().await else {
        return;
    };
    let system = System::up_with_args(None, &["--chaos"]).await;
    let browser = driver.session(&chromium).await;
    log_in(&browser, &system).await;

    // Resources: every instance up.
    open(&browser, &system, "resources").await;
    wait_for_script(
        &browser,
        "const rows = document.querySelectorAll('#resources-services tr[data-slot]');
         return rows.length > 0 && [...rows].every((r) => r.dataset.status === 'up');",
        "every instance up",
        PATIENCE,
    )
    .await;
    keep(&browser, "resources").await;

    // A service's replica count, changed from its − and + buttons.
    click(
        &browser,
        "button[aria-label='scale up recommendations to 2 instances']",
    )
    .await;
    wait_for_script(
        &browser,
        "const card = document.querySelector('section[data-service=recommendations]');
         const rows = card.querySelectorAll('tr[data-slot]');
         return rows.length === 2 && [...rows].every((r) => r.dataset.status === 'up')
           && card.querySelector('output').textContent === '2 ×';",
        "recommendations scaled to two instances, both up",
        FEW_SECONDS,
    )
    .await;
    keep(&browser, "resources-scaled").await;
    click(
        &browser,
        "button[aria-label='scale down recommendations to 1 instances']",
    )
    .await;
    wait_for_script(
        &browser,
        "const card = document.querySelector('section[data-service=recommendations]');
         return card.querySelectorAll('tr[data-slot]').length === 1
           && card.querySelector('output').textContent === '1 ×';",
        "recommendations back to one instance",
        FEW_SECONDS,
    )
    .await;

    // A checkout, found in the trace list by its id once the list is narrowed to the traces
    // through payments (the catalog's start-up events make thousands of traces of their own).
    let trace_id = "c0501ec0c0501ec0c0501ec0c0501ec0";
    let order = traced_checkout(
        &system.gateway,
        "grace@example.com",
        "grace-console",
        trace_id,
    )
    .await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    open(&browser, &system, "traces").await;
    wait_for_script(
        &browser,
        "const s = document.getElementById('traces-service'); s.value = 'payments';
         if (s.value !== 'payments') return false;
         document.getElementById('traces-filters').requestSubmit(); return true;",
        "payments among the services to filter by",
        PATIENCE,
    )
    .await;
    let row = format!("#traces-list tr[data-trace-id='{trace_id}'] a");
    shows(
        &browser,
        &row,
        "the checkout in the trace list",
        SPANS_ARRIVE,
    )
    .await;
    click(&browser, &row).await;

    // Its waterfall: the request through the services it called, and the consumers of the
    // events it published (their traces link to it), drawn as consumer spans.
    let wanted = ["gateway", "orders", "inventory", "payments", "cart"];
    let covered = wait_for_script(
        &browser,
        &format!(
            "const shown = new Set([...document.querySelectorAll('#trace-detail .waterfall [data-service]')]
               .map((e) => e.dataset.service));
             return {wanted:?}.every((w) => shown.has(w)) ? [...shown].sort() : null;"
        ),
        "the checkout's waterfall across gateway, orders, inventory, payments and the cart's consumer",
        SPANS_ARRIVE,
    )
    .await;
    eprintln!("the checkout's waterfall covers {covered}");
    shows(
        &browser,
        "#trace-detail .waterfall [data-kind=consumer]",
        "a consumer's span in the waterfall",
        PATIENCE,
    )
    .await;
    // A span's attributes on click; the request's log lines beside the waterfall.
    click(&browser, "#trace-detail .waterfall button").await;
    shows(
        &browser,
        "#span-attributes table",
        "the chosen span's attributes",
        PATIENCE,
    )
    .await;
    shows(
        &browser,
        "#trace-detail .trace-logs .log-line",
        "the trace's log lines",
        PATIENCE,
    )
    .await;
    keep(&browser, "traces").await;

    // Logs: the live stream, then only one service's lines.
    open(&browser, &system, "logs").await;
    shows(&browser, "#logs-lines .log-line", "log lines", PATIENCE).await;
    wait_for_script(
        &browser,
        "const s = document.getElementById('logs-service'); s.value = 'orders';
         if (s.value !== 'orders') return false;
         s.dispatchEvent(new Event('change')); return true;",
        "orders among the services to filter by",
        PATIENCE,
    )
    .await;
    let services: Value = wait_for_script(
        &browser,
        "const lines = [...document.querySelectorAll('#logs-lines .log-line')];
         return lines.length && lines.every((l) => l.dataset.service === 'orders')
           ? [...new Set(lines.map((l) => l.dataset.service))] : null;",
        "only the orders service's lines",
        PATIENCE,
    )
    .await;
    assert_eq!(services, json!(["orders"]));
    keep(&browser, "logs").await;

    // Map and services, as the last minutes left them.
    open(&browser, &system, "map").await;
    shows(&browser, "#map-graph .edge", "the map's edges", PATIENCE).await;
    keep(&browser, "map").await;
    open(&browser, &system, "services").await;
    shows(
        &browser,
        "#services-list .card canvas",
        "the services' charts",
        PATIENCE,
    )
    .await;
    keep(&browser, "services").await;

    // A breaker opened by `brigade chaos latency`: recommendations slowed to 2 s, product pages
    // through the gateway stop waiting for it, and the gateway's breaker for it shows open.
    // Pages keep coming while the console is watched, as under real traffic, so that a breaker
    // probing half-open finds the latency still there.
    chaos_ok(&system, &["latency", "recommendations", "2s"]).await;
    let id = product(&system.gateway, 0).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = format!("{}/api/v1/products/{id}/page", system.gateway);
    let traffic = tokio::spawn(async move {
        loop {
            let (status, body) = get(&page).await;
            assert_eq!(status, 200, "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    shows(
        &browser,
        "#services-list [data-service=gateway] tr[data-dependency=recommendations][data-breaker=open]",
        "the gateway's recommendations breaker open",
        FEW_SECONDS,
    )
    .await;
    browser
        .execute("document.querySelector('#services-list [data-service=gateway]').scrollIntoView(); return true;")
        .await;
    keep(&browser, "services-breaker-open").await;
    traffic.abort();
    chaos_ok(&system, &["clear"]).await;

    // An instance paused from its button shows as paused, and comes back on Resume.
    open(&browser, &system, "resources").await;
    let shipping = "#resources-services tr[data-slot='shipping-1']";
    let pause = format!("{shipping} button[aria-label='Pause shipping-1']");
    shows(&browser, &pause, "shipping-1's pause button", PATIENCE).await;
    click(&browser, &pause).await;
    let resume = format!("{shipping}[data-status=paused] button[aria-label='Resume shipping-1']");
    shows(&browser, &resume, "shipping-1 paused", FEW_SECONDS).await;
    click(&browser, &resume).await;
    let up = format!("{shipping}[data-status=up]");
    shows(&browser, &up, "shipping-1 up again", PATIENCE).await;

    // A killed instance (kept dead: the supervisor would restart after one kill within its
    // backoff) shows as down within a few seconds.
    let dead = KeepDead::start(&system.control, "recommendations")
        .await
        .unwrap();
    shows(
        &browser,
        "#resources-services tr[data-slot='recommendations-1'][data-status=down]",
        "recommendations-1 down",
        FEW_SECONDS,
    )
    .await;
    keep(&browser, "resources-down").await;
    dead.stop().await;
    browser.close().await;
}
