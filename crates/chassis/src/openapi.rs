//! Every service's OpenAPI document, generated from its code: the handlers carry
//! `#[utoipa::path(...)]`, the wire types derive `utoipa::ToSchema`, and the router is a
//! [`utoipa_axum::router::OpenApiRouter`] built with `routes!`, so that a route cannot be served
//! without being documented. [`Contract::serve`] turns that router into the axum router the
//! service runs, serving the document at `GET /openapi.json`.
//!
//! What every route can answer because of the chassis, rather than because of its handler, is
//! added here once (see [`Contract::finish`]), so that no handler has to repeat it and none can
//! forget it: the problem shape, `503 overloaded` with `Retry-After` from load shedding, `504` from
//! the time limit, `400`/`413`/`415`/`422` from the extractors, `401` from the bearer check.

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::content::Content;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, SCHEMA_NAME as PROBLEM};

/// Where every service serves its document (the gateway under its `/api/v1` prefix).
pub const PATH: &str = crate::routes::OPENAPI;

/// The name of the bearer security scheme, as operations name it in `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// A service's contract: what its document says about the service as a whole.
#[derive(Clone)]
pub struct Contract {
    title: String,
    version: String,
    description: String,
    /// Problem members a service adds to the standard ones (e.g. `parameter`, `product_id`).
    problem_members: Vec<(String, Schema)>,
    /// A prefix the routes are served under by the caller's `nest` (the gateway's `/api/v1`).
    prefix: String,
    /// Whether every route may answer 502 because a service it calls failed.
    calls_services: bool,
}

impl Contract {
    /// A contract titled `title`, at `version` (the crate's), described by `description`.
    pub fn new(title: &str, version: &str, description: &str) -> Contract {
        Contract {
            title: title.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            problem_members: vec![(
                "parameter".to_owned(),
                text("The query or path parameter, or the body member, that is invalid."),
            )],
            prefix: String::new(),
            calls_services: false,
        }
    }

    /// Says that every route calls other services, whose failures it may answer as 502 (their
    /// unavailability and slowness are the 503 and 504 every route documents).
    pub fn calls_services(mut self) -> Contract {
        self.calls_services = true;
        self
    }

    /// Documents a member the service's problems may carry besides the standard ones.
    pub fn problem_member(mut self, name: &str, schema: impl Into<Schema>) -> Contract {
        self.problem_members.push((name.to_owned(), schema.into()));
        self
    }

    /// Says that the router is served nested under `prefix`, so that the document's paths are
    /// the ones a caller uses.
    pub fn served_under(mut self, prefix: &str) -> Contract {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// The service's router with `GET /openapi.json` serving the document generated from
    /// `routes`.
    pub fn serve<S>(self, routes: OpenApiRouter<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let (router, document) = self.split(routes);
        // Serialized once: the document is the same for every request.
        let body = document.to_json().unwrap_or_default();
        router.route(
            PATH,
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
            }),
        )
    }

    /// The service's router (without the document's route) and its finished document.
    pub fn split<S>(self, routes: OpenApiRouter<S>) -> (Router<S>, OpenApi)
    where
        S: Clone + Send + Sync + 'static,
    {
        let (router, handlers) = routes.split_for_parts();
        (router, self.finish(handlers))
    }

    /// The document of `handlers` with what the chassis adds to every service's.
    pub fn finish(self, handlers: OpenApi) -> OpenApi {
        let mut document = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(self.title.clone())
                    .version(self.version.clone())
                    .description(Some(self.description.clone())),
            )
            .build();
        document.merge(handlers);
        let mut components = document.components.take().unwrap_or_default();
        components
            .schemas
            .insert(PROBLEM.to_owned(), RefOr::T(self.problem_schema()));
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token issued by the users service (POST /v1/sessions).",
                    ))
                    .build(),
            ),
        );
        document.components = Some(components);
        let mut paths = std::mem::take(&mut document.paths.paths);
        for item in paths.values_mut() {
            for operation in operations(item) {
                problems_as_problem_json(operation);
                add_chassis_answers(operation);
                if self.calls_services {
                    add_answer(
                        operation,
                        "502",
                        problem("bad-gateway: a service this one called failed"),
                    );
                }
            }
        }
        paths.insert(PATH.to_owned(), document_path_item());
        document.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (format!("{}{path}", self.prefix), item))
            .collect();
        document
    }

    /// RFC 9457 problem details, with the members this service's problems may carry.
    fn problem_schema(&self) -> Schema {
        let mut problem = crate::problem::schema_object();
        for (name, schema) in &self.problem_members {
            problem = problem.property(name.clone(), schema.clone());
        }
        Schema::Object(problem.build())
    }
}

/// `route` with request bodies larger than `limit` bytes refused (413) before they are read.
pub fn body_limit<S>(route: UtoipaMethodRouter<S>, limit: usize) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (schemas, paths, method_router) = route;
    (
        schemas,
        paths,
        method_router.layer(DefaultBodyLimit::max(limit)),
    )
}

/// The operation's member listing the callers it accepts (service names, `operator`).
pub const CALLERS_EXTENSION: &str = "x-brigade-callers";

/// `route` accepting calls only from the `accepted` services (and [`crate::identity::OPERATOR`]
/// when listed), checked before its handler: [`crate::guard::callers`], kept next to
/// the route it guards.
pub fn callers<S>(
    route: UtoipaMethodRouter<S>,
    accepted: &'static [&'static str],
) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (schemas, mut paths, method_router) = route;
    let who = accepted.join(", ");
    for item in paths.paths.values_mut() {
        for operation in operations(item) {
            add_answer(
                operation,
                "401",
                problem(&format!(
                    "identity-required: the calling service's identity (`Brigade-Identity`) is \
                     missing or not valid; this route takes calls from {who}. Where a shopper's \
                     token is needed too, unauthorized: it is missing, expired or not valid"
                )),
            );
            add_answer(
                operation,
                "403",
                problem(&format!(
                    "caller-not-accepted: the calling service is not one of {who}"
                )),
            );
            // Machine-readable too: a contract test calls each operation as a caller it takes.
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert(CALLERS_EXTENSION.to_owned(), serde_json::json!(accepted));
        }
    }
    (
        schemas,
        paths,
        method_router.route_layer(crate::guard::callers(accepted)),
    )
}

/// A string schema described by `description`.
pub fn text(description: &str) -> Schema {
    typed(Type::String, description)
}

/// A schema of an array of strings, described by `description`.
pub fn texts(description: &str) -> Schema {
    Schema::Array(
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build(),
    )
}

/// An integer schema described by `description`.
pub fn integer(description: &str) -> Schema {
    typed(Type::Integer, description)
}

fn typed(schema_type: Type, description: &str) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(schema_type)
            .description(Some(description))
            .build(),
    )
}

/// A problem answer described by `description`, for handlers' `responses(...)` and this module.
pub fn problem(description: &str) -> Response {
    Response::builder()
        .description(description)
        .content(
            PROBLEM_CONTENT_TYPE,
            Content::new(Some(RefOr::Ref(Ref::from_schema_name(PROBLEM)))),
        )
        .build()
}

/// The operations of `item`, whichever their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Handlers document a problem answer as `body = Problem`; it is sent as
/// `application/problem+json`, so that is what the document says.
fn problems_as_problem_json(operation: &mut Operation) {
    let problem = Ref::from_schema_name(PROBLEM);
    for answer in operation.responses.responses.values_mut() {
        let RefOr::T(answer) = answer else { continue };
        let is_problem = answer
            .content
            .get("application/json")
            .is_some_and(|content| content.schema == Some(RefOr::Ref(problem.clone())));
        if is_problem {
            if let Some(content) = answer.content.shift_remove("application/json") {
                answer
                    .content
                    .insert(PROBLEM_CONTENT_TYPE.to_owned(), content);
            }
        }
    }
}

/// Adds to `operation` what the chassis answers around its handler, unless the handler already
/// documents that status in its own words.
fn add_chassis_answers(operation: &mut Operation) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_query = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let has_path = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path);
    let has_json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body: &RequestBody| body.content.contains_key("application/json"));
    let needs_token = operation.security.as_ref().is_some_and(|requirements| {
        requirements
            .iter()
            .any(|r| *r != SecurityRequirement::default())
    });
    let mut answers: Vec<(&str, Response)> = Vec::new();
    if has_query || has_path || has_json_body {
        answers.push((
            "400",
            problem(
                "invalid-parameter: a path or query parameter is invalid (`parameter` names it); \
                 bad-request: the body is not JSON",
            ),
        ));
    }
    if needs_token {
        answers.push((
            "401",
            problem("unauthorized: the access token is missing, expired or not valid"),
        ));
    }
    if has_json_body {
        answers.push(("413", problem("payload-too-large: the body is too large")));
        answers.push((
            "415",
            problem("unsupported-media-type: the body is not sent as application/json"),
        ));
        answers.push((
            "422",
            problem("invalid-body: the JSON does not have the expected shape"),
        ));
    }
    answers.push((
        "431",
        problem("headers-too-large: the request's target and headers are too large"),
    ));
    answers.push(("503", overloaded()));
    answers.push((
        "504",
        problem("deadline-exceeded: the request did not finish within its deadline"),
    ));
    for (status, answer) in answers {
        add_answer(operation, status, answer);
    }
}

/// Documents `answer` for `status`, unless the handler documents that status in its own words.
fn add_answer(operation: &mut Operation, status: &str, answer: Response) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(RefOr::T(answer));
}

/// 503 from load shedding (or a dependency the handler needs being unavailable).
fn overloaded() -> Response {
    let mut answer = problem(
        "overloaded: this instance is serving its limit of requests, retry after `Retry-After` \
         seconds; service-unavailable: a dependency is unavailable",
    );
    answer.headers.insert(
        header::RETRY_AFTER.as_str().to_owned(),
        Header::new(Object::with_type(Type::Integer)),
    );
    answer
}

/// `GET /openapi.json` itself, which needs no token.
fn document_path_item() -> PathItem {
    let mut operation = Operation::new();
    operation.summary = Some("This document".to_owned());
    operation.operation_id = Some("getOpenApi".to_owned());
    operation.security = Some(vec![SecurityRequirement::default()]);
    operation.responses.responses.insert(
        "200".to_owned(),
        RefOr::T(
            Response::builder()
                .description("The service's OpenAPI 3.1 document")
                .content(
                    "application/json",
                    Content::new(Some(Object::with_type(Type::Object))),
                )
                .build(),
        ),
    );
    add_chassis_answers(&mut operation);
    PathItem::new(HttpMethod::Get, operation)
}

/// Integer members of request bodies, read as JSON Schema reads them: the document says
/// `"type": "integer"`, and for JSON Schema `2.0` is the integer 2, so a body the document
/// admits must not be refused for spelling a whole number with a fraction. Use with
/// `#[serde(deserialize_with = "brigade_chassis::openapi::whole::number")]` (or `optional` for
/// an `Option`).
pub mod whole {
    use serde::de::{Deserialize, Deserializer, Error};

    /// A whole number of type `T`, written as an integer or as a float without a fraction.
    pub fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64> + TryFrom<u64>,
    {
        let number = serde_json::Number::deserialize(deserializer)?;
        let converted = if let Some(n) = number.as_u64() {
            T::try_from(n).ok()
        } else if let Some(n) = number.as_i64() {
            T::try_from(n).ok()
        } else {
            number.as_f64().and_then(from_whole_float::<T>)
        };
        converted.ok_or_else(|| {
            D::Error::custom(format!(
                "invalid value: {number}, expected a whole number within range"
            ))
        })
    }

    /// [`number`] for an optional member (`null` or absent is `None`).
    pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64> + TryFrom<u64>,
    {
        #[derive(serde::Deserialize)]
        struct Whole<T: TryFrom<i64> + TryFrom<u64>>(#[serde(deserialize_with = "number")] T);
        Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(n)| n))
    }

    /// `value` when it is a whole number that `T` can hold. Floats beyond 2^53 are not exact, so
    /// they are refused rather than rounded.
    fn from_whole_float<T: TryFrom<i64>>(value: f64) -> Option<T> {
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if value.fract() != 0.0 || !(-EXACT..=EXACT).contains(&value) {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        T::try_from(value as i64).ok()
    }

    #[cfg(test)]
    mod tests {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            #[serde(deserialize_with = "super::number")]
            n: u32,
            #[serde(default, deserialize_with = "super::optional")]
            o: Option<u64>,
        }

        fn read(json: &str) -> Option<(u32, Option<u64>)> {
            serde_json::from_str::<Body>(json).ok().map(|b| (b.n, b.o))
        }

        #[test]
        fn whole_numbers_are_read_however_they_are_spelled() {
            assert_eq!(read(r#"{"n": 2}"#), Some((2, None)));
            assert_eq!(read(r#"{"n": 2.0, "o": 7.0}"#), Some((2, Some(7))));
            assert_eq!(read(r#"{"n": 2, "o": null}"#), Some((2, None)));
        }

        #[test]
        fn fractions_out_of_range_numbers_and_other_types_are_refused() {
            for json in [
                r#"{"n": 2.5}"#,
                r#"{"n": -1}"#,
                r#"{"n": 4294967296}"#,
                r#"{"n": 1e300}"#,
                r#"{"n": "2"}"#,
                r#"{"n": 1, "o": -1.0}"#,
            ] {
                assert_eq!(read(json), None, "{json}");
            }
        }
    }
}
