//! Secrets end to end: `brigade up` gives users a key-encryption key of its own (a 0600 file in
//! its data directory), the signing keys are sealed in users' store, and after a whole flow
//! (sign up, log in, check out, a failed log-in) no log line anywhere — `brigade up`'s own
//! output, every instance's lines in the control port's log store — carries the password, the
//! access token or a private signing key. Metric labels of the edge neither.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use base64::Engine as _;
use brigade_chassis::db::{Db, PoolOptions, Query};
use brigade_operator::harness::Up;
use http::Method;
use serde_json::json;
use users::sealing::{KeyEncryptionKey, Sealing, SEALED_PREFIX};

use crate::support::shop::{product, send};

const PASSWORD: &str = "a secret nobody logs 7f3a";

/// Every way a secret could be written into a line: as it is, base64 (standard and URL-safe)
/// and hex.
fn spellings(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(text.to_owned());
    }
    forms
}

/// The private signing keys in users' store, opened with the key-encryption key `brigade up`
/// made; each must be sealed there. Returns their Ed25519 seeds.
async fn private_keys(data: &std::path::Path) -> Vec<Vec<u8>> {
    let file = data.join("users-key-encryption-key");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is readable by others");
    let sealing = Sealing::Sealed(KeyEncryptionKey::read_file(&file).unwrap());
    let url = format!("sqlite://{}", data.join("data").join("users.db").display());
    let db = Db::connect(&url, &PoolOptions::default()).await.unwrap();
    let rows: Vec<(String, Vec<u8>)> = Query::new("SELECT kid, pkcs8 FROM signing_keys")
        .fetch_all(&db)
        .await
        .unwrap();
    db.close().await;
    assert!(!rows.is_empty());
    rows.iter()
        .map(|(kid, stored)| {
            assert!(
                stored.starts_with(SEALED_PREFIX),
                "key {kid} is stored in clear"
            );
            let der = sealing.open(kid, stored).unwrap();
            // The seed: the last 32 bytes of an Ed25519 PKCS#8 document.
            der[der.len() - 32..].to_vec()
        })
        .collect()
}

/// Every line the control port keeps, as JSON text.
async fn stored_lines(control: &str) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["logs", "--control-url", control, "--json", "-n", "5000"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_a_metric_label_in_a_whole_flow() {
    let data = tempfile::tempdir().unwrap();
    let mut running = Up::new(env!("CARGO_BIN_EXE_brigade"), data.path())
        .current_dir(data.path())
        .launch()
        .unwrap();
    running.wait_ready(Duration::from_secs(90)).await.unwrap();
    let gateway = running.gateway_url.clone();
    let control = running.control_url.clone();

    let email = "secret-keeper@example.com";
    let url = |path: &str| format!("{gateway}/api/v1/{path}");
    let account = json!({"email": email, "password": PASSWORD, "name": "Keeper"});
    let (status, body) = send(Method::POST, &url("users"), None, &[], Some(account)).await;
    assert_eq!(status, 201, "{body}");
    let credentials = json!({"email": email, "password": PASSWORD});
    let (status, session) =
        send(Method::POST, &url("sessions"), None, &[], Some(credentials)).await;
    assert_eq!(status, 200, "{session}");
    let token = session["access_token"].as_str().unwrap().to_owned();
    // A wrong password, a malformed token: refusals are logged too, and must not echo them.
    let wrong = json!({"email": email, "password": format!("{PASSWORD}-wrong")});
    let (status, _) = send(Method::POST, &url("sessions"), None, &[], Some(wrong)).await;
    assert_eq!(status, 401);
    let broken = format!("{token}x");
    let (status, _) = send(Method::GET, &url("me"), Some(&broken), &[], None).await;
    assert_eq!(status, 401);
    let kettle = product(&gateway, 0).await;
    let item = format!("cart/items/{}", kettle["id"].as_str().unwrap());
    let (status, body) = send(
        Method::PUT,
        &url(&item),
        Some(&token),
        &[],
        Some(json!({"quantity": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, order) = send(
        Method::POST,
        &url("checkout"),
        Some(&token),
        &[("idempotency-key", "secret-flow-1")],
        Some(json!({"card_number": "4242424242424242"})),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "CONFIRMED", "{order}");

    let keys = private_keys(data.path()).await;
    let mut secrets: Vec<(String, String)> = vec![
        ("password".into(), PASSWORD.into()),
        ("access token".into(), token.clone()),
        // Its signature alone: a line that cut the token would still leak it.
        (
            "token signature".into(),
            token.rsplit('.').next().unwrap().to_owned(),
        ),
        ("card number".into(), "4242424242424242".into()),
    ];
    for (n, seed) in keys.iter().enumerate() {
        for spelling in spellings(seed) {
            secrets.push((format!("private key {n}"), spelling));
        }
    }
    let kek = std::fs::read_to_string(data.path().join("users-key-encryption-key")).unwrap();
    secrets.push(("key-encryption key".into(), kek.trim().to_owned()));

    // Let the last lines reach the control port, then read them, and the edge's metrics.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lines = stored_lines(&control).await;
    assert!(
        lines.contains("signed up"),
        "the log store has the flow's lines"
    );
    let (_, metrics) = {
        let answer = brigade_chassis::client::plain::PlainClient::new(Duration::from_secs(5))
            .send(Method::GET, &format!("{gateway}/metrics"), None)
            .await
            .unwrap();
        (
            answer.status,
            String::from_utf8_lossy(&answer.body).into_owned(),
        )
    };
    running.stop().await.unwrap();
    let printed = std::fs::read_to_string(data.path().join("up.log")).unwrap();
    assert!(
        printed.contains("gateway"),
        "brigade up's output was captured"
    );

    for (what, secret) in &secrets {
        for (source, text) in [
            ("the log store", &lines),
            ("brigade up's output", &printed),
            ("the gateway's metrics", &metrics),
        ] {
            assert!(!text.contains(secret.as_str()), "the {what} is in {source}");
        }
    }
    assert!(!metrics.contains(email), "an account in a metric label");
}
