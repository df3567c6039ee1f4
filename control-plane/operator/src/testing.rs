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
    }
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

/// A string attribute.
pub(crate) fn attribute(
    key: &str,
    value: &str,
) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}
