//! Drop-in replacements for axum's `Json`, `Query` and `Path` whose rejections are
//! problem+json with a detail that says which input was wrong and how.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::Problem;

/// JSON body extractor (and response) with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::unsupported_media_type(
                "the request body must be JSON, sent with content-type: application/json",
            ));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Problem::payload_too_large(format!(
                    "the request body is larger than this service accepts ({})",
                    rejection.body_text()
                )))
            }
            Err(rejection) => {
                return Err(Problem::bad_request(format!(
                    "cannot read the request body: {}",
                    rejection.body_text()
                )))
            }
        };
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(json_problem)?;
        // Every Brigade body is a JSON object (or `null` where a route takes none), and its
        // document says so; serde would also read an array as a struct's fields in order, which
        // would accept bodies the contract refuses.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                "the request body does not match the expected shape: it must be a JSON object, \
                 not an array",
            ));
        }
        Ok(Json(value))
    }
}

/// `content-type: application/json` or another JSON media type (`application/…+json`), as
/// axum's own JSON extractor accepts.
fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(
            "the request body must be JSON, sent with content-type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => Problem::bad_request(format!(
            "the request body is not valid JSON: {}",
            source_text(&e)
        )),
        JsonRejection::JsonDataError(e) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Invalid request body",
            format!(
                "the request body does not match the expected shape: {}",
                source_text(&e)
            ),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::payload_too_large(format!(
                "the request body is larger than this service accepts ({})",
                e.body_text()
            ))
        }
        other => Problem::bad_request(format!(
            "cannot read the request body: {}",
            other.body_text()
        )),
    }
}

/// Query-string extractor with problem+json rejections. Combine with
/// `#[serde(deny_unknown_fields)]` to refuse parameters the route does not know.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "Invalid query string",
                format!("the query string is invalid: {}", source_text(&e)),
            )),
            Err(other) => Err(Problem::bad_request(other.body_text())),
        }
    }
}

/// The query string of a route that takes no parameters: `Query<NoParameters>` refuses any, so
/// that a parameter the caller believes does something is an error rather than silently ignored.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParameters {}

/// Path-parameter extractor with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-path",
                "Invalid path parameter",
                format!("a path parameter is invalid: {}", e.body_text()),
            )),
            Err(other) => Err(Problem::bad_request(other.body_text())),
        }
    }
}

/// The innermost error message: serde's own words, without axum's prefix.
fn source_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// A required `Idempotency-Key` header that follows the rules
/// ([`crate::validation::check_idempotency_key`]). Missing, repeated or malformed, the request is
/// refused with a 400 naming the header before its body is read.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

/// An optional `Idempotency-Key` header; when present it must follow the rules.
#[derive(Debug, Clone)]
pub struct OptionalIdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalIdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts
            .headers
            .get_all(crate::context::IDEMPOTENCY_KEY_HEADER)
            .iter();
        let Some(value) = values.next() else {
            return Ok(OptionalIdempotencyKey(None));
        };
        if values.next().is_some() {
            return Err(Problem::invalid_parameter(
                "Idempotency-Key",
                "send one Idempotency-Key header, not several",
            ));
        }
        // Not visible ASCII is refused by the rules below; a value that is not even text gets
        // the same sentence.
        let key = value.to_str().unwrap_or("\u{0}");
        crate::validation::check_idempotency_key(key)?;
        Ok(OptionalIdempotencyKey(Some(key.to_owned())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match OptionalIdempotencyKey::from_request_parts(parts, state)
            .await?
            .0
        {
            Some(key) => Ok(IdempotencyKey(key)),
            None => Err(Problem::invalid_parameter(
                "Idempotency-Key",
                format!(
                    "this request needs an Idempotency-Key header (1 to {} visible ASCII \
                     characters, such as a UUID) that is the same each time it is repeated, so \
                     that a repeat has one effect",
                    crate::validation::MAX_IDEMPOTENCY_KEY_CHARS
                ),
            )),
        }
    }
}

#[cfg(test)]
mod body_tests {
    use axum::body::Body;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Optional {
        #[serde(default)]
        #[allow(dead_code)]
        reason: Option<String>,
    }

    async fn status_of(content_type: &str, body: &'static str) -> StatusCode {
        let app = Router::new().route("/", post(|_: Json<Optional>| async { "ok" }));
        let request = http::Request::post("/")
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        app.oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn a_body_is_a_json_object_sent_as_json() {
        assert_eq!(status_of("application/json", "{}").await, StatusCode::OK);
        assert_eq!(
            status_of("application/json; charset=utf-8", r#"{"reason":"x"}"#).await,
            StatusCode::OK
        );
        assert_eq!(
            status_of("application/problem+json", "{}").await,
            StatusCode::OK
        );
        // serde would read `[]` as a struct whose fields all have defaults: refused here.
        assert_eq!(
            status_of("application/json", " [] ").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of("application/json", r#"["x"]"#).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of("application/json", "{").await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of("text/plain", "{}").await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
