//! The storefront's own static files: htmx (vendored from its npm package `htmx.org`, with its
//! licence, in `assets/`) and the style sheet. Nothing comes from a CDN.
//!
//! Each URL carries the file's content hash, so an answer never changes for its URL and is
//! cached for a year as immutable; its ETag answers a revalidation with 304.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// htmx, minified, as published in the npm package.
const HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
/// htmx's licence (BSD Zero Clause), served next to it.
const HTMX_LICENSE: &[u8] = include_bytes!("../assets/htmx.LICENSE");
const STYLE: &[u8] = include_bytes!("../assets/style.css");
/// The site's icon, linked from every page so that browsers do not ask for `/favicon.ico`.
const ICON: &[u8] = include_bytes!("../assets/icon.svg");

/// One file: its name in URLs (with its hash), its type, its bytes and its ETag.
struct Asset {
    url: String,
    content_type: &'static str,
    body: &'static [u8],
    etag: String,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let hash = content_hash(body);
        Asset {
            url: format!("/assets/{stem}.{}.{extension}", &hash[..12]),
            content_type,
            body,
            etag: format!("\"{hash}\""),
        }
    }
}

static ASSETS: LazyLock<[Asset; 4]> = LazyLock::new(|| {
    [
        Asset::new("style", "css", "text/css; charset=utf-8", STYLE),
        Asset::new("htmx", "min.js", "text/javascript; charset=utf-8", HTMX),
        Asset::new(
            "htmx-LICENSE",
            "txt",
            "text/plain; charset=utf-8",
            HTMX_LICENSE,
        ),
        Asset::new("icon", "svg", "image/svg+xml", ICON),
    ]
});

pub fn style_url() -> &'static str {
    &ASSETS[0].url
}

pub fn htmx_url() -> &'static str {
    &ASSETS[1].url
}

pub fn icon_url() -> &'static str {
    &ASSETS[3].url
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>, request: HeaderMap) -> Response {
    let path = format!("/assets/{name}");
    match ASSETS.iter().find(|asset| asset.url == path) {
        Some(asset) => immutable(&request, asset.content_type, &asset.etag, asset.body.into()),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The first 32 hex digits of the SHA-256 of `body`.
pub fn content_hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An answer that never changes for its URL: cached for a year, revalidated by `etag`.
pub fn immutable(request: &HeaderMap, content_type: &str, etag: &str, body: Body) -> Response {
    let cached = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
