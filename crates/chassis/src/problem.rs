//! RFC 9457 problem details: the one error format of every Brigade HTTP API.
//!
//! A problem has a stable `type` (a URN naming the error code, documented in docs/problems.md),
//! a short `title`, a human `detail` saying what was wrong and what to do, and the `trace_id`
//! of the request so that a user's report leads straight to the trace and logs.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// The media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// The name of the problem schema in an OpenAPI document's `components.schemas`.
pub const SCHEMA_NAME: &str = "Problem";

/// Every problem `type` is `urn:brigade:problem:<code>`.
pub const TYPE_PREFIX: &str = "urn:brigade:problem:";

/// A problem details document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Extra members, e.g. the offending parameter's name.
    #[serde(flatten, default)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// A caller's input in backquotes for a problem's detail, shortened to its first 64 characters
/// so that a huge input does not make a huge answer.
pub fn quoted(input: &str) -> String {
    const SHOWN: usize = 64;
    if input.chars().count() <= SHOWN {
        format!("`{input}`")
    } else {
        format!("`{}…`", input.chars().take(SHOWN).collect::<String>())
    }
}

impl Problem {
    /// A problem with the code `code` (the last part of its `type`).
    pub fn new(
        status: StatusCode,
        code: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            type_uri: Cow::Owned(format!("{TYPE_PREFIX}{code}")),
            title: Cow::Borrowed(title),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            trace_id: crate::context::current().map(|c| c.trace.trace_id_hex()),
            extensions: serde_json::Map::new(),
        }
    }

    /// The short code of this problem's `type`, e.g. `not-found`.
    pub fn code(&self) -> &str {
        self.type_uri
            .strip_prefix(TYPE_PREFIX)
            .unwrap_or(&self.type_uri)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Problem {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// A query, path or body parameter that failed validation; names the parameter.
    pub fn invalid_parameter(name: &str, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            detail,
        )
        .with("parameter", name)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            detail,
        )
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            detail,
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    /// A dependency could not be reached or had no instances.
    pub fn service_unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// A dependency answered with something unusable.
    pub fn bad_gateway(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            "bad-gateway",
            "Bad gateway",
            detail,
        )
    }

    pub fn deadline_exceeded(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "deadline-exceeded",
            "Deadline exceeded",
            detail,
        )
    }

    /// An unexpected failure. The detail given to the client never carries internals: those go
    /// to the log, which the trace id finds.
    /// A service's own store failed: the cause goes to the log (with the request's trace id,
    /// which the answer carries too), never into the answer.
    pub fn store_failed(error: &dyn std::error::Error) -> Problem {
        tracing::error!(%error, "the store failed");
        Problem::internal()
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the service failed unexpectedly; the trace id finds the details in its logs",
        )
    }
}

/// A resource that may be absent, as a handler answers it: `None` is a 404 `not-found` whose
/// detail says what is absent (built only then).
pub trait OrNotFound<T> {
    // A handler's `Result<_, Problem>` is its answer, made once per request: its size is
    // what a problem answer weighs anyway.
    #[allow(clippy::result_large_err)]
    fn or_not_found(self, detail: impl FnOnce() -> String) -> Result<T, Problem>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, detail: impl FnOnce() -> String) -> Result<T, Problem> {
        self.ok_or_else(|| Problem::not_found(detail()))
    }
}

/// A service's store error. Marking it (`impl StoreFailure for store::Error {}`) lets a handler
/// pass the store's failure on with `?`, answered as [`Problem::store_failed`]: logged, never
/// shown.
pub trait StoreFailure: std::error::Error {}

impl<E: StoreFailure> From<E> for Problem {
    fn from(error: E) -> Problem {
        Problem::store_failed(&error)
    }
}

/// Handlers and contract crates name `Problem` as the body of an answer (`body = Problem`, or a
/// variant of an `IntoResponses` type); a service's document then has its own `Problem`, with its
/// own members (see `openapi::Contract::problem_member`).
impl utoipa::PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(schema_object().build()))
    }
}

impl utoipa::ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(SCHEMA_NAME)
    }
}

/// The members every problem has.
pub(crate) fn schema_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some(
            "An RFC 9457 problem (application/problem+json). `type` is \
                 urn:brigade:problem:CODE; docs/problems.md lists the codes.",
        ))
        .property("type", text("urn:brigade:problem:CODE"))
        .required("type")
        .property("title", text("A short summary of the problem's kind."))
        .required("title")
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("The HTTP status code.")),
        )
        .required("status")
        .property("detail", text("What was wrong and what to do."))
        .required("detail")
        .property("instance", text("The request's path."))
        .property(
            "trace_id",
            text("The request's trace id, to find its logs and trace."),
        )
}

fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// How a server shows the problems its middleware answers by itself, before or around the
/// service's handlers: a shed request (503 `overloaded`), a missed deadline (504), a panic, an
/// unknown route or method. An API answers them as problem+json (the default, when a server has
/// none); an edge that serves people, like the storefront, renders them as its own pages, because
/// a shopper must read a sentence with a way forward, not a JSON document.
///
/// The status is the problem's whatever the page sets, and the middleware adds its own headers
/// (`Retry-After`) after rendering: callers, retries and metrics see the same refusal either way.
#[derive(Clone)]
pub struct ProblemPage(std::sync::Arc<dyn Fn(&Problem) -> Response + Send + Sync>);

impl ProblemPage {
    pub fn new(render: impl Fn(&Problem) -> Response + Send + Sync + 'static) -> ProblemPage {
        ProblemPage(std::sync::Arc::new(render))
    }

    /// `problem` as this page, with the problem's status.
    pub fn render(&self, problem: &Problem) -> Response {
        let mut response = (self.0)(problem);
        *response.status_mut() = problem.status_code();
        response
    }

    /// `problem` as `page` when there is one, else as problem+json.
    pub fn answer(page: Option<&ProblemPage>, problem: Problem) -> Response {
        match page {
            Some(page) => page.render(&problem),
            None => problem.into_response(),
        }
    }
}

impl std::fmt::Debug for ProblemPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProblemPage")
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoted_input_is_shown_whole_up_to_64_characters_then_cut_on_a_character() {
        assert_eq!(quoted("abc"), "`abc`");
        let exactly = "é".repeat(64);
        assert_eq!(quoted(&exactly), format!("`{exactly}`"));
        let long = "é".repeat(10_000);
        assert_eq!(quoted(&long), format!("`{}…`", "é".repeat(64)));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("disk on fire at /var/lib/secret")]
    struct Broken;

    impl super::StoreFailure for Broken {}

    #[test]
    fn a_store_failure_converts_to_an_internal_problem_that_shows_nothing_of_it() {
        let problem = super::Problem::from(Broken);
        assert_eq!(problem, super::Problem::internal());
        assert!(!problem.detail.contains("secret"));
    }
}
