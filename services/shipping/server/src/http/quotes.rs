//! `POST /v1/quotes`: what shipping some items to a country costs.

use axum::http::StatusCode;
use brigade_chassis::extract::Json;
use brigade_chassis::Problem;
use shipping_api::{paths, problems, Quote, QuoteAnswers, QuoteRequest};

use crate::rates;

/// Quote shipping.
///
/// The cost, carrier and estimated delivery of shipping the items to the country, by the
/// service's table: a zone per country, a price for the first started kilogram and for each
/// further one, and the zone's days to delivery. A unit weighs 500 g unless the line says.
/// Deterministic: the same request on the same day gets the same quote.
#[utoipa::path(
    post,
    path = paths::QUOTES,
    operation_id = "quote",
    request_body = QuoteRequest,
    responses(QuoteAnswers),
)]
pub(super) async fn quote(Json(request): Json<QuoteRequest>) -> Result<Json<Quote>, Problem> {
    request.validate()?;
    rates::quote(&request, brigade_chassis::time::unix_ms())
        .map(Json)
        .map_err(|unknown| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                problems::UNKNOWN_COUNTRY,
                "Unknown country",
                format!(
                    "the shop does not ship to {}: choose another destination",
                    unknown.0
                ),
            )
            .with("country", unknown.0)
        })
}
