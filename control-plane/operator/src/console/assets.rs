//! The console's files, compiled in, each answered with its media type and a policy that lets
//! the page load only these.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::Problem;
use http::header;

/// Allows nothing but this origin: scripts, styles, images (uPlot draws on canvas) and fetches.
/// `style-src` allows no inline `style` attributes either: the scripts size things through the
/// CSSOM (`element.style.width = …`), which CSP does not govern.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file under `/console/`: its name, media type and bytes.
const FILES: &[(&str, &str, &str)] = &[
    ("console.css", CSS, include_str!("assets/console.css")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("resources.js", JS, include_str!("assets/resources.js")),
    ("map.js", JS, include_str!("assets/map.js")),
    ("services.js", JS, include_str!("assets/services.js")),
    ("traces.js", JS, include_str!("assets/traces.js")),
    ("logs.js", JS, include_str!("assets/logs.js")),
    (
        "vendor/uplot/uPlot.iife.min.js",
        JS,
        include_str!("assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        CSS,
        include_str!("assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/dagre/dagre.min.js",
        JS,
        include_str!("assets/vendor/dagre/dagre.min.js"),
    ),
];

/// The page itself.
const INDEX: &str = include_str!("assets/index.html");

/// The files under `/console/`; the page itself is behind the login ([`super::login`]).
pub fn router() -> Router {
    Router::new().route("/console/{*file}", get(file))
}

/// The console's page.
pub fn index() -> Response {
    answer(HTML, INDEX)
}

/// An HTML page of the console's (e.g. the login's), under the same policy.
pub fn html(page: String) -> Response {
    answer(HTML, page)
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, media_type, body)) => answer(media_type, *body),
        None => Problem::not_found(format!("the console has no file `{name}`")).into_response(),
    }
}

fn answer(media_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            // The files change with every build and are small: always revalidate.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.into(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_that_are_served_and_runs_no_inline_code() {
        for page in [INDEX, super::super::login::PAGE] {
            only_served_files_and_no_inline_code(page);
        }
    }

    fn only_served_files_and_no_inline_code(page: &str) {
        for reference in page
            .split(['"', '\''])
            .filter(|part| part.starts_with("/console/"))
        {
            let name = &reference["/console/".len()..];
            assert!(
                FILES.iter().any(|(file, _, _)| *file == name),
                "index.html loads {reference}, which is not served"
            );
        }
        assert!(!page.contains("<script>"), "inline script in {page}");
        assert!(!page.contains("<style"), "inline style in {page}");
        assert!(!page.contains("style=\""), "style attribute in {page}");
        for handler in ["onclick=", "onload=", "oninput=", "onchange=", "onsubmit="] {
            assert!(!page.contains(handler), "inline {handler} in {page}");
        }
    }
}
