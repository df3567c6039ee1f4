//! Service identity against a running system, tried as a curious local user would (issue #16):
//! a service's routes answer only the callers they declare. A direct charge to payments without
//! an identity is `401`, with another service's identity `403`, with orders' it reaches the
//! payments logic; the users' key rotation wants the operator; the authority mints only for the
//! services a bootstrap secret was given for; every refusal is problem+json, logged and counted;
//! and none of it leaves a trace the promise checker would see.

use std::time::Duration;

use http::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::shop::send;
use crate::support::{run_brigade, System};

/// The bootstrap secret `brigade up` gave the process of `slot` (its environment, readable by
/// the same user: what a local attacker who is that user could take too).
async fn bootstrap_secret(system: &System, slot: &str) -> String {
    let view = system.view().await.unwrap();
    let pid = view
        .services
        .iter()
        .flat_map(|s| s.instances.iter())
        .find(|i| i.slot.as_deref() == Some(slot))
        .and_then(|i| i.pid)
        .unwrap_or_else(|| panic!("no pid for {slot}"));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|b| *b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix("BRIGADE_IDENTITY_SECRET="))
        .unwrap_or_else(|| panic!("{slot} was started without a bootstrap secret"))
        .to_owned()
}

/// What the authority answers `secret` asking a token saying `subject` calls `audience`.
async fn token_for(system: &System, secret: &str, subject: &str, audience: &str) -> (u16, Value) {
    send(
        Method::POST,
        &format!("{}/v1/identity/token", system.control),
        Some(secret),
        &[],
        Some(json!({ "subject": subject, "audience": audience })),
    )
    .await
}

/// An address of `service`'s first registered instance.
async fn address(system: &System, service: &str) -> String {
    system
        .instances(service)
        .await
        .instances
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {service} instance"))
        .registration
        .address
}

fn assert_refused(status: u16, problem: &Value, expected: u16, kind: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {problem}");
    assert_eq!(
        problem["type"],
        format!("urn:brigade:problem:{kind}"),
        "{what}: {problem}"
    );
}

/// What the direct charge attacks leave behind for the log check: the secrets and tokens used.
pub(crate) struct ChargeAttacks {
    pub catalog_token: String,
    pub catalog_secret: String,
    pub orders_secret: String,
}

/// Payments' charges take orders alone: nobody, an unsigned name, a shopper's token, another
/// service's real identity, a token for another audience are refused before payments' logic;
/// orders' identity reaches it (and its card, failing the Luhn check, moves no money). The same
/// on every store: the guard runs before the handler (`postgres.rs` runs it on PostgreSQL).
pub(crate) async fn only_orders_reaches_payments_charges(
    system: &System,
    shopper_email: &str,
) -> ChargeAttacks {
    let payments = address(system, "payments").await;
    let charges = format!("http://{payments}/v1/charges");
    let charge = json!({
        "order_id": Uuid::new_v4(),
        "amount_minor": 1999,
        "currency": "EUR",
        // Fails the Luhn check: a charge that reaches payments' logic is refused there (422),
        // so that even an accepted caller moves no money in this test.
        "card_number": "4242424242424241",
    });
    // A direct charge with `identity` (none: no header) as the calling service's.
    let charge_as = |identity: Option<String>| {
        let (charges, charge) = (charges.clone(), charge.clone());
        async move {
            let mut headers = vec![("idempotency-key", "identity-attack-1")];
            if let Some(identity) = &identity {
                headers.push(("brigade-identity", identity.as_str()));
            }
            send(Method::POST, &charges, None, &headers, Some(charge)).await
        }
    };

    // Nobody: 401, before the body is looked at.
    let (status, problem) = charge_as(None).await;
    assert_refused(status, &problem, 401, "identity-required", "no identity");
    // A forged identity: 401.
    let (status, problem) = charge_as(Some("dev:orders".to_owned())).await;
    assert_refused(status, &problem, 401, "identity-required", "unsigned");
    // A shopper's access token is no service identity.
    let shopper = crate::support::shop::Shopper::sign_up(&system.gateway, shopper_email).await;
    let (status, problem) = charge_as(Some(shopper.token.clone())).await;
    assert_refused(status, &problem, 401, "identity-required", "a shopper");

    // The catalog's own identity, honestly minted for payments: a known caller, not accepted.
    let catalog = bootstrap_secret(system, "catalog-1").await;
    let (status, answer) = token_for(system, &catalog, "catalog", "payments").await;
    assert_eq!(status, 200, "{answer}");
    let catalog_token = answer["token"].as_str().unwrap().to_owned();
    let (status, problem) = charge_as(Some(catalog_token.clone())).await;
    assert_refused(status, &problem, 403, "caller-not-accepted", "catalog");
    assert_eq!(problem["caller"], "catalog", "{problem}");
    // The catalog's secret does not speak for orders.
    let (status, problem) = token_for(system, &catalog, "orders", "payments").await;
    assert_refused(
        status,
        &problem,
        401,
        "identity-required",
        "catalog as orders",
    );
    // A token for another audience is not one for payments.
    let (_, answer) = token_for(system, &catalog, "catalog", "inventory").await;
    let (status, problem) = charge_as(Some(answer["token"].as_str().unwrap().to_owned())).await;
    assert_refused(status, &problem, 401, "identity-required", "for inventory");

    // Orders' identity is accepted: the request reaches payments' own checks.
    let orders = bootstrap_secret(system, "orders-1").await;
    let (status, answer) = token_for(system, &orders, "orders", "payments").await;
    assert_eq!(status, 200, "{answer}");
    let (status, problem) = charge_as(Some(answer["token"].as_str().unwrap().to_owned())).await;
    assert_eq!(
        status, 422,
        "orders is accepted, its card refused: {problem}"
    );
    ChargeAttacks {
        catalog_token,
        catalog_secret: catalog,
        orders_secret: orders,
    }
}

/// OWASP API5 (function-level authorization) and API2 (broken authentication) between services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answers_only_the_callers_its_routes_declare() {
    let system = System::up().await;
    let ChargeAttacks {
        catalog_token,
        catalog_secret: catalog,
        orders_secret: orders,
    } = only_orders_reaches_payments_charges(&system, "eve@example.com").await;
    let payments = address(&system, "payments").await;

    // Every shopper's orders, charges and ledger at once are the operator's to read (the
    // promise checker reads them as the operator): nobody, and a service, are refused.
    let orders_at = address(&system, "orders").await;
    let inventory_at = address(&system, "inventory").await;
    for url in [
        format!("http://{orders_at}/v1/audit/orders"),
        format!("http://{orders_at}/v1/audit"),
        format!("http://{payments}/v1/ledger"),
        format!("http://{payments}/v1/audit"),
        format!("http://{payments}/v1/charges?order_id={}", Uuid::new_v4()),
        format!("http://{inventory_at}/v1/audit"),
    ] {
        let (status, problem) = send(Method::GET, &url, None, &[], None).await;
        assert_refused(status, &problem, 401, "identity-required", &url);
    }
    let (status, problem) = send(
        Method::GET,
        &format!("http://{payments}/v1/ledger"),
        None,
        &[("brigade-identity", catalog_token.as_str())],
        None,
    )
    .await;
    assert_refused(
        status,
        &problem,
        403,
        "caller-not-accepted",
        "the ledger read by catalog",
    );

    // The users' key rotation is the operator's: nobody, and a service, are refused.
    let users = address(&system, "users").await;
    let rotate = format!("http://{users}/v1/keys/rotate");
    let (status, problem) = send(Method::POST, &rotate, None, &[], None).await;
    assert_refused(
        status,
        &problem,
        401,
        "identity-required",
        "rotation by nobody",
    );
    let (_, answer) = token_for(&system, &orders, "orders", "users").await;
    let as_orders = [("brigade-identity", answer["token"].as_str().unwrap())];
    let (status, problem) = send(Method::POST, &rotate, None, &as_orders, None).await;
    assert_refused(
        status,
        &problem,
        403,
        "caller-not-accepted",
        "rotation by orders",
    );
    let (name, operator) = system.operator("users").await;
    let (status, rotated) = send(Method::POST, &rotate, None, &[(name, &operator)], None).await;
    assert!(
        (200..300).contains(&status),
        "rotation by the operator: {rotated}"
    );
    // An operator token is only minted for the operator credential.
    let (status, problem) = send(
        Method::POST,
        &format!("{}/v1/identity/operator-token", system.control),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        &[],
        Some(json!({ "audience": "users" })),
    )
    .await;
    assert_refused(
        status,
        &problem,
        401,
        "identity-required",
        "a wrong operator credential",
    );

    // Counted per route and reason …
    let (_, metrics) = raw_get(&format!("http://{payments}/metrics")).await;
    for reason in ["missing", "invalid", "not_accepted"] {
        let series =
            format!(r#"brigade_identity_refused_total{{route="/v1/charges",reason="{reason}"}}"#);
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }
    // … and logged, never with a token.
    let mut all = vec![
        "logs",
        "payments",
        "--grep",
        "refused for its caller",
        "--json",
    ];
    all.extend(["--control-url", system.control.as_str()]);
    let (ok, logs, stderr) = run_brigade(&all, &[]).await;
    assert!(ok, "{stderr}");
    assert!(
        logs.contains("call refused for its caller's identity"),
        "{logs}"
    );
    // Every line of every service, the control plane's own included.
    let all = [
        "logs",
        "-n",
        "5000",
        "--json",
        "--control-url",
        system.control.as_str(),
    ];
    let (ok, logs, stderr) = run_brigade(&all, &[]).await;
    assert!(ok, "{stderr}");
    for (what, secret) in [
        ("catalog's identity token", catalog_token.as_str()),
        ("catalog's bootstrap secret", catalog.as_str()),
        ("orders' bootstrap secret", orders.as_str()),
        ("an operator token", operator.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} leaked into the logs");
    }

    // None of it moved money: every promise holds.
    crate::checkout::assert_promises_hold(&system).await;
}

/// GET `url` as text.
async fn raw_get(url: &str) -> (u16, String) {
    let answer = brigade_chassis::client::plain::PlainClient::new(Duration::from_secs(5))
        .send(Method::GET, url, None)
        .await
        .unwrap();
    (
        answer.status.as_u16(),
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}
