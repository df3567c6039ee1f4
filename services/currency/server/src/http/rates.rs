//! `GET /v1/currencies` and `PUT /v1/rates`: the table of rates in force, read and replaced.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use currency_api::{paths, Currency, CurrencyList, RateTable, ReplaceRates, BASE};

use super::{unknown_currency, App};

/// The supported currencies.
///
/// Each with its name, minor-unit exponent and rate against the euro, and the date of the rates
/// in force.
#[utoipa::path(
    get,
    tag = "currencies",
    path = paths::CURRENCIES,
    operation_id = "listCurrencies",
    responses(
        (status = 200, description = "The supported currencies, by code", body = CurrencyList),
        (status = 400, description = "invalid-query: the route takes no parameters", body = Problem),
    ),
)]
pub(super) async fn currencies(
    State(app): State<App>,
    _: Query<NoParameters>,
) -> Result<Json<CurrencyList>, Problem> {
    Ok(Json(app.store.in_force().await?))
}

/// Replace the table of rates.
///
/// An operator's route (the gateway does not expose it). The table given replaces the one in
/// force whole, in one transaction: conversions use either the old table or the new one, never
/// a mix. Its currencies become the supported ones. Putting the same table twice has the effect
/// of putting it once.
#[utoipa::path(
    put,
    // Apart from the routes the gateway exposes.
    tag = "operator",
    path = paths::RATES,
    operation_id = "replaceRates",
    request_body = ReplaceRates,
    responses(
        (status = 200, description = "The table now in force", body = CurrencyList),
        (status = 400, description = "invalid-parameter: `parameter` names the rule broken \
            (`date`, `rates` or `rates.<CODE>`)", body = Problem),
        (status = 422, description = "unknown-currency: a code the service does not know \
            (`currency`); invalid-body: not the expected JSON", body = Problem),
    ),
)]
pub(super) async fn replace(
    State(app): State<App>,
    _: Query<NoParameters>,
    Json(body): Json<ReplaceRates>,
) -> Result<Json<CurrencyList>, Problem> {
    let table: RateTable = body.validate()?;
    let items = known(&app.sample, &table)
        .map_err(|code| unknown_currency(&format!("rates.{code}"), &code))?;
    app.store.replace(&table.date, &items).await?;
    Ok(Json(CurrencyList {
        base: BASE.to_owned(),
        date: table.date,
        items,
    }))
}

/// `table`'s rates with the name and exponent of each currency, or the first code the service
/// does not know.
fn known(sample: &CurrencyList, table: &RateTable) -> Result<Vec<Currency>, String> {
    table
        .rates
        .iter()
        .map(|(code, rate)| {
            let known = sample.items.iter().find(|c| &c.code == code);
            known
                .map(|c| Currency {
                    rate: *rate,
                    ..c.clone()
                })
                .ok_or_else(|| code.clone())
        })
        .collect()
}
