//! `GET /openapi.json`: the service's contract, written by hand and checked by the tests against
//! the router (every route documented, every documented route served).

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI 3.1 document.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub(super) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
