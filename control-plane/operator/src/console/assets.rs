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

pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { answer(HTML, INDEX) }))
        .route("/console/{*file}", get(file))
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, media_type, body)) => answer(media_type, body),
        None => Problem::not_found(format!("the console has no file `{name}`")).into_response(),
    }
}

fn answer(media_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            // The files change with every build and are small: always revalidate.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_that_are_served_and_runs_no_inline_code() {
        for reference in INDEX
            .split(['"', '\''])
            .filter(|part| part.starts_with("/console/"))
        {
            let name = &reference["/console/".len()..];
            assert!(
                FILES.iter().any(|(file, _, _)| *file == name),
                "index.html loads {reference}, which is not served"
            );
        }
        assert!(!INDEX.contains("<script>"), "inline script in index.html");
        assert!(!INDEX.contains("<style"), "inline style in index.html");
        assert!(!INDEX.contains("style=\""), "style attribute in index.html");
        for handler in ["onclick=", "onload=", "oninput=", "onchange=", "onsubmit="] {
            assert!(!INDEX.contains(handler), "inline {handler} in index.html");
        }
    }
}
