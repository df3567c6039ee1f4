//! The operator credential against a running system (`brigade up --chaos`), tried as a curious
//! local user would: every route of the control port that kills, pauses, resumes, scales,
//! restarts or replays, called without the credential, with a wrong one, and with the console's
//! cookie but not from the console's page, is refused and changes nothing; the `brigade`
//! commands that change the system refuse to run without it and report a rejected one; the
//! credential's file is readable only by its owner; reading the system stays open.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use http::{header, Method};
use serde_json::{json, Value};

use crate::support::shop::send;
use crate::support::{run_brigade, System};

/// Every route of the control port that changes the system, with a body it would accept.
const CHANGES: &[(&str, Option<&str>)] = &[
    ("/v1/chaos/instances/orders-1/kill", None),
    ("/v1/chaos/instances/shipping-1/pause", None),
    ("/v1/chaos/services/catalog/kill", None),
    ("/v1/chaos/services/cart/pause?instance=1", None),
    ("/v1/chaos/services/cart/resume", None),
    ("/v1/chaos/resume", None),
    (
        "/v1/system/services/orders/scale",
        Some(r#"{"instances": 4}"#),
    ),
    (
        "/v1/system/services/recommendations/scale",
        Some(r#"{"instances": 0}"#),
    ),
    ("/v1/system/services/payments/restart", None),
    (
        "/v1/console/parked/orders/00000000-0000-0000-0000-000000000000/replay",
        None,
    ),
];

/// Every slot of the system with its process and restart count: what any change would alter.
async fn processes(system: &System) -> BTreeMap<String, (Option<u32>, u32)> {
    let view = system.view().await.unwrap();
    view.services
        .iter()
        .flat_map(|s| s.instances.iter())
        .filter_map(|i| Some((i.slot.clone()?, (i.pid, i.restarts))))
        .collect()
}

/// The paused slots, as the control port lists them (a read: open to anyone).
async fn paused(system: &System) -> Value {
    let (status, state) = send(
        Method::GET,
        &format!("{}/v1/chaos", system.control),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{state}");
    state["paused"].clone()
}

/// The console's session cookie (`name=value`), from the login link `brigade up` printed.
async fn console_cookie(link: &str) -> String {
    let answer = PlainClient::new(Duration::from_secs(5))
        .send(Method::GET, link, None)
        .await
        .unwrap();
    assert_eq!(answer.status, 303, "{link}");
    assert_eq!(answer.headers[header::LOCATION], "/");
    let set = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_holder_of_the_operator_credential_changes_the_system() {
    let system = System::up_with_args(None, &["--chaos"]).await;

    // The credential: a file only its owner reads, and the login link the only place it shows.
    let file = system.running.operator_token_file();
    let metadata = std::fs::metadata(&file).unwrap();
    assert_eq!(metadata.mode() & 0o777, 0o600, "{}", file.display());
    let ours = std::fs::metadata(system.data.path()).unwrap().uid();
    assert_eq!(metadata.uid(), ours);
    let token = system.token();
    assert_eq!(token.len(), 43, "32 bytes in base64url");
    let link = system
        .running
        .printed_login_link()
        .expect("brigade up printed a login link");
    assert_eq!(link, format!("{}/login?t={token}", system.control));

    let before = processes(&system).await;
    assert!(before.contains_key("orders-2"), "{before:?}");
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let cookie = console_cookie(&link).await;
    for (path, body) in CHANGES {
        let url = format!("{}{path}", system.control);
        let body = body.map(|b| serde_json::from_str::<Value>(b).unwrap());
        for (who, token, headers) in [
            ("no credential", None, vec![]),
            ("a wrong credential", Some(wrong), vec![]),
            (
                "the console's cookie alone",
                None,
                vec![("cookie", cookie.as_str())],
            ),
            (
                "the console's cookie from another origin",
                None,
                vec![
                    ("cookie", cookie.as_str()),
                    ("x-brigade-console", "1"),
                    ("origin", "http://127.0.0.1:1"),
                ],
            ),
        ] {
            let (status, problem) = send(Method::POST, &url, token, &headers, body.clone()).await;
            let expected = if who.starts_with("the console") {
                403
            } else {
                401
            };
            assert_eq!(status, expected, "{path} with {who}: {problem}");
            let kind = problem["type"].as_str().unwrap_or_default();
            assert!(
                kind == "urn:brigade:problem:operator-credential-required"
                    || kind == "urn:brigade:problem:cross-site-request",
                "{path} with {who}: {problem}"
            );
        }
    }
    // Nothing was killed, paused, scaled or restarted.
    assert_eq!(processes(&system).await, before);

    // The instances' own operator routes want the operator's identity: request-fault rules
    // (set or cleared; reading them stays open) and a parked event's replay.
    let catalog = system.instances("catalog").await.instances[0]
        .registration
        .address
        .clone();
    let orders = system.instances("orders").await.instances[0]
        .registration
        .address
        .clone();
    let rules = json!({ "rules": [{ "error_rate": 1.0 }] });
    let replay =
        format!("http://{orders}/v1/events/parked/00000000-0000-0000-0000-000000000000/replay");
    for (method, url, body) in [
        (
            Method::PUT,
            format!("http://{catalog}/v1/chaos"),
            Some(rules),
        ),
        (Method::DELETE, format!("http://{catalog}/v1/chaos"), None),
        (Method::POST, replay, None),
    ] {
        let (status, problem) = send(method.clone(), &url, None, &[], body).await;
        assert_eq!(status, 401, "{method} {url}: {problem}");
        assert_eq!(
            problem["type"], "urn:brigade:problem:identity-required",
            "{method} {url}: {problem}"
        );
    }
    let (status, rules) = send(
        Method::GET,
        &format!("http://{catalog}/v1/chaos"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{rules}");
    assert_eq!(rules["rules"], json!([]), "no rule was set: {rules}");
    assert_eq!(paused(&system).await, json!([]));

    // The commands that change the system refuse to run without the credential …
    for args in [
        &["scale", "orders", "3"][..],
        &["restart", "payments"][..],
        &["chaos", "kill", "orders"][..],
        &["chaos", "pause", "shipping"][..],
        &["chaos", "clear"][..],
        &["chaos", "errors", "catalog", "50%"][..],
        &["events", "replay", "some-event", "--service", "orders"][..],
    ] {
        let (ok, _, stderr) = system.brigade_anonymous(args).await;
        assert!(!ok, "{args:?} ran without the credential");
        assert!(
            stderr.contains("needs the operator credential")
                && stderr.contains("--operator-token-file"),
            "{args:?}: {stderr}"
        );
        // … and report a credential the control plane rejects.
        let mut all = args.to_vec();
        all.extend(["--control-url", system.control.as_str()]);
        let (ok, _, stderr) = run_brigade(&all, &[("BRIGADE_OPERATOR_TOKEN", wrong)]).await;
        assert!(!ok, "{args:?} ran with a wrong credential");
        assert!(stderr.contains("not this system's"), "{args:?}: {stderr}");
    }
    assert_eq!(processes(&system).await, before);

    // Reading stays open: `brigade status`, the chaos state, the console's data.
    let (ok, stdout, _) = system.brigade_anonymous(&["status"]).await;
    assert!(ok && stdout.contains("orders-2"), "{stdout}");
    let (ok, _, stderr) = system.brigade_anonymous(&["chaos", "show"]).await;
    assert!(ok, "{stderr}");
    for path in ["/v1/system", "/v1/console/services", "/v1/console/parked"] {
        let url = format!("{}{path}", system.control);
        let (status, body) = send(Method::GET, &url, None, &[], None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }

    // With the credential, the same command does what it says.
    let (ok, stdout, stderr) = system.brigade(&["chaos", "pause", "shipping"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("paused shipping-1"), "{stdout}");
    assert_eq!(paused(&system).await, json!(["shipping-1"]));
    // And from the console's page (its header, its origin) with the cookie.
    let (status, report) = send(
        Method::POST,
        &format!("{}/v1/chaos/resume", system.control),
        None,
        &[
            ("cookie", cookie.as_str()),
            ("x-brigade-console", "1"),
            ("origin", system.control.as_str()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(paused(&system).await, json!([]));
}
