//! Every chassis instance's `/metrics` passes `promtool check metrics` (Prometheus's own parser
//! and naming lint: base units, `_total` on counters, HELP and TYPE on every family), after it
//! has served requests, made client calls, published and consumed events and used a store; a
//! scraper asking for OpenMetrics gets the trace ids of sampled requests as exemplars on the
//! latency histograms; the scrape configurations shipped (`deploy/prometheus/`) pass
//! `promtool check config`; and the Grafana dashboard (`deploy/grafana/brigade.json`) parses and
//! queries only metrics the chassis exposes, and shows every one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use brigade_chassis::db::Tx;
use brigade_chassis::events::{self, Envelope, Handle, Handled, Subscription};
use brigade_chassis::metrics as chassis_metrics;
use brigade_chassis::plain::PlainClient;
use brigade_chassis::testing::{self, Instance};
use http::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

use crate::events::CONSUMER;
use crate::support::{get_answer, start_ticking_ledger, Ticked};

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
        let ledger = ctx.client("ledger")?;
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
        let answer = get_answer(&client, &format!("{}/v1/tick", tally.url())).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    // A miss, so that the not-found route's series exist too.
    let answer = get_answer(&client, &format!("{}/v1/nowhere", tally.url())).await;
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

/// What `promtool check config` says of `config`: passed (SUCCESS, no warning), and its words.
async fn check_config(promtool: &Path, config: &Path) -> (bool, String) {
    let path = config.display().to_string();
    let (ok, said) = run(promtool, &["check", "config", &path], "").await;
    // promtool says what it warns about alongside SUCCESS: none is wanted.
    (
        ok && said.contains("SUCCESS") && !said.contains("WARNING"),
        said,
    )
}

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

#[tokio::test]
async fn the_scrape_configurations_for_brigade_up_and_kubernetes_pass_promtool() {
    let Some(promtool) = promtool() else { return };
    let brigade_up = deploy("prometheus/brigade-up.yml");
    let (ok, said) = check_config(&promtool, &brigade_up).await;
    assert!(
        ok,
        "promtool check config {}:\n{said}",
        brigade_up.display()
    );

    let kubernetes = deploy("prometheus/kubernetes.yml");
    let (ok, said) = check_config(&promtool, &kubernetes).await;
    if ok {
        return;
    }
    // Debian builds Prometheus without Kubernetes discovery, so its promtool does not know the
    // field. Then everything else (the relabelling rules, their regexes and actions) is checked
    // with the discovery block swapped for a static target.
    assert!(
        said.contains("field kubernetes_sd_configs not found"),
        "promtool check config {}:\n{said}",
        kubernetes.display()
    );
    eprintln!("this promtool has no Kubernetes discovery: checking the rest of kubernetes.yml");
    let text = std::fs::read_to_string(&kubernetes).unwrap();
    let discovery = "    kubernetes_sd_configs:\n      - role: pod\n";
    assert!(text.contains(discovery), "{text}");
    let swapped = text.replace(
        discovery,
        "    static_configs:\n      - targets: [\"10.0.0.7:8080\"]\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let stand_in = dir.path().join("kubernetes-static.yml");
    std::fs::write(&stand_in, swapped).unwrap();
    let (ok, said) = check_config(&promtool, &stand_in).await;
    assert!(
        ok,
        "promtool check config (kubernetes.yml, static):\n{said}"
    );
}

/// A `traceparent` of a new trace, sampled or not: (the header, the trace id).
fn traceparent(sampled: bool) -> (String, String) {
    let trace = brigade_chassis::trace_context::TraceContext::new_root();
    let flags = if sampled { "01" } else { "00" };
    let id = trace.trace_id_hex();
    (format!("00-{id}-{}-{flags}", trace.span_id_hex()), id)
}

/// `GET url` with `headers`: the answer.
async fn get_with(url: &str, headers: &[(&str, &str)]) -> brigade_chassis::plain::Answer {
    let mut request = http::Request::builder().method(Method::GET).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    PlainClient::default().send_request(request).await.unwrap()
}

/// The OpenMetrics exposition of `instance`, as Prometheus asks for it.
async fn openmetrics(instance: &Instance) -> String {
    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let answer = get_with(
        &format!("{}/metrics", instance.url()),
        &[("accept", prometheus_accept)],
    )
    .await;
    let media_type = answer.headers.get(http::header::CONTENT_TYPE).unwrap();
    assert!(
        media_type
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{media_type:?}"
    );
    String::from_utf8(answer.body.to_vec()).unwrap()
}

/// Whether `exposition` has a bucket of `histogram` whose labels include `labels` and whose
/// exemplar is trace `trace_id`.
fn has_exemplar(exposition: &str, histogram: &str, labels: &str, trace_id: &str) -> bool {
    let exemplar = format!(" # {{trace_id=\"{trace_id}\"}} ");
    exposition.lines().any(|line| {
        line.starts_with(&format!("{histogram}_bucket{{"))
            && line.contains(labels)
            && line.contains(&exemplar)
    })
}

#[tokio::test]
async fn latency_histograms_carry_the_trace_of_a_sampled_request_in_openmetrics_only() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let ledger = start_ticking_ledger(&["--database-url", &ledger_db]).await;
    let peers = format!("ledger={}", ledger.address);
    let caller = Instance::start_custom(CONSUMER, &["--peers", &peers], |ctx| async move {
        let ledger = ctx.client("ledger")?;
        Ok(Router::new().route(
            "/v1/tick",
            get(move || async move {
                match ledger.call(Method::POST, "/v1/ticks", None).await {
                    Ok(_) => StatusCode::NO_CONTENT,
                    Err(_) => StatusCode::BAD_GATEWAY,
                }
            }),
        ))
    })
    .await;
    let (sampled, sampled_id) = traceparent(true);
    let (unsampled, unsampled_id) = traceparent(false);
    let url = format!("{}/v1/tick", caller.url());
    for header in [&sampled, &unsampled] {
        let answer = get_with(&url, &[("traceparent", header)]).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }

    let caller_metrics = openmetrics(&caller).await;
    assert!(caller_metrics.ends_with("# EOF\n"), "{caller_metrics}");
    let served = "http_server_request_duration_seconds";
    let called = "http_client_request_duration_seconds";
    assert!(
        has_exemplar(&caller_metrics, served, "route=\"/v1/tick\"", &sampled_id),
        "no exemplar of trace {sampled_id} on the caller's served request:\n{caller_metrics}"
    );
    assert!(
        has_exemplar(
            &caller_metrics,
            called,
            "dependency=\"ledger\"",
            &sampled_id
        ),
        "no exemplar of trace {sampled_id} on the caller's call:\n{caller_metrics}"
    );
    // The trace went on to the callee, whose histogram points at it too.
    let ledger_metrics = openmetrics(&ledger).await;
    assert!(
        has_exemplar(&ledger_metrics, served, "route=\"/v1/ticks\"", &sampled_id),
        "no exemplar of trace {sampled_id} on the callee:\n{ledger_metrics}"
    );
    // An unsampled trace is recorded nowhere: no exemplar points at it.
    assert!(!caller_metrics.contains(&unsampled_id), "{caller_metrics}");
    assert!(!ledger_metrics.contains(&unsampled_id), "{ledger_metrics}");

    // The Prometheus text format has no exemplars, and promtool still finds nothing to say.
    let plain = caller.metrics().await;
    assert!(
        plain.contains(served) && !plain.contains(&sampled_id),
        "{plain}"
    );
    if let Some(promtool) = promtool() {
        assert_clean(&promtool, "the caller", &caller).await;
    }
    caller.stop().await.unwrap();
    ledger.stop().await.unwrap();
}

/// A store pool for the dashboard's registry.
struct Pool;

impl chassis_metrics::PoolUsage for Pool {
    fn pool_usage(&self) -> (u32, u32) {
        (1, 2)
    }
}

/// Every family the chassis exposes, each with a series: the Prometheus text of a registry
/// whose every instrument has been used once.
fn every_chassis_family() -> String {
    use chassis_metrics::*;
    let metrics = Metrics::new();
    let route = RouteLabels {
        route: "/v1/x".into(),
        method: "GET",
    };
    let status = RouteStatusLabels {
        route: "/v1/x".into(),
        method: "GET",
        status: 500,
    };
    let dependency = DependencyLabels {
        dependency: "catalog".into(),
    };
    let server = &metrics.server;
    server.requests.get_or_create(&status).inc();
    server.errors.get_or_create(&status).inc();
    server
        .duration
        .get_or_create(&route)
        .observe(0.01, None, None);
    server.shed.get_or_create(&route).inc();
    server
        .injected_faults
        .get_or_create(&FaultLabels {
            route: "/v1/x".into(),
            kind: "latency",
        })
        .inc();
    let client = &metrics.client;
    client
        .requests
        .get_or_create(&DependencyOutcomeLabels {
            dependency: "catalog".into(),
            outcome: Outcome::Timeout,
        })
        .inc();
    client
        .duration
        .get_or_create(&dependency)
        .observe(0.01, None, None);
    client.in_flight.get_or_create(&dependency).set(1);
    client.retries.get_or_create(&dependency).inc();
    client.breaker_state.get_or_create(&dependency).set(1);
    client
        .breaker_transitions
        .get_or_create(&BreakerTransitionLabels {
            dependency: "catalog".into(),
            state: "open",
        })
        .inc();
    client
        .rejected
        .get_or_create(&RejectionLabels {
            dependency: "catalog".into(),
            reason: "breaker_open",
        })
        .inc();
    client
        .retry_budget_exhausted
        .get_or_create(&dependency)
        .inc();
    client.ejections.get_or_create(&dependency).inc();
    metrics
        .events
        .consumer("notifications-orders")
        .applied
        .inc();
    metrics.register_db_pool(Pool);
    metrics.register_info("catalog", "test", "catalog-1");
    metrics.encode()
}

/// The metric names a PromQL expression selects: its identifiers, less label matchers (`{…}`),
/// ranges (`[…]`), strings, Grafana variables (`$x`), functions and aggregations (followed by
/// `(`), their label lists (`by (…)`) and the binary operators' keywords.
fn promql_metric_names(expr: &str) -> Vec<String> {
    // Blank out what is inside braces, brackets and quotes.
    let mut outside = String::with_capacity(expr.len());
    let (mut depth, mut quote, mut escaped) = (0, None, false);
    for c in expr.chars() {
        let inside = depth > 0 || quote.is_some();
        match c {
            _ if escaped => escaped = false,
            '\\' if quote.is_some() => escaped = true,
            '"' | '\'' if quote == Some(c) => quote = None,
            '"' | '\'' if quote.is_none() => quote = Some(c),
            '{' | '[' if quote.is_none() => depth += 1,
            '}' | ']' if quote.is_none() => depth -= 1,
            _ => {}
        }
        outside.push(if inside || depth > 0 || quote.is_some() {
            ' '
        } else {
            c
        });
    }
    // Binary operators' keywords, and the aggregations (which may be followed by `by (…)`
    // rather than `(`).
    const KEYWORDS: [&str; 21] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
        "atan2",
        "ignoring",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = outside.chars().collect();
    let mut names = Vec::new();
    let mut at = 0;
    let mut skip_list = false;
    while at < chars.len() {
        let c = chars[at];
        if skip_list && c == '(' {
            // A label list: skip to its closing parenthesis.
            while at < chars.len() && chars[at] != ')' {
                at += 1;
            }
            skip_list = false;
            at += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            if !c.is_whitespace() {
                skip_list = false;
            }
            at += 1;
            continue;
        }
        let start = at;
        while at < chars.len() && (chars[at].is_ascii_alphanumeric() || "_:".contains(chars[at])) {
            at += 1;
        }
        let word: String = chars[start..at].iter().collect();
        let after_digit =
            start > 0 && (chars[start - 1].is_ascii_digit() || chars[start - 1] == '.');
        let variable = start > 0 && chars[start - 1] == '$';
        let next = chars[at..].iter().find(|c| !c.is_whitespace());
        skip_list = LABEL_LISTS.contains(&word.as_str());
        if skip_list {
            continue;
        }
        if !(after_digit || variable || next == Some(&'(') || KEYWORDS.contains(&word.as_str())) {
            names.push(word);
        }
    }
    names
}

#[test]
fn promql_metric_names_are_the_selectors_only() {
    let expr = "histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~\"$service\",le!=\"x\"}[$__rate_interval]))) / on (job) group_left b_total + 1e3 * max without (instance) (c)";
    assert_eq!(promql_metric_names(expr), ["a_bucket", "b_total", "c"]);
}

#[test]
fn the_grafana_dashboard_queries_only_metrics_the_chassis_exposes_and_shows_them_all() {
    let path = deploy("grafana/brigade.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));

    let exposition = every_chassis_family();
    let samples: BTreeSet<&str> = exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap())
        .collect();
    let families: BTreeSet<(&str, &str)> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();

    // Every query: each panel's targets, and the variables'.
    let mut queries: Vec<(String, String)> = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut rows = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "{title}: id used twice"
        );
        if panel["type"] == "row" {
            rows.push(title);
            continue;
        }
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} queries nothing");
        for target in targets {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            queries.push((title.to_owned(), expr.to_owned()));
        }
    }
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let names: Vec<&str> = variables
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(
        names.contains(&"service") && names.contains(&"instance"),
        "{names:?}"
    );
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        let query = variable["query"]["query"].as_str().expect("a query");
        let selector = query
            .strip_prefix("label_values(")
            .and_then(|q| q.rsplit_once(','))
            .map(|(selector, _)| selector)
            .expect("label_values(selector, label)");
        queries.push((
            format!("variable {}", variable["name"]),
            selector.to_owned(),
        ));
    }
    for wanted in [
        "Overview",
        "Latency",
        "Dependencies",
        "shedding",
        "Events",
        "Store",
    ] {
        assert!(
            rows.iter()
                .any(|row| row.to_lowercase().contains(&wanted.to_lowercase())),
            "no {wanted} row in {rows:?}"
        );
    }

    let mut shown = BTreeSet::new();
    for (title, expr) in &queries {
        let names = promql_metric_names(expr);
        assert!(!names.is_empty(), "{title}: no metric in {expr}");
        for name in names {
            assert!(
                samples.contains(name.as_str()),
                "{title}: `{name}` is not a metric the chassis exposes (in {expr})"
            );
            shown.insert(name);
        }
    }
    for (family, kind) in families {
        let series = match kind {
            "histogram" => vec![
                format!("{family}_bucket"),
                format!("{family}_sum"),
                format!("{family}_count"),
            ],
            _ => vec![family.to_owned()],
        };
        assert!(
            series.iter().any(|s| shown.contains(s)),
            "the dashboard shows nothing of {family} ({kind})"
        );
    }
}
