//! What the control port's tests share: the port itself on a free loopback port, and a GET
//! that reads the answer as JSON.

use std::time::Duration;

use brigade_chassis::plain::{Answer, PlainClient};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::system::Sources;

/// Sources of a system that runs the `desired` services and nothing yet.
pub(crate) fn sources(desired: &[&str]) -> Sources {
    Sources {
        registry: brigade_registry::Registry::new(),
        supervisor: None,
        desired: desired.iter().map(|s| ((*s).to_owned(), 1)).collect(),
        control_url: String::new(),
        started_at_ms: 0,
        stop_grace: Duration::from_secs(2),
        traces: crate::traces::TraceStore::default(),
        logs: crate::logs::LogStore::default(),
        metrics: crate::otlp_metrics::MetricStore::default(),
        console: crate::console_data::Series::default(),
        operator: crate::operator_auth::Gate::new(credential(), None),
        acting_operator: None,
    }
}

/// The operator credential of the control ports these tests serve: 32 zero bytes.
pub(crate) const CREDENTIAL: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub(crate) fn credential() -> crate::credential::OperatorCredential {
    crate::credential::OperatorCredential::from_secret(CREDENTIAL).unwrap()
}

/// The control port over `sources` on a free loopback port; its base URL.
pub(crate) async fn serve(sources: Sources) -> String {
    let app = crate::control::router(sources);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

pub(crate) fn client() -> PlainClient {
    PlainClient::new(Duration::from_secs(5))
}

/// Status, body as JSON (`null` when it is not), and content type.
pub(crate) async fn get(url: &str) -> (StatusCode, Value, String) {
    let answer = client().send(Method::GET, url, None).await.unwrap();
    let content_type = answer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status, body, content_type)
}

/// GETs `url` and asserts the 400 problem naming `parameter` that it is answered with.
pub(crate) async fn assert_invalid(url: &str, parameter: &str) {
    let (status, problem, content_type) = get(url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {problem}");
    assert_eq!(content_type, "application/problem+json", "{url}");
    assert_eq!(problem["parameter"], parameter, "{url}: {problem}");
}

/// A POST of `body` as `content_type`; the answer whatever its status.
pub(crate) async fn post(url: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    client().send_request(request).await.unwrap()
}

/// A POST of `body` (JSON) to `url` as the operator, with the credential of [`sources`]; the
/// answer whatever its status.
pub(crate) async fn operator_post(url: &str, body: Option<&str>) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {CREDENTIAL}"));
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = Bytes::from(body.unwrap_or_default().to_owned());
    client()
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap()
}

/// POSTs `export` to `url` as OTLP protobuf and asserts the receiver took it: a 200 answered
/// in protobuf, which is given.
pub(crate) async fn post_protobuf(url: &str, export: Vec<u8>) -> Answer {
    let answer = post(url, "application/x-protobuf", export).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    answer
}

/// POSTs each body to `url` as its content type and asserts the problem it is refused with.
pub(crate) async fn assert_refused<const N: usize>(
    url: &str,
    cases: [(&str, Vec<u8>, StatusCode); N],
) {
    for (content_type, body, expected) in cases {
        let answer = post(url, content_type, body).await;
        assert_eq!(answer.status, expected, "{content_type}");
        assert_eq!(
            answer.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}

// A string attribute, made as the control port makes them.
pub(crate) use crate::otlp::text_attribute as attribute;

/// The resource of `instance` of `service`, as an SDK describes it.
pub(crate) fn resource(
    service: &str,
    instance: &str,
) -> opentelemetry_proto::tonic::resource::v1::Resource {
    opentelemetry_proto::tonic::resource::v1::Resource {
        attributes: vec![
            attribute("service.name", service),
            attribute("service.instance.id", instance),
        ],
        ..Default::default()
    }
}

/// The instrumentation scope `name` (a tracer's, logger's or meter's name).
pub(crate) fn scope(name: &str) -> opentelemetry_proto::tonic::common::v1::InstrumentationScope {
    opentelemetry_proto::tonic::common::v1::InstrumentationScope {
        name: name.to_owned(),
        ..Default::default()
    }
}

/// The `field` of every item of the JSON array `items`, each a string.
pub(crate) fn texts<'v>(items: &'v Value, field: &str) -> Vec<&'v str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("no text {field}: {item}"))
        })
        .collect()
}
