//! Drop-in replacements for axum's `Json`, `Query` and `Path` whose rejections are
//! problem+json with a detail that says which input was wrong and how, and [`PathUuid`], the one
//! way a handler reads an id from its path.

use axum::extract::rejection::{
    JsonRejection, PathRejection, QueryRejection, RawPathParamsRejection,
};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::problem::{quoted, Problem};
pub use crate::validation::UuidParameter;

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
        json_body(&bytes).map(Json)
    }
}

/// Decodes a request body the way [`Json`] does once the body is read: a value of `T`, or the
/// problem the route answers. Public so that the fuzz targets (`fuzz/`) drive exactly this
/// decoding without a server; handlers take [`Json`].
// The problem is the route's answer, made once per request: its size is what a problem
// answer weighs anyway.
#[allow(clippy::result_large_err)]
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let axum::Json(value) = axum::Json::<T>::from_bytes(bytes).map_err(json_problem)?;
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
    Ok(value)
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

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        query_string(&parts.uri).map(Query)
    }
}

/// Decodes the query string of `uri` the way [`Query`] does: a value of `T`, or the problem the
/// route answers. Public so that the fuzz targets (`fuzz/`) drive exactly this decoding without
/// a server; handlers take [`Query`].
// The problem is the route's answer, made once per request: its size is what a problem
// answer weighs anyway.
#[allow(clippy::result_large_err)]
pub fn query_string<T: DeserializeOwned>(uri: &http::Uri) -> Result<T, Problem> {
    match axum::extract::Query::<T>::try_from_uri(uri) {
        Ok(axum::extract::Query(value)) => Ok(value),
        Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query string",
            format!("the query string is invalid: {}", source_text(&e)),
        )),
        Err(other) => Err(Problem::bad_request(other.body_text())),
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

/// A path parameter that must be a UUID, parsed before the handler runs. A segment that is not
/// one is refused with `400 invalid-parameter` naming the parameter (`P::NAME`), the problem
/// every path id of every service answers, which the chassis documents on each operation with a
/// path parameter. The parameter is found by name, so a route with several parameters takes one
/// `PathUuid` per id.
#[derive(Debug, Clone, Copy)]
pub struct PathUuid<P>(pub Uuid, pub P);

impl<P, S> FromRequestParts<S> for PathUuid<P>
where
    P: UuidParameter + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params,
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
                return Err(not_a_uuid::<P>("the segment"))
            }
            Err(other) => return Err(misrouted::<P>(&other.body_text())),
        };
        let Some((_, text)) = params.iter().find(|(name, _)| *name == P::NAME) else {
            return Err(misrouted::<P>("the route has no parameter of that name"));
        };
        Uuid::parse_str(text)
            .map(|id| PathUuid(id, P::default()))
            .map_err(|_| not_a_uuid::<P>(&quoted(text)))
    }
}

/// The refusal of a segment (`shown`, already quoted) that is not a UUID.
fn not_a_uuid<P: UuidParameter>(shown: &str) -> Problem {
    Problem::invalid_parameter(
        P::NAME,
        format!(
            "{}: {shown} is not {}: ids are UUIDs, such as 4b0c3a5e-8f1d-4c2a-9e7b-1d2f3a4b5c6d",
            P::NAME,
            P::NOUN
        ),
    )
}

/// A handler asking for a parameter its route does not have: the service's mistake, not the
/// caller's, so a 500 (and a log line saying which) rather than a 400.
fn misrouted<P: UuidParameter>(why: &str) -> Problem {
    tracing::error!(
        parameter = P::NAME,
        why,
        "a PathUuid that its route does not fill"
    );
    Problem::internal()
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

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Paging {
        page: Option<u32>,
    }

    /// The decoding the fuzz targets drive answers what the extractors answer.
    #[test]
    fn bodies_and_query_strings_decode_or_are_refused_as_problems() {
        assert_eq!(
            json_body::<Paging>(br#"{"page":2}"#).ok(),
            Some(Paging { page: Some(2) })
        );
        let code = |r: Result<Paging, Problem>| r.err().map(|p| (p.status, p.code().to_owned()));
        assert_eq!(code(json_body(b"{")).map(|c| c.0), Some(400));
        assert_eq!(code(json_body(b" [2]")), Some((422, "invalid-body".into())));
        assert_eq!(code(json_body(br#"{"page":-1}"#)).map(|c| c.0), Some(422));

        let uri = |q: &str| http::Uri::try_from(format!("/?{q}")).unwrap();
        assert_eq!(
            query_string::<Paging>(&uri("page=3")).ok(),
            Some(Paging { page: Some(3) })
        );
        for bad in ["page=x", "size=1", "page=1&page=2"] {
            assert_eq!(
                code(query_string(&uri(bad))),
                Some((400, "invalid-query".into())),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod path_uuid_tests {
    use axum::routing::get;
    use axum::Router;
    use serde_json::Value;

    use super::*;
    use crate::testing::send_json;

    crate::uuid_parameter!(OrderId = "order_id", "an order id");
    crate::uuid_parameter!(LineId = "line_id", "a line id");

    /// Echoes what the handler was given; one route with two ids, one whose handler asks for a
    /// parameter its pattern does not have.
    fn app() -> Router {
        Router::new()
            .route(
                "/orders/{order_id}",
                get(|PathUuid(id, _): PathUuid<OrderId>| async move { id.to_string() }),
            )
            .route("/orders/{order_id}/lines/{line_id}", get(order_and_line))
            .route(
                "/lines/{id}",
                get(|PathUuid(id, _): PathUuid<LineId>| async move { id.to_string() }),
            )
    }

    async fn order_and_line(
        PathUuid(order, _): PathUuid<OrderId>,
        PathUuid(line, _): PathUuid<LineId>,
    ) -> String {
        format!("{order}/{line}")
    }

    async fn get_path(path: &str) -> (StatusCode, Value) {
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = send_json(&app(), request).await;
        (answer.status, answer.body)
    }

    async fn text_of(path: &str) -> String {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_uuid_segment_reaches_the_handler_parsed() {
        let (order, line) = (Uuid::from_u128(7), Uuid::from_u128(8));
        assert_eq!(
            text_of(&format!("/orders/{order}")).await,
            order.to_string()
        );
        // Each id is found by its own name, whatever its place in the route.
        assert_eq!(
            text_of(&format!("/orders/{order}/lines/{line}")).await,
            format!("{order}/{line}")
        );
    }

    #[tokio::test]
    async fn a_segment_that_is_not_a_uuid_is_a_400_naming_the_parameter() {
        let line = Uuid::from_u128(8);
        for (path, parameter, shown) in [
            (
                "/orders/abc".to_owned(),
                "order_id",
                "order_id: `abc` is not an order id",
            ),
            (
                format!("/orders/abc/lines/{line}"),
                "order_id",
                "`abc` is not an order id",
            ),
            (
                format!("/orders/{line}/lines/7"),
                "line_id",
                "line_id: `7` is not a line id",
            ),
            // Percent-decoded before it is shown; not even text, it is refused all the same.
            (
                "/orders/a%20b".to_owned(),
                "order_id",
                "`a b` is not an order id",
            ),
            ("/orders/%FF".to_owned(), "order_id", "is not an order id"),
        ] {
            let (status, body) = get_path(&path).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert_eq!(
                body["type"], "urn:brigade:problem:invalid-parameter",
                "{body}"
            );
            assert_eq!(body["parameter"], parameter, "{body}");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(shown), "{path}: {detail}");
            assert!(detail.contains("ids are UUIDs"), "{detail}");
        }
        // A caller's long segment is shortened in the detail, not echoed whole.
        let (_, body) = get_path(&format!("/orders/{}", "x".repeat(2000))).await;
        assert!(
            body["detail"].as_str().is_some_and(|d| d.len() < 300),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_handler_asking_for_a_parameter_its_route_lacks_is_the_services_fault() {
        let (status, body) = get_path(&format!("/lines/{}", Uuid::from_u128(1))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(body["type"], "urn:brigade:problem:internal");
    }
}
