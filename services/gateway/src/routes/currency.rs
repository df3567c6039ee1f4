//! `/api/v1/currencies` and `/api/v1/convert`: the currencies prices may be shown in, and an
//! amount converted at the currency service's reference rates. Replacing the rates is an
//! operator's route of the currency service, not exposed here.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use currency_api::{ConvertQuery, Converted, CurrencyList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

/// Convert an amount.
///
/// `amount` minor units of `from` in minor units of `to`, at the reference rates in force,
/// computed exactly and rounded half to even to a whole minor unit; the answer carries both
/// rates and their date.
#[utoipa::path(
    get,
    path = "/convert",
    params(ConvertQuery),
    responses(
        (status = 200, description = "The converted amount and the rates used", body = Converted),
        (status = 400, description = "invalid-parameter (`parameter` names it); invalid-query: \
            an unknown parameter", body = Problem),
        (status = 422, description = "unknown-currency: no rate for the code (`currency`) \
            given as `parameter`", body = Problem),
    ),
)]
async fn convert(
    State(gateway): State<Gateway>,
    Query(query): Query<ConvertQuery>,
) -> Result<Json<Converted>, Problem> {
    // Refuse bad input here, before it costs a hop; the currency service checks again.
    let conversion = query.validate()?;
    Ok(Json(gateway.currency.convert(&conversion).await?))
}

/// The supported currencies.
///
/// Each with its name, minor-unit exponent (decimal places: 2 for USD, 0 for JPY) and rate
/// against the euro, and the date of the rates in force.
#[utoipa::path(
    get,
    path = "/currencies",
    operation_id = "listCurrencies",
    responses(
        (status = 200, description = "The supported currencies, by code", body = CurrencyList),
        (status = 400, description = "invalid-query: the route takes no parameters", body = Problem),
    ),
)]
async fn list_currencies(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
) -> Result<Json<CurrencyList>, Problem> {
    Ok(Json(gateway.currency.currencies().await?))
}

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(list_currencies))
        .routes(routes!(convert))
}
