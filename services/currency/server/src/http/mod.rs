//! The service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input with
//! `currency_api`'s rules, ask the [`Store`], and answer JSON or a problem.
//!
//! `PUT /v1/rates` is an operator's route, like users' `POST /v1/keys/rotate`: the gateway does
//! not expose it, and like every internal route it is reached on the service's own address,
//! which `brigade up` binds to loopback. The chassis has no operator authentication yet; when it
//! does, this route takes it.

mod convert;
mod rates;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use brigade_chassis::identity::OPERATOR;
use brigade_chassis::openapi::{self, Contract};
use brigade_chassis::Problem;
use currency_api::{problems, CurrencyList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    /// The sample table: the currencies the service knows (names and exponents), which a
    /// replacing table may list.
    pub sample: Arc<CurrencyList>,
}

/// The largest body accepted: a table of every ISO 4217 currency is under 8 KiB.
const BODY_LIMIT: usize = 64 * 1024;

/// Who asks for rates and conversions: the edges (prices shown) and orders (a checkout's
/// currency); and operators.
const READERS: &[&str] = &["gateway", "storefront", "orders", OPERATOR];

/// The service's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(app: App) -> Router {
    let routes = OpenApiRouter::new()
        .routes(openapi::callers(routes!(rates::currencies), READERS))
        .routes(openapi::callers(routes!(convert::convert), READERS))
        // Reference rates are set by people.
        .routes(openapi::callers(
            openapi::body_limit(routes!(rates::replace), BODY_LIMIT),
            &[OPERATOR],
        ));
    contract().serve(routes).with_state(app)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade currency service",
        env!("CARGO_PKG_VERSION"),
        "The supported currencies and conversion between them, from a dated table of reference \
         rates against the euro that the service owns (a sample table at first start, \
         replaced whole through PUT /v1/rates). Amounts are integers in minor units; rates are \
         exact decimal strings; a conversion is computed exactly and rounded once, half to \
         even, to the target's minor unit. An internal API: shoppers reach the currencies and \
         conversion through the gateway; replacing the rates is for operators. Every instance \
         also serves /livez, /readyz and /metrics.",
    )
    .problem_member(
        "currency",
        openapi::text("unknown-currency: the code without a rate."),
    )
}

/// The 422 for a well-formed code the service has no rate for, given as `parameter`.
fn unknown_currency(parameter: &str, code: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        problems::UNKNOWN_CURRENCY,
        "Unknown currency",
        format!(
            "{parameter}: there is no rate for {code}; GET /v1/currencies lists the supported \
             currencies"
        ),
    )
    .with("parameter", parameter)
    .with("currency", code)
}
