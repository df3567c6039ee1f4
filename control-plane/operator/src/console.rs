//! The console: one self-contained page at `/` of the control port (no external assets, nothing
//! to install) that shows every service and instance, refreshed every second from `/v1/system`.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header;

/// The page, compiled in.
pub const PAGE: &str = include_str!("console.html");

pub fn router() -> Router {
    Router::new().route("/", get(page))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page is tiny and changes with every build: never serve a stale one.
            (header::CACHE_CONTROL, "no-cache"),
            // Everything is inline: forbid anything else from loading.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        PAGE,
    )
        .into_response()
}
