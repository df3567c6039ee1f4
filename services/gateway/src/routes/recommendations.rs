//! `/api/v1/products/{id}/recommendations` and `/api/v1/me/recommendations`: what to show next
//! to a product, and to the signed-in shopper.
//!
//! When the recommendations service cannot answer, these routes say so with a 503
//! `recommendations-unavailable` problem of their own, distinct from the chassis'
//! `service-unavailable`: a client (the storefront) can tell that only the optional part of its
//! page is missing, and show the rest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use brigade_chassis::auth::Principal;
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use recommendations_api::{parse_product_id, problems, Recommendations, RecommendationsQuery};

use crate::Gateway;

pub fn router() -> Router<Gateway> {
    Router::new()
        .route("/products/{id}/recommendations", get(for_product))
        .route("/me/recommendations", get(for_me))
}

/// Needs no token: a product page's recommendations are the same for everyone.
async fn for_product(
    State(gateway): State<Gateway>,
    Path(id): Path<String>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    // Refuse bad input here, before it costs a hop; the service checks again.
    let product_id = parse_product_id("id", &id)?;
    let limit = query.validate()?;
    let answer = gateway
        .recommendations
        .for_product(product_id, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(answer))
}

/// The user is the token's: the service's route takes a user id, which only the gateway, having
/// verified the token, may fill in.
async fn for_me(
    State(gateway): State<Gateway>,
    principal: Principal,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    let limit = query.validate()?;
    let answer = gateway
        .recommendations
        .for_user(principal.user_id, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(answer))
}

/// The answer when the service did not give recommendations. Its refusal of the request (a 4xx,
/// which the checks above should make impossible) passes through as it is; anything else (no
/// instance, no connection, no answer in time, a failure, an unreadable answer) is
/// `recommendations-unavailable`, logged here with its cause.
fn unavailable(error: &ClientError) -> Problem {
    if let ClientError::Status { problem, .. } = error {
        if problem.status_code().is_client_error() {
            return error.to_problem();
        }
    }
    tracing::warn!(%error, "recommendations unavailable");
    let why = match error {
        ClientError::Unavailable { .. } => "no instance of the service is available".to_owned(),
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
