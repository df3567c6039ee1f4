//! `/api/v1/shipping/quote`: what shipping some items to a country costs, before checking out.
//!
//! The request is checked at the edge with shipping's own rules. A country shipping does not
//! ship to passes through as its 422 `unknown-country`; shipping down or failing is a 503
//! `shipping-unavailable` of its own, so that a client can tell that only the estimate is
//! missing (checkout asks shipping again, through orders).

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use shipping_api::{problems, Quote, QuoteAnswers, QuoteRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(quote))
}

/// Quote shipping.
///
/// The cost (in the catalog's currency), carrier and estimated delivery date of shipping the
/// items to the country, by shipping's fixed table of zones and weights (a unit weighs 500 g
/// unless the line says). Needs no token.
#[utoipa::path(
    post,
    path = "/shipping/quote",
    operation_id = "quoteShipping",
    request_body = QuoteRequest,
    responses(
        QuoteAnswers,
        (status = 503, description = "shipping-unavailable: shipping cannot quote right now",
            body = Problem),
    ),
)]
async fn quote(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
    Json(request): Json<QuoteRequest>,
) -> Result<Json<Quote>, Problem> {
    request.validate()?;
    let quoted = gateway.shipping.quote(&request).await;
    quoted.map(Json).map_err(|error| quote_failed(&error))
}

fn quote_failed(error: &ClientError) -> Problem {
    if error.is_callers_fault() {
        return error.to_problem();
    }
    tracing::warn!(%error, "shipping could not quote");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        problems::SHIPPING_UNAVAILABLE,
        "Shipping unavailable",
        "shipping cannot quote right now; try again shortly (checking out asks it again)",
    )
}
