//! The store's caps, filters and cursor; the API through the whole control port, bad input
//! refused with problems.

use std::time::Duration;

use http::StatusCode;

use super::{Caps, Filter, Level, LogLine, LogStore, Source};
use crate::testing::get;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A chassis JSON line, as `tracing_subscriber`'s JSON layer writes it inside a request span.
fn json_line(level: &str, message: &str, trace: &str) -> String {
    serde_json::json!({
        "timestamp": "2026-12-06T11:06:44.123456Z",
        "level": level,
        "message": message,
        "sku": "SKU-1",
        "target": "orders::checkout",
        "span": {
            "trace_id": trace,
            "span_id": "00f067aa0ba902b7",
            "request_id": "r-1",
            "route": "/v1/checkout",
            "name": "request"
        }
    })
    .to_string()
}

/// Keeps a chassis line of trace [`TRACE`].
fn push(store: &LogStore, service: &str, instance: u32, level: &str, message: &str) -> LogLine {
    store.push(
        service,
        instance,
        Source::Stdout,
        &json_line(level, message, TRACE),
    )
}

fn all(limit: usize) -> Filter {
    Filter {
        limit,
        ..Filter::default()
    }
}

fn messages(store: &LogStore, filter: &Filter) -> Vec<String> {
    store
        .query(filter)
        .lines
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[test]
fn a_chassis_line_is_read_into_its_parts_and_any_other_line_kept_as_text() {
    let store = LogStore::default();
    let line = push(&store, "orders", 2, "WARN", "out of stock");
    assert_eq!(line.level, Some(Level::Warn));
    assert_eq!(line.message, "out of stock");
    assert_eq!(line.trace_id.as_deref(), Some(TRACE));
    assert_eq!(line.span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(line.time, "2026-12-06T11:06:44.123456Z");
    assert_eq!(line.fields["sku"], "SKU-1");
    assert_eq!(line.fields["request_id"], "r-1");
    assert!(!line.fields.contains_key("name"));
    assert_eq!(
        line.render(),
        format!(
            "11:06:44.123 WARN  out of stock request_id=r-1 route=/v1/checkout sku=SKU-1 \
             trace_id={TRACE}"
        )
    );

    let panic = store.push(
        "orders",
        2,
        Source::Stderr,
        "thread 'main' panicked at src/main.rs:3:5",
    );
    assert!(panic.text);
    assert_eq!(panic.level, None);
    assert_eq!(panic.message, "thread 'main' panicked at src/main.rs:3:5");
    assert!(panic.render().contains(" -     thread 'main' panicked"));
    // Kept as text, not lost: a `{` that is not JSON.
    assert!(store.push("orders", 2, Source::Stdout, "{ not json").text);
}

#[test]
fn filters_keep_a_service_an_instance_a_trace_a_level_and_above_and_text() {
    let store = LogStore::default();
    let other = "ab".repeat(16);
    push(&store, "orders", 1, "INFO", "o1 info");
    push(&store, "orders", 2, "ERROR", "o2 error");
    push(&store, "payments", 1, "DEBUG", "p1 debug");
    store.push(
        "payments",
        1,
        Source::Stdout,
        &json_line("WARN", "p1 warn", &other),
    );
    store.push("payments", 1, Source::Stderr, "a text line");

    let with = |f: fn(&mut Filter)| {
        let mut filter = all(100);
        f(&mut filter);
        messages(&store, &filter)
    };
    assert_eq!(
        with(|f| f.service = Some("orders".into())),
        ["o1 info", "o2 error"]
    );
    assert_eq!(
        with(|f| {
            f.service = Some("orders".into());
            f.instance = Some(2);
        }),
        ["o2 error"]
    );
    assert_eq!(
        with(|f| f.trace_id = Some(TRACE.into())),
        ["o1 info", "o2 error", "p1 debug"]
    );
    assert_eq!(
        with(|f| f.level = Some(Level::Warn)),
        ["o2 error", "p1 warn"]
    );
    assert_eq!(
        with(|f| f.level = Some(Level::Trace)).len(),
        4,
        "text has no level"
    );
    assert_eq!(with(|f| f.grep = Some("text".into())), ["a text line"]);
    // Fields are searched as they are shown.
    assert_eq!(with(|f| f.grep = Some("sku=SKU-1".into())).len(), 4);
}

#[test]
fn the_oldest_lines_go_past_an_instances_cap_and_past_the_total() {
    let store = LogStore::new(Caps {
        per_instance: 3,
        lines: 5,
        line_bytes: 10,
    });
    for n in 1..=4 {
        store.push("chatty", 1, Source::Stdout, &format!("c{n}"));
    }
    // The instance's own cap: its oldest went.
    assert_eq!(messages(&store, &all(100)), ["c2", "c3", "c4"]);
    store.push("quiet", 1, Source::Stdout, "q1");
    store.push("quiet", 1, Source::Stdout, "q2");
    store.push("quiet", 1, Source::Stdout, "q3");
    // The total's cap: the oldest of all went, whichever instance wrote it.
    assert_eq!(messages(&store, &all(100)), ["c3", "c4", "q1", "q2", "q3"]);
    assert_eq!(store.dropped(), 2);
    // A long line is cut, on a character.
    let long = store.push("quiet", 1, Source::Stdout, "ééééééééé");
    assert_eq!(long.message, "ééééé");
}

#[test]
fn the_cursor_gives_the_lines_after_it_once_and_the_latest_without_it() {
    let store = LogStore::default();
    for n in 1..=5 {
        store.push("orders", 1, Source::Stdout, &format!("line {n}"));
    }
    let latest = store.query(&all(2));
    assert_eq!(
        latest
            .lines
            .iter()
            .map(|l| &l.message[..])
            .collect::<Vec<_>>(),
        ["line 4", "line 5"]
    );
    assert_eq!(latest.next, 5);
    // Following from the start, two at a time: every line exactly once, in order.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.query(&Filter {
            after: Some(after),
            ..all(2)
        });
        if page.lines.is_empty() {
            break;
        }
        seen.extend(page.lines.into_iter().map(|l| l.message));
        after = page.next;
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], "line 5");
    assert!(store
        .query(&Filter {
            after: Some(latest.next),
            ..all(10)
        })
        .lines
        .is_empty());
}

#[tokio::test]
async fn a_follower_waits_for_a_matching_line_and_no_longer() {
    let store = LogStore::default();
    store.push("orders", 1, Source::Stdout, "before");
    let filter = Filter {
        after: Some(1),
        level: Some(Level::Error),
        ..all(10)
    };
    let writer = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.push(
            "orders",
            1,
            Source::Stdout,
            &json_line("INFO", "not this", TRACE),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.push(
            "orders",
            1,
            Source::Stdout,
            &json_line("ERROR", "this", TRACE),
        );
    });
    let page = tokio::time::timeout(
        Duration::from_secs(5),
        store.wait_for(filter.clone(), Duration::from_secs(4)),
    )
    .await
    .unwrap();
    assert_eq!(page.lines.len(), 1);
    assert_eq!(page.lines[0].message, "this");
    assert_eq!(page.next, 3);

    // Nothing more: an empty page when the time is up, with the cursor moved on.
    let started = tokio::time::Instant::now();
    let page = store
        .wait_for(
            Filter {
                after: Some(3),
                ..filter
            },
            Duration::from_millis(100),
        )
        .await;
    assert!(page.lines.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(100));
}

/// The control port on a free loopback port, running `orders` and `payments`.
async fn control_port(store: LogStore) -> String {
    let mut sources = crate::testing::sources(&["orders", "payments"]);
    sources.logs = store;
    crate::testing::serve(sources).await
}

#[tokio::test]
async fn the_api_serves_filtered_lines_and_refuses_bad_input_with_a_problem() {
    let store = LogStore::default();
    push(&store, "orders", 1, "INFO", "placed");
    push(&store, "payments", 1, "INFO", "captured");
    let base = control_port(store).await;
    let logs = format!("{base}/v1/logs");

    let (status, page, _) = get(&format!("{logs}?trace={}&level=info", TRACE.to_uppercase())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["lines"].as_array().unwrap().len(), 2);
    assert_eq!(page["lines"][1]["service"], "payments");
    assert_eq!(page["lines"][1]["span_id"], "00f067aa0ba902b7");
    assert_eq!(page["next"], 2);

    for (query, parameter) in [
        ("service=", "service"),
        ("instance=0", "instance"),
        ("instance=1", "instance"),
        ("service=orders&instance=x", "instance"),
        ("trace=xyz", "trace"),
        (&format!("trace={}", "0".repeat(32)), "trace"),
        ("level=loud", "level"),
        ("grep=", "grep"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("wait_ms=30001", "wait_ms"),
    ] {
        let (status, problem, content_type) = get(&format!("{logs}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(content_type, "application/problem+json", "{query}");
        assert_eq!(problem["parameter"], parameter, "{query}: {problem}");
    }
    // A service of the manifest that has not written yet is known; another is not.
    let (status, page, _) = get(&format!("{logs}?service=payments&instance=3")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["lines"], serde_json::json!([]));
    let (status, problem, content_type) = get(&format!("{logs}?service=ordres")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("`ordres`") && detail.contains("orders, payments"),
        "{detail}"
    );
}
