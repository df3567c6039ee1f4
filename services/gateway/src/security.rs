//! The headers every answer of the public API carries.
//!
//! The API answers JSON, never pages, so its Content-Security-Policy allows nothing at all (a
//! response opened in a browser runs no script and loads nothing) and no site may frame it.
//! No CORS headers are sent: a script on another origin cannot read the API's answers, and
//! access tokens travel in `Authorization`, never in cookies, so there is nothing a cross-site
//! request could ride on. The shop's pages (the storefront) are same-origin with themselves and
//! call the services directly, not through the browser.

use axum::http::{header, HeaderName};
use axum::Router;

/// Set on every answer, whatever the handler set.
const FIXED: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
];

/// Set where the handler has not chosen its own: answers are a shopper's own, not for caches.
const DEFAULTS: [(HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// `router` with the security headers on every answer.
pub fn headers(router: Router) -> Router {
    brigade_chassis::http::with_headers(router, &FIXED, &DEFAULTS)
}
