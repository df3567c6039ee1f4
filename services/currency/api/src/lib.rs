//! The currency service's contract: the currencies a shopper may pay in, and conversion between
//! them from reference rates the service owns (a dated table of rates against one base currency,
//! [`BASE`], as the ECB publishes them). Callers (the gateway, the storefront, orders) depend on
//! this crate, never on the server.
//!
//! - [`CurrencyList`], [`Currency`], [`Converted`], [`ReplaceRates`]: what goes over the wire;
//! - [`Rate`]: an exact decimal rate (never a float), written as a JSON string;
//! - [`ConvertQuery::validate`], [`ReplaceRates::validate`], [`parse_code`]: the input rules,
//!   shared so that an edge can refuse bad input with the service's own words before it costs a
//!   hop;
//! - [`paths`], [`problems`]: the routes and the problem codes;
//! - [`conversion`]: the arithmetic, shared by the service and by callers that convert locally
//!   from the table of rates (one call for a page of prices, not one per price);
//! - [`CurrencyClient`]: the typed client.
//!
//! **Rounding:** a converted amount is `amount × to_rate ÷ from_rate`, scaled from the source's
//! minor unit to the target's, computed exactly in integers and rounded once, half to even
//! (banker's rounding), to the target's minor unit.

#![forbid(unsafe_code)]

mod client;
pub mod conversion;
mod rate;
mod rules;
mod types;

pub use catalog_api::Money;
pub use client::CurrencyClient;
pub use rate::{format_scaled, Rate, RATE_DECIMALS, RATE_SCALE};
pub use rules::{
    parse_code, Conversion, ConvertQuery, RateTable, ReplaceRates, ValidationError,
    MAX_AMOUNT_MINOR, MAX_CURRENCIES,
};
pub use types::{Converted, Currency, CurrencyList};

/// The currency every rate is quoted against: one unit of it buys `rate` units of a currency.
pub const BASE: &str = "EUR";

/// The service's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    /// `GET`: the supported currencies and the date of the rates in force.
    pub const CURRENCIES: &str = "/v1/currencies";
    /// `GET`: convert an amount ([`crate::ConvertQuery`] as the query string).
    pub const CONVERT: &str = "/v1/convert";

    /// `GET`: `conversion` (its codes are three letters: nothing to escape).
    pub fn convert(conversion: &crate::Conversion) -> String {
        let crate::Conversion {
            from,
            to,
            amount_minor,
        } = conversion;
        format!("{CONVERT}?from={from}&to={to}&amount={amount_minor}")
    }

    /// `PUT`: replace the table of rates ([`crate::ReplaceRates`] as the body). An operator's
    /// route: the gateway does not expose it.
    pub const RATES: &str = "/v1/rates";
}

/// The problem codes (`urn:brigade:problem:<code>`) that go with currencies, besides the
/// chassis' own.
pub mod problems {
    /// 422: a well-formed ISO 4217 code that the service has no rate for (`currency` names it,
    /// `parameter` says where it was given).
    pub const UNKNOWN_CURRENCY: &str = "unknown-currency";
    /// 503, from a caller that needs a conversion (orders, checking out in another currency
    /// than the catalog's): the currency service could not be asked, so nothing was done.
    pub const CURRENCY_UNAVAILABLE: &str = "currency-unavailable";
}
