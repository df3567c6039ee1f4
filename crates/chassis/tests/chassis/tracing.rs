//! Spans exported over OTLP/HTTP: a call through two services is one trace of server and client
//! spans, with the services' resource attributes, whose trace id is the one the services use;
//! a collector that is down or hangs never fails a request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::context;
use brigade_chassis::db::Tx;
use brigade_chassis::events::{self, Envelope, Handle, Handled, Subscription};
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{self, Instance};
use brigade_chassis::Problem;
use bytes::Bytes as Body;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode as SpanStatus};
use prost::Message;
use serde_json::json;

use brigade_chassis::plain::PlainClient;

use crate::events::CONSUMER;
use crate::support::{start_ticking_ledger, Ticked};

const FRONT: ServiceInfo = ServiceInfo {
    name: "front",
    version: "1.2.3",
    depends_on: brigade_chassis::service::Dependencies {
        calls: &["back"],
        ..brigade_chassis::service::Dependencies::NONE
    },
};
const BACK: ServiceInfo = ServiceInfo {
    name: "back",
    version: "4.5.6",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

/// A span as the test receiver kept it, with its resource's attributes.
#[derive(Debug, Clone)]
struct Received {
    resource: Vec<KeyValue>,
    span: opentelemetry_proto::tonic::trace::v1::Span,
}

impl Received {
    fn service(&self) -> String {
        string(&self.resource, "service.name").unwrap_or_default()
    }

    fn attribute(&self, key: &str) -> Option<any_value::Value> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    }

    fn is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == SpanStatus::Error as i32)
    }
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A test OTLP/HTTP receiver (protobuf), keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(receiver.clone());
        let address = testing::serve_in_background(app).await;
        (receiver, format!("http://{address}"))
    }

    fn of_trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex(&s.span.trace_id) == trace_id)
            .cloned()
            .collect()
    }
}

async fn receive(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut spans = receiver.spans.lock().unwrap();
    for resource_spans in export.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default().attributes;
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    resource: resource.clone(),
                    span,
                });
            }
        }
    }
    StatusCode::OK
}

/// `back`: an item, or a failure.
async fn start_back(endpoint: &str) -> Instance {
    let flags = ["--otlp-endpoint", endpoint, "--instance-id", "back-1"];
    Instance::start_custom(BACK, &flags, |_ctx| async {
        Ok(Router::new()
            .route(
                "/v1/items/{id}",
                get(|| async { axum::Json(json!({"item": "seven"})) }),
            )
            .route(
                "/v1/broken",
                get(|| async { Problem::service_unavailable("broken on purpose") }),
            ))
    })
    .await
}

/// `front`: asks `back` at `/v1/front/{what}`, and says which trace it served the request in
/// (the id its log lines and problems carry).
async fn start_front(endpoint: &str, back: &Instance) -> Instance {
    let peers = format!("back={}", back.address);
    let flags = [
        "--otlp-endpoint",
        endpoint,
        "--instance-id",
        "front-1",
        "--peers",
        peers.as_str(),
    ];
    Instance::start_custom(FRONT, &flags, |ctx| async move {
        let back = ctx.client("back")?;
        Ok(Router::new().route(
            "/v1/front/{what}",
            get(
                move |axum::extract::Path(what): axum::extract::Path<String>| async move {
                    let path = if what == "item" {
                        "/v1/items/7"
                    } else {
                        "/v1/broken"
                    };
                    let answer = back.get_json::<serde_json::Value>(path).await;
                    let trace_id = context::current()
                        .map(|c| c.trace.trace_id_hex())
                        .unwrap_or_default();
                    axum::Json(json!({"ok": answer.is_ok(), "trace_id": trace_id}))
                },
            ),
        ))
    })
    .await
}

async fn get_with_traceparent(url: &str, traceparent: &str) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method(Method::GET)
        .uri(url)
        .header("traceparent", traceparent)
        .body(Full::new(Body::new()))
        .unwrap();
    let answer = PlainClient::default().send_request(request).await.unwrap();
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or_default(),
    )
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// `front` calling `back`, both exporting to a test receiver.
struct Pair {
    receiver: Receiver,
    front: Instance,
    back: Instance,
}

impl Pair {
    async fn start() -> Pair {
        let (receiver, endpoint) = Receiver::start().await;
        let back = start_back(&endpoint).await;
        let front = start_front(&endpoint, &back).await;
        Pair {
            receiver,
            front,
            back,
        }
    }

    /// `GET /v1/front/{what}` as a caller in trace `trace`, sampled or not.
    async fn call(&self, what: &str, trace: &str, sampled: bool) -> serde_json::Value {
        let flags = if sampled { "01" } else { "00" };
        let (status, body) = get_with_traceparent(
            &format!("{}/v1/front/{what}", self.front.url()),
            &format!("00-{trace}-{CALLER_SPAN}-{flags}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        body
    }

    /// Stops both, which flushes what their batch processors hold (their schedule is seconds
    /// away), and returns what the receiver got.
    async fn stop(self) -> Receiver {
        self.front.stop().await.unwrap();
        self.back.stop().await.unwrap();
        self.receiver
    }
}

#[tokio::test]
async fn a_call_through_two_services_is_one_trace_of_server_and_client_spans() {
    let pair = Pair::start().await;
    let body = pair.call("item", TRACE, true).await;
    assert_eq!(body["ok"], true);
    // The trace the services log and answer problems with is the exported one.
    assert_eq!(body["trace_id"], TRACE);
    // A caller that decided not to sample: the parent-based sampler records nothing.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    pair.call("item", unsampled, false).await;
    let receiver = pair.stop().await;

    let spans = receiver.of_trace(TRACE);
    assert_eq!(
        spans.len(),
        3,
        "front server, front client, back server: {spans:#?}"
    );
    let by_kind = |kind: SpanKind, service: &str| {
        spans
            .iter()
            .find(|s| s.span.kind == kind as i32 && s.service() == service)
            .unwrap_or_else(|| panic!("no {kind:?} span of {service}: {spans:#?}"))
            .clone()
    };
    let front_server = by_kind(SpanKind::Server, "front");
    let client = by_kind(SpanKind::Client, "front");
    let back_server = by_kind(SpanKind::Server, "back");

    // One tree: caller → front's server span → its client span → back's server span.
    assert_eq!(hex(&front_server.span.parent_span_id), CALLER_SPAN);
    assert_eq!(client.span.parent_span_id, front_server.span.span_id);
    assert_eq!(back_server.span.parent_span_id, client.span.span_id);

    assert_eq!(front_server.span.name, "GET /v1/front/{what}");
    assert_eq!(
        back_server.attribute("http.route"),
        Some(any_value::Value::StringValue("/v1/items/{id}".into()))
    );
    assert_eq!(
        back_server.attribute("http.response.status_code"),
        Some(any_value::Value::IntValue(200))
    );
    assert_eq!(
        client.attribute("brigade.client.attempt"),
        Some(any_value::Value::IntValue(1))
    );
    assert_eq!(
        client.attribute("brigade.client.outcome"),
        Some(any_value::Value::StringValue("ok".into()))
    );
    assert!(!front_server.is_error() && !client.is_error() && !back_server.is_error());

    for (span, service, instance, version) in [
        (&front_server, "front", "front-1", "1.2.3"),
        (&back_server, "back", "back-1", "4.5.6"),
    ] {
        assert_eq!(
            string(&span.resource, "service.name").as_deref(),
            Some(service)
        );
        assert_eq!(
            string(&span.resource, "service.instance.id").as_deref(),
            Some(instance)
        );
        assert_eq!(
            string(&span.resource, "service.version").as_deref(),
            Some(version)
        );
    }

    assert!(
        receiver.of_trace(unsampled).is_empty(),
        "an unsampled trace was exported"
    );
}

#[tokio::test]
async fn a_failing_dependency_shows_as_error_spans_one_client_span_per_attempt() {
    let pair = Pair::start().await;
    let body = pair.call("broken", TRACE, true).await;
    assert_eq!(body["ok"], false);
    let receiver = pair.stop().await;

    let spans = receiver.of_trace(TRACE);
    let mut attempts: Vec<Received> = spans
        .iter()
        .filter(|s| s.span.kind == SpanKind::Client as i32)
        .cloned()
        .collect();
    attempts.sort_by_key(|s| s.span.start_time_unix_nano);
    // A GET answered 503 is retried: each attempt its own span, numbered, all errors, every
    // one but the last saying that a retry followed.
    assert!(attempts.len() >= 2, "{spans:#?}");
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(
            attempt.attribute("brigade.client.attempt"),
            Some(any_value::Value::IntValue(n as i64 + 1))
        );
        assert_eq!(
            attempt.attribute("brigade.client.outcome"),
            Some(any_value::Value::StringValue("shed".into()))
        );
        assert!(attempt.is_error());
        let retried = attempt.attribute("brigade.client.retried").is_some();
        assert_eq!(retried, n + 1 < attempts.len(), "attempt {}", n + 1);
    }
    let back_servers: Vec<&Received> = spans
        .iter()
        .filter(|s| s.span.kind == SpanKind::Server as i32 && s.service() == "back")
        .collect();
    assert_eq!(back_servers.len(), attempts.len());
    assert!(
        back_servers.iter().all(|s| s.is_error()),
        "a 5xx is an error"
    );
    // Each attempt's server span is the child of that attempt.
    for server in back_servers {
        assert!(attempts
            .iter()
            .any(|a| a.span.span_id == server.span.parent_span_id));
    }
}

/// A collector that accepts connections and never answers.
async fn hanging_collector() -> String {
    let (listener, address) = testing::loopback_listener().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_collector_that_is_down_or_hangs_never_fails_a_request() {
    // Nothing listens on a port just released.
    let (listener, closed) = testing::loopback_listener().await;
    drop(listener);
    let hanging = hanging_collector().await;
    for endpoint in [format!("http://{closed}"), hanging] {
        let back = start_back(&endpoint).await;
        let front = start_front(&endpoint, &back).await;
        for _ in 0..50 {
            let (status, body) = get_with_traceparent(
                &format!("{}/v1/front/item", front.url()),
                &format!("00-{TRACE}-{CALLER_SPAN}-01"),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "collector {endpoint}");
            assert_eq!(body["ok"], true, "collector {endpoint}");
        }
        // Shutdown gives the last spans a bounded time, then goes.
        tokio::time::timeout(Duration::from_secs(15), async {
            front.stop().await.unwrap();
            back.stop().await.unwrap();
        })
        .await
        .unwrap_or_else(|_| panic!("instances exporting to {endpoint} did not stop"));
    }
}

/// Says when an event was handled.
struct Seen(tokio::sync::mpsc::UnboundedSender<String>);

impl Handle<Ticked> for Seen {
    async fn handle(&self, _tx: &mut Tx, _event: Ticked, envelope: &Envelope) -> Handled {
        let _ = self.0.send(envelope.id.clone());
        Ok(())
    }
}

#[tokio::test]
async fn an_event_consumers_span_links_to_the_request_that_produced_the_event() {
    let (receiver, endpoint) = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger_db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let tally_db = format!("sqlite://{}", dir.path().join("tally.db").display());

    let flags = ["--database-url", &ledger_db, "--otlp-endpoint", &endpoint];
    let ledger = start_ticking_ledger(&flags).await;

    let (seen, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let peers = format!("ledger={}", ledger.address);
    let flags = [
        "--database-url",
        &tally_db,
        "--otlp-endpoint",
        &endpoint,
        "--peers",
        &peers,
    ];
    let tally = Instance::start_custom(CONSUMER, &flags, move |mut ctx| async move {
        let db = ctx.open_store(&[events::INBOX_MIGRATION]).await?;
        let subscription = Subscription::new("ledger").on::<Ticked, _>(Seen(seen));
        ctx.subscribe(&db, subscription).await?;
        Ok(Router::new())
    })
    .await;

    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/v1/ticks", ledger.url()))
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .body(Full::new(Body::new()))
        .unwrap();
    let answer = PlainClient::default().send_request(request).await.unwrap();
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    tokio::time::timeout(Duration::from_secs(10), handled.recv())
        .await
        .expect("the event was not handled in time");
    tally.stop().await.unwrap();
    ledger.stop().await.unwrap();

    let producer = receiver
        .of_trace(TRACE)
        .into_iter()
        .find(|s| s.span.kind == SpanKind::Server as i32 && s.service() == "ledger")
        .expect("the producing request's span");
    let spans = receiver.spans.lock().unwrap().clone();
    let consumer = spans
        .iter()
        .find(|s| s.span.kind == SpanKind::Consumer as i32 && s.service() == "tally")
        .unwrap_or_else(|| panic!("no consumer span: {spans:#?}"));
    assert_eq!(consumer.span.name, "process brigade.ledger.Ticked");
    // Its own trace, linked to the span of the request that made the change.
    assert_ne!(hex(&consumer.span.trace_id), TRACE);
    assert_eq!(consumer.span.links.len(), 1);
    assert_eq!(hex(&consumer.span.links[0].trace_id), TRACE);
    assert_eq!(consumer.span.links[0].span_id, producer.span.span_id);
    assert!(!consumer.is_error());
}

/// Store spans, on both engines: a request that reads the store shows its statements as
/// client spans under its server span, described by the database conventions, and without
/// the values it bound.
mod store {
    use brigade_chassis::db::{Db, Query};

    use super::*;

    const SHELF: ServiceInfo = ServiceInfo {
        name: "shelf",
        version: "0.1.0",
        depends_on: brigade_chassis::service::Dependencies::NONE,
    };
    /// A value bound to the statement, which no span may carry.
    const SECRET_ID: &str = "shelf-id-that-must-not-leak";

    async fn a_request_that_reads_the_store_has_store_spans_under_its_server_span(db: Db) {
        let system = match db.backend() {
            brigade_chassis::db::Backend::Sqlite => "sqlite",
            brigade_chassis::db::Backend::Postgres => "postgresql",
        };
        Query::new("CREATE TABLE shelves (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&db)
            .await
            .unwrap();
        Query::new("INSERT INTO shelves (id, name) VALUES (?, ?)")
            .bind(SECRET_ID)
            .bind("top")
            .execute(&db)
            .await
            .unwrap();
        let (receiver, endpoint) = Receiver::start().await;
        let flags = ["--otlp-endpoint", endpoint.as_str()];
        let shelf = Instance::start_custom(SHELF, &flags, move |_ctx| async move {
            Ok(Router::new().route(
                "/v1/shelves/{id}",
                get(
                    move |axum::extract::Path(id): axum::extract::Path<String>| async move {
                        // One statement on the pool, and a transaction of one statement.
                        let name: Option<(String,)> =
                            Query::new("SELECT name FROM shelves WHERE id = ?")
                                .bind(&id)
                                .fetch_optional(&db)
                                .await
                                .map_err(|_| Problem::internal())?;
                        let mut tx = db.begin_write().await.map_err(|_| Problem::internal())?;
                        Query::new("UPDATE shelves SET name = name WHERE id = ?")
                            .bind(&id)
                            .execute(&mut tx)
                            .await
                            .map_err(|_| Problem::internal())?;
                        tx.commit().await.map_err(|_| Problem::internal())?;
                        Ok::<_, Problem>(axum::Json(json!({ "name": name.map(|n| n.0) })))
                    },
                ),
            ))
        })
        .await;
        let url = format!("{}/v1/shelves/{SECRET_ID}", shelf.url());
        let (status, body) =
            get_with_traceparent(&url, &format!("00-{TRACE}-{CALLER_SPAN}-01")).await;
        assert_eq!((status, &body["name"]), (StatusCode::OK, &json!("top")));
        // An unsampled request: its statements make no spans.
        let unsampled = "0af7651916cd43dd8448eb211c80319c";
        let (status, _) =
            get_with_traceparent(&url, &format!("00-{unsampled}-{CALLER_SPAN}-00")).await;
        assert_eq!(status, StatusCode::OK);
        shelf.stop().await.unwrap();

        let spans = receiver.of_trace(TRACE);
        let server = spans
            .iter()
            .find(|s| s.span.kind == SpanKind::Server as i32)
            .unwrap_or_else(|| panic!("no server span: {spans:#?}"));
        let mut store: Vec<&Received> = spans
            .iter()
            .filter(|s| s.attribute("db.system.name").is_some())
            .collect();
        store.sort_by_key(|s| s.span.start_time_unix_nano);
        let names: Vec<&str> = store.iter().map(|s| s.span.name.as_str()).collect();
        assert_eq!(
            names,
            ["SELECT shelves", "BEGIN", "UPDATE shelves", "COMMIT"],
            "{spans:#?}"
        );
        let text = |s: &str| Some(any_value::Value::StringValue(s.into()));
        for span in &store {
            assert_eq!(span.span.kind, SpanKind::Client as i32, "{span:#?}");
            assert_eq!(span.span.parent_span_id, server.span.span_id, "{span:#?}");
            assert_eq!(span.attribute("db.system.name"), text(system));
            assert_eq!(span.service(), "shelf");
            assert!(!span.is_error(), "{span:#?}");
            // No attribute carries the value the statement was given.
            for kv in &span.span.attributes {
                assert!(
                    !format!("{:?}", kv.value).contains(SECRET_ID),
                    "{} leaks a bound value",
                    kv.key
                );
            }
        }
        let select = store[0];
        assert_eq!(select.attribute("db.operation.name"), text("SELECT"));
        assert_eq!(select.attribute("db.collection.name"), text("shelves"));
        assert_eq!(select.attribute("db.query.summary"), text("SELECT shelves"));
        assert_eq!(store[3].attribute("db.operation.name"), text("COMMIT"));
        assert_eq!(store[3].attribute("db.collection.name"), None);
        // Within the server span's time.
        assert!(store.iter().all(|s| {
            s.span.start_time_unix_nano >= server.span.start_time_unix_nano
                && s.span.end_time_unix_nano <= server.span.end_time_unix_nano
        }));

        assert!(
            receiver.of_trace(unsampled).is_empty(),
            "an unsampled request's statements were exported"
        );
    }

    brigade_chassis::store_suite!(
        a_request_that_reads_the_store_has_store_spans_under_its_server_span
    );
}
