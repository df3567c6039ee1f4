//! The registry through its HTTP API (in process, so that the clock can be paused), and once
//! over a real socket with the chassis's own registrar and resolver, to prove the contract.

use std::future::IntoFuture;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use brigade_chassis::discovery::api::{Catalogue, InstanceRecord, Registration, ServiceInstances};
use http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceExt;

use super::{router, Registry};

fn registration(service: &str, instance_id: &str, address: &str) -> Registration {
    Registration {
        service: service.into(),
        instance_id: instance_id.into(),
        address: address.into(),
        local_socket: None,
        version: "1.2.3".into(),
        pid: Some(4242),
        started_at_ms: 1,
        ttl_ms: 5_000,
        metadata: Default::default(),
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&json).unwrap())
        }
        None => Body::empty(),
    };
    raw(app, request.body(body).unwrap()).await
}

async fn raw(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Answer {
        status,
        content_type,
        body,
    }
}

async fn register(app: &Router, r: &Registration) -> Answer {
    call(
        app,
        Method::PUT,
        &format!("/v1/registry/instances/{}", r.instance_id),
        Some(serde_json::to_value(r).unwrap()),
    )
    .await
}

async fn heartbeat(app: &Router, instance_id: &str) -> Answer {
    let uri = format!("/v1/registry/instances/{instance_id}/heartbeat");
    call(app, Method::PUT, &uri, None).await
}

async fn deregister(app: &Router, instance_id: &str) -> Answer {
    let uri = format!("/v1/registry/instances/{instance_id}");
    call(app, Method::DELETE, &uri, None).await
}

async fn instances(app: &Router, service: &str) -> ServiceInstances {
    let answer = call(
        app,
        Method::GET,
        &format!("/v1/registry/services/{service}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    serde_json::from_value(answer.body).unwrap()
}

#[tokio::test]
async fn instances_register_heartbeat_and_deregister() {
    let app = router(Registry::new());
    let a = registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001");
    let b = registration("catalog", "catalog-2-bbbbbb", "127.0.0.1:4002");

    let answer = register(&app, &a).await;
    assert_eq!(answer.status, StatusCode::OK);
    let record: InstanceRecord = serde_json::from_value(answer.body).unwrap();
    assert_eq!(record.registration, a);
    assert!(record.registered_at_ms > 0);
    register(&app, &b).await;

    let listed = instances(&app, "catalog").await;
    let ids: Vec<&str> = listed
        .instances
        .iter()
        .map(|i| i.registration.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["catalog-1-aaaaaa", "catalog-2-bbbbbb"]);
    let catalogue: Catalogue = serde_json::from_value(
        call(&app, Method::GET, "/v1/registry/services", None)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(catalogue.services["catalog"].len(), 2);

    // A heartbeat renews the lease without changing the instance set; so does registering again.
    let answer = heartbeat(&app, "catalog-1-aaaaaa").await;
    assert_eq!(answer.status, StatusCode::OK);
    register(&app, &a).await;
    assert_eq!(instances(&app, "catalog").await.index, listed.index);
    // A changed registration is a change.
    register(
        &app,
        &registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4011"),
    )
    .await;
    let moved = instances(&app, "catalog").await;
    assert!(moved.index > listed.index);
    assert_eq!(moved.instances[0].registration.address, "127.0.0.1:4011");
    assert_eq!(moved.instances[0].registered_at_ms, record.registered_at_ms);

    let answer = deregister(&app, "catalog-1-aaaaaa").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let after = instances(&app, "catalog").await;
    assert_eq!(after.instances.len(), 1);
    assert!(after.index > moved.index);

    // Deregistering twice is fine; a heartbeat for a forgotten instance says "register again".
    let answer = deregister(&app, "catalog-1-aaaaaa").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let answer = heartbeat(&app, "catalog-1-aaaaaa").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["type"], "urn:brigade:problem:not-found");

    // A service never seen is empty at index 0, so that a watcher can wait for its first instance.
    let unknown = instances(&app, "payments").await;
    assert_eq!((unknown.index, unknown.instances.len()), (0, 0));
}

/// The registry knows no service: any name of the right form registers, none of another.
#[tokio::test]
async fn a_service_is_known_by_the_form_of_its_name_not_by_a_list() {
    let app = router(Registry::new());
    let newcomer = registration("shipping-v2", "shipping-v2-1-aaaaaa", "127.0.0.1:4001");
    assert_eq!(register(&app, &newcomer).await.status, StatusCode::OK);
    assert_eq!(instances(&app, "shipping-v2").await.instances.len(), 1);
    for name in ["", "Shipping", "ship_ping", &"s".repeat(64)] {
        assert!(!crate::is_valid_service_name(name), "{name}");
    }
    assert!(crate::is_valid_service_name(&"s".repeat(63)));
}

#[tokio::test]
async fn prometheus_discovers_every_live_instance_with_its_service() {
    let app = router(Registry::new());
    let answer = call(&app, Method::GET, "/v1/registry/prometheus-targets", None).await;
    assert_eq!(
        (answer.status, answer.body.clone()),
        (StatusCode::OK, json!([]))
    );
    for r in [
        registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001"),
        registration("catalog", "catalog-2-bbbbbb", "127.0.0.1:4002"),
        registration("cart", "cart-1-cccccc", "127.0.0.1:4003"),
    ] {
        assert_eq!(register(&app, &r).await.status, StatusCode::OK);
    }
    assert_eq!(
        deregister(&app, "catalog-2-bbbbbb").await.status,
        StatusCode::NO_CONTENT
    );

    let answer = call(&app, Method::GET, "/v1/registry/prometheus-targets", None).await;
    let target = |address: &str, service: &str, id: &str| {
        json!({"targets": [address], "labels": {
            "__meta_brigade_service": service,
            "__meta_brigade_instance_id": id,
            "__meta_brigade_version": "1.2.3",
        }})
    };
    assert_eq!(
        answer.body,
        json!([
            target("127.0.0.1:4003", "cart", "cart-1-cccccc"),
            target("127.0.0.1:4001", "catalog", "catalog-1-aaaaaa"),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_expires_ttl_after_the_last_heartbeat() {
    let registry = Registry::new();
    let mut r = registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001");
    r.ttl_ms = 1_000;
    registry.register(&r.instance_id, r.clone()).unwrap();
    let index = registry.service("catalog").index;

    tokio::time::sleep(Duration::from_millis(800)).await;
    registry.heartbeat(&r.instance_id).unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        registry.service("catalog").instances.len(),
        1,
        "expired despite the heartbeat"
    );

    tokio::time::sleep(Duration::from_millis(150)).await;
    let after = registry.service("catalog");
    assert!(
        after.instances.is_empty(),
        "still listed 1.05 s after its last heartbeat"
    );
    assert!(
        after.index > index,
        "expiry must move the index so that watchers learn of it"
    );
    assert!(registry.heartbeat(&r.instance_id).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_blocking_query_answers_as_soon_as_the_service_changes() {
    let app = router(Registry::new());
    let started = Instant::now();
    let watcher = {
        let app = app.clone();
        tokio::spawn(async move {
            let answer = call(
                &app,
                Method::GET,
                "/v1/registry/services/catalog?index=0&wait_ms=30000",
                None,
            )
            .await;
            (Instant::now(), answer)
        })
    };
    // Another service's change does not answer it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    register(
        &app,
        &registration("gateway", "gateway-1-cccccc", "127.0.0.1:8080"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !watcher.is_finished(),
        "answered on another service's change"
    );

    register(
        &app,
        &registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001"),
    )
    .await;
    let (answered_at, answer) = watcher.await.unwrap();
    assert_eq!(
        answered_at - started,
        Duration::from_secs(1),
        "the answer waited past the change"
    );
    let answer: ServiceInstances = serde_json::from_value(answer.body).unwrap();
    assert_eq!(answer.instances.len(), 1);
    assert!(answer.index > 0);
}

#[tokio::test(start_paused = true)]
async fn a_blocking_query_answers_after_wait_ms_when_nothing_changes() {
    let app = router(Registry::new());
    register(
        &app,
        &registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001"),
    )
    .await;
    let index = instances(&app, "catalog").await.index;

    let started = Instant::now();
    let answer = call(
        &app,
        Method::GET,
        &format!("/v1/registry/services/catalog?index={index}&wait_ms=2000"),
        None,
    )
    .await;
    assert_eq!(started.elapsed(), Duration::from_millis(2000));
    let answer: ServiceInstances = serde_json::from_value(answer.body).unwrap();
    assert_eq!((answer.index, answer.instances.len()), (index, 1));

    // A stale index is answered at once, and so is a query without one.
    let started = Instant::now();
    let stale = call(
        &app,
        Method::GET,
        "/v1/registry/services/catalog?index=0&wait_ms=2000",
        None,
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    call(
        &app,
        Method::GET,
        "/v1/registry/services/catalog?wait_ms=2000",
        None,
    )
    .await;
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn closing_the_registry_answers_every_blocking_query() {
    let registry = Registry::new();
    let app = router(registry.clone());
    let waiting = tokio::spawn(async move {
        call(
            &app,
            Method::GET,
            "/v1/registry/services/catalog?index=0&wait_ms=60000",
            None,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    registry.close();
    let answer = waiting.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn bad_requests_get_a_problem_that_names_what_is_wrong() {
    let registry = Registry::new();
    let app = router(registry.clone());
    let good =
        serde_json::to_value(registration("catalog", "catalog-1", "127.0.0.1:4001")).unwrap();
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    // (instance id in the URL, body, status, problem type, the parameter it names)
    type Case<'a> = (&'a str, Value, StatusCode, &'a str, Option<&'a str>);
    let invalid = |id: &'static str, body: Value, parameter: &'static str| -> Case<'static> {
        (
            id,
            body,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some(parameter),
        )
    };
    let unprocessable = |body: Value| -> Case<'static> {
        (
            "catalog-1",
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            None,
        )
    };
    let big_metadata = serde_json::json!({"big": "x".repeat(100 * 1024)});
    let cases: Vec<Case<'_>> = vec![
        invalid("catalog-1", with("service", "Catalog".into()), "service"),
        invalid("catalog-1", with("service", "".into()), "service"),
        invalid("catalog-1", with("address", "localhost".into()), "address"),
        invalid("catalog-1", with("ttl_ms", 10.into()), "ttl_ms"),
        invalid("catalog-1", with("ttl_ms", 600_000.into()), "ttl_ms"),
        invalid("catalog-9", good.clone(), "instance_id"),
        invalid("catalog 1", good.clone(), "instance_id"),
        unprocessable(with("colour", "red".into())),
        unprocessable(with("ttl_ms", "soon".into())),
        (
            "catalog-1",
            with("metadata", big_metadata),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            None,
        ),
    ];
    for (id, body, status, code, parameter) in cases {
        let uri = format!("/v1/registry/instances/{}", id.replace(' ', "%20"));
        let answer = call(&app, Method::PUT, &uri, Some(body.clone())).await;
        assert_eq!(answer.status, status, "{id} {body}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(
            answer.body["type"],
            format!("urn:brigade:problem:{code}"),
            "{}",
            answer.body
        );
        assert!(!answer.body["detail"].as_str().unwrap().is_empty());
        if let Some(parameter) = parameter {
            assert_eq!(answer.body["parameter"], parameter, "{}", answer.body);
        }
    }
    // Nothing was registered by any of it.
    assert!(registry.catalogue().services.is_empty());
}

#[tokio::test]
async fn bodies_that_are_not_json_and_bad_queries_get_a_problem() {
    let registry = Registry::new();
    let app = router(registry.clone());
    let good = serde_json::to_string(&registration("catalog", "catalog-1", "127.0.0.1:4001"));
    // Not JSON, or not said to be JSON.
    let not_json = Request::put("/v1/registry/instances/catalog-1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{"))
        .unwrap();
    assert_eq!(
        raw(&app, not_json).await.body["type"],
        "urn:brigade:problem:bad-request"
    );
    let no_type = Request::put("/v1/registry/instances/catalog-1")
        .body(Body::from(good.unwrap()))
        .unwrap();
    assert_eq!(
        raw(&app, no_type).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // Queries are checked too.
    for uri in [
        "/v1/registry/services/catalog?index=soon",
        "/v1/registry/services/catalog?wait=5",
        "/v1/registry/services/Not_A_Service",
    ] {
        let answer = call(&app, Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.content_type, "application/problem+json", "{uri}");
    }
    // Nothing was registered by any of it.
    assert!(registry.catalogue().services.is_empty());
}

/// The chassis's registrar and resolver against this registry over a real socket: the wire
/// contract holds, and a watcher learns of a registration and a deregistration within moments.
#[tokio::test]
async fn the_chassis_registers_and_watches_through_this_registry() {
    use brigade_chassis::discovery::{Registrar, Resolver, Source};
    use brigade_chassis::health::Health;

    let registry = Registry::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        axum::serve(
            listener,
            // The registry's routes alone: the control port adds only middleware and other
            // routes around them.
            router(registry.clone()),
        )
        .into_future(),
    );

    let resolver = Resolver::new(Source::Registry(url.clone()));
    let mut endpoints = resolver.watch("catalog");
    endpoints.wait_for(Option::is_some).await.unwrap();

    let health = Health::new();
    let handle = Registrar::new(&url).start(
        registration("catalog", "catalog-1-aaaaaa", "127.0.0.1:4001"),
        health.clone(),
    );
    let started = Instant::now();
    let seen = tokio::time::timeout(
        Duration::from_secs(5),
        endpoints.wait_for(|e| e.as_ref().is_some_and(|e| e.len() == 1)),
    )
    .await
    .expect("the resolver did not see the registration")
    .unwrap()
    .clone();
    assert_eq!(seen.unwrap()[0].address.to_string(), "127.0.0.1:4001");
    assert!(health.is_registered());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    handle.deregister().await;
    tokio::time::timeout(
        Duration::from_secs(5),
        endpoints.wait_for(|e| e.as_ref().is_some_and(|e| e.is_empty())),
    )
    .await
    .expect("the resolver did not see the deregistration")
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(registry.catalogue().services.is_empty());
}
