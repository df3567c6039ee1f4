//! One check for every service's contract: its OpenAPI document lists exactly the operations the
//! test expects, and every documented operation is served.
//!
//! Routers built with `utoipa_axum` cannot serve a route they do not document; this proves the
//! other half (nothing documented that is not served), and pins the list of operations, so that
//! adding or dropping a route is a visible change of the contract.

use std::future::Future;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::Full;

use super::{fetch_json, send_json, JsonAnswer};

/// What fills a path parameter when a documented operation is tried: a UUID, which is also a
/// well-formed SKU, so that the handler (not the router) answers.
const PATH_PARAMETER: &str = "00000000-0000-4000-8000-000000000000";

/// Asserts that the document `router` serves at `/openapi.json` documents exactly `expected`
/// (`"METHOD /path"`, in any order) besides `GET /openapi.json` itself, and that each is served
/// in process; gives the document.
pub async fn assert_openapi_covers(router: &Router, expected: &[&str]) -> serde_json::Value {
    covers(
        |method, path| async move { send_json(router, request(method, &path, Body::from("{}"))).await },
        crate::openapi::PATH,
        expected,
    )
    .await
}

/// [`assert_openapi_covers`] for an instance listening at `base` (e.g. `http://127.0.0.1:P`),
/// whose document is at `document_path` (the gateway's is under `/api/v1`) and documents itself.
pub async fn assert_openapi_covers_at(
    base: &str,
    document_path: &str,
    expected: &[&str],
) -> serde_json::Value {
    covers(
        |method, path| async move {
            let uri = format!("{base}{path}");
            fetch_json(request(method, &uri, Full::new(Bytes::from_static(b"{}")))).await
        },
        document_path,
        expected,
    )
    .await
}

async fn covers<S, F>(send: S, document_path: &str, expected: &[&str]) -> serde_json::Value
where
    S: Fn(Method, String) -> F,
    F: Future<Output = JsonAnswer>,
{
    let document = send(Method::GET, document_path.to_owned()).await.ok();
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented = operations(&document);
    documented.sort_unstable();
    // Every document lists its own route: said here once rather than by every caller.
    let mut wanted: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    wanted.push(format!("GET {document_path}"));
    wanted.sort_unstable();
    assert_eq!(documented, wanted, "the documented operations");
    for operation in &documented {
        let (method, path) = operation
            .split_once(' ')
            .unwrap_or_else(|| panic!("not `METHOD /path`: {operation}"));
        let method =
            Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{operation}: {e}"));
        let answer = send(method, fill_parameters(path)).await;
        // The chassis answers a route it does not serve with 405, or 404 "there is no route";
        // a handler's own 404 (no such product) says something else.
        let unserved = answer.status == StatusCode::METHOD_NOT_ALLOWED
            || (answer.status == StatusCode::NOT_FOUND
                && answer.body["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("there is no route")));
        assert!(
            !unserved,
            "{operation} is documented but not served: {answer:?}"
        );
    }
    document
}

/// The names of the parameters `document` gives the operation `method` (lower case) on `path`,
/// in their documented order.
pub fn documented_parameters<'d>(
    document: &'d serde_json::Value,
    method: &str,
    path: &str,
) -> Vec<&'d str> {
    super::texts(&document["paths"][path][method]["parameters"], "name")
}

/// `"METHOD /path"` for every operation of `document`.
fn operations(document: &serde_json::Value) -> Vec<String> {
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("a document without paths: {document}"));
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|item| item.keys())
                .filter(|method| {
                    !matches!(method.as_str(), "parameters" | "summary" | "description")
                })
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect()
}

/// `path` with every `{parameter}` replaced by [`PATH_PARAMETER`].
fn fill_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                PATH_PARAMETER
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn request<B>(method: Method, uri: &str, body: B) -> Request<B> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_else(|e| panic!("{uri}: {e}"))
}
