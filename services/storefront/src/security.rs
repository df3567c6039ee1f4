//! The headers every answer of the storefront carries.
//!
//! The Content-Security-Policy allows scripts, styles, images, forms and fetches from the
//! storefront itself only: no inline script or style anywhere (htmx is told not to add its
//! indicator style, `templates/base.html`), no plug-ins, no framing. Pages are private to the
//! shopper (`no-store`); assets and images set their own caching.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::Router;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Set on every answer: what no page may change.
const FIXED: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Set where the answer has not set its own (assets and images cache; no page needs another
/// policy today, but one may).
const DEFAULTS: [(HeaderName, &str); 2] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::CACHE_CONTROL, "no-store"),
];

/// `router` with the security headers on every answer.
pub fn headers(router: Router) -> Router {
    brigade_chassis::http::with_headers(router, &FIXED, &DEFAULTS)
}

/// The same headers on one answer made outside the router: the chassis' own refusals
/// ([`crate::failure::problem_page`]), which never pass through [`headers`]' layers.
pub fn stamp(headers: &mut HeaderMap) {
    for (name, value) in DEFAULTS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    for (name, value) in FIXED {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
