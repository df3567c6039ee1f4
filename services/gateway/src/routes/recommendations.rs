//! `/api/v1/products/{id}/recommendations` and `/api/v1/me/recommendations`: what to show next
//! to a product, and to the signed-in shopper.
//!
//! When the recommendations service cannot answer, these routes say so with a 503
//! `recommendations-unavailable` problem of their own, distinct from the chassis'
//! `service-unavailable`: a client (the storefront) can tell that only the optional part of its
//! page is missing, and show the rest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brigade_chassis::auth::Principal;
use brigade_chassis::client::{Availability, Error as ClientError};
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::Problem;
use catalog_api::paths::ProductId;
use recommendations_api::{problems, Recommendations, RecommendationsQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(for_product))
        .routes(routes!(for_me))
}

/// The answer of both routes when the recommendations service cannot answer (see [`answer`]),
/// for their OpenAPI documents.
#[derive(utoipa::IntoResponses)]
#[allow(
    dead_code,
    reason = "only read for the document: the problem is built by `unavailable`"
)]
enum RecommendationsUnavailable {
    #[response(
        status = 503,
        description = "recommendations-unavailable: the recommendations service cannot answer; \
            everything else works without it"
    )]
    Unavailable(Problem),
}

/// Products to show next to a product.
///
/// Needs no token: a product page's recommendations are the same for everyone.
#[utoipa::path(
    get,
    path = "/products/{id}/recommendations",
    operation_id = "recommendForProduct",
    params(("id" = Uuid, Path, description = "A product id."), RecommendationsQuery),
    responses(
        (status = 200, description = "The products to show, best first", body = Recommendations),
        RecommendationsUnavailable,
    ),
)]
async fn for_product(
    State(gateway): State<Gateway>,
    PathUuid(product_id, _): PathUuid<ProductId>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Response, Problem> {
    // Refused here with the service's own rules, before the request costs a hop (the service
    // checks again).
    let limit = query.validate()?;
    Ok(answer(of_product(&gateway, product_id, limit).await))
}

/// The user is the token's: the service's route takes a user id, which only the gateway, having
/// verified the token, may fill in.
#[utoipa::path(
    get,
    path = "/me/recommendations",
    operation_id = "recommendForMe",
    security(("bearer" = [])),
    params(RecommendationsQuery),
    responses(
        (status = 200, description = "The products to show, best first", body = Recommendations),
        RecommendationsUnavailable,
    ),
)]
async fn for_me(
    State(gateway): State<Gateway>,
    principal: Principal,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Response, Problem> {
    let limit = query.validate()?;
    let result = gateway
        .recommendations
        .for_user(principal.user_id, limit)
        .await;
    Ok(answer(Availability::of(result)))
}

/// Up to `limit` recommendations for a product, or why the service gave none. Only the
/// gateway's own mistakes (a 4xx, which checking the request first should make impossible) are
/// errors.
pub(super) async fn of_product(
    gateway: &Gateway,
    product_id: Uuid,
    limit: u32,
) -> Result<Availability<Recommendations>, ClientError> {
    Availability::of(gateway.recommendations.for_product(product_id, limit).await)
}

/// The answer of a recommendations route. The service's refusal of the request passes through as
/// it is; its unavailability is `recommendations-unavailable`, logged here with its cause.
fn answer(sorted: Result<Availability<Recommendations>, ClientError>) -> Response {
    match sorted {
        Ok(Availability::Available(recommendations)) => Json(recommendations).into_response(),
        Ok(Availability::Unavailable(error)) => {
            tracing::warn!(%error, "recommendations unavailable");
            unavailable(&error).into_response()
        }
        Err(error) => error.to_problem().into_response(),
    }
}

/// The 503 for recommendations the service did not give, saying why in words for the shopper's
/// client (no addresses or internals).
fn unavailable(error: &ClientError) -> Problem {
    let why = match error {
        ClientError::Unavailable { reason, .. } => {
            format!("the service cannot be called ({reason})")
        }
        ClientError::Transport { .. } => "the service could not be reached".to_owned(),
        ClientError::Timeout { budget_ms, .. } => {
            format!("the service did not answer within {budget_ms} ms")
        }
        ClientError::Status { problem, .. } => format!("the service failed ({})", problem.status),
        ClientError::Decode { .. } => "the service answered with an unreadable body".to_owned(),
        ClientError::Request { .. } => "the request to the service could not be made".to_owned(),
    };
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        problems::RECOMMENDATIONS_UNAVAILABLE,
        "Recommendations unavailable",
        format!(
            "recommendations cannot be given right now: {why}; everything else works without \
             them, so try again shortly"
        ),
    )
}
