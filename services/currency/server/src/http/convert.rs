//! `GET /v1/convert`: an amount in another currency.

use axum::extract::State;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::Problem;
use currency_api::{conversion, paths, ConvertQuery, Converted, Money, BASE};

use super::{unknown_currency, App};

/// Convert an amount.
///
/// `amount` minor units of `from` in minor units of `to`, at the reference rates in force:
/// `amount × to_rate ÷ from_rate`, scaled between the two minor units, computed exactly and
/// rounded half to even (a tie goes to the even neighbour) to a whole minor unit of `to`. The
/// answer carries both reference rates and their date, so that the conversion can be recorded
/// and checked.
#[utoipa::path(
    get,
    tag = "currencies",
    path = paths::CONVERT,
    params(ConvertQuery),
    responses(
        (status = 200, description = "The converted amount and the rates used", body = Converted),
        (status = 400, description = "invalid-parameter (`parameter` names it: a missing or \
            malformed code, an amount that is not a whole number from 0 to 10^15, or one whose \
            conversion is too large); invalid-query: an unknown parameter", body = Problem),
        (status = 422, description = "unknown-currency: no rate for the code (`currency`) \
            given as `parameter`", body = Problem),
    ),
)]
pub(super) async fn convert(
    State(app): State<App>,
    Query(query): Query<ConvertQuery>,
) -> Result<Json<Converted>, Problem> {
    let asked = query.validate()?;
    let pair = app.store.pair(&asked.from, &asked.to).await?;
    let from = pair
        .get(&asked.from)
        .ok_or_else(|| unknown_currency("from", &asked.from))?;
    let to = pair
        .get(&asked.to)
        .ok_or_else(|| unknown_currency("to", &asked.to))?;
    let amount = conversion::convert(asked.amount_minor, from, to).ok_or_else(|| {
        Problem::invalid_parameter(
            "amount",
            format!(
                "{} {} is too large to express in {}",
                asked.amount_minor, asked.from, asked.to
            ),
        )
    })?;
    Ok(Json(Converted {
        from: Money {
            amount_minor: asked.amount_minor,
            currency: from.code.clone(),
        },
        to: Money {
            amount_minor: amount,
            currency: to.code.clone(),
        },
        rate: conversion::cross_rate(from, to),
        from_rate: from.rate,
        to_rate: to.rate,
        base: BASE.to_owned(),
        date: pair.date,
    }))
}
