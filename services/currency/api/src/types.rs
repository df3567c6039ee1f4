//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use catalog_api::Money;
use serde::{Deserialize, Serialize};

use crate::rate::Rate;

/// `GET /v1/currencies`: the supported currencies, and the date of the rates in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrencyList {
    /// The currency every rate is quoted against: `EUR`.
    pub base: String,
    /// The day the rates in force are for (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub date: String,
    /// By code.
    pub items: Vec<Currency>,
}

/// One supported currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Currency {
    /// ISO 4217 code, e.g. `JPY`.
    pub code: String,
    /// Its English name, e.g. `Japanese yen`.
    pub name: String,
    /// Decimal places of its minor unit (ISO 4217): 2 for USD (cents), 0 for JPY, 3 for KWD.
    /// An amount in minor units divided by 10^exponent is in units.
    pub exponent: u32,
    /// Units of it one euro buys, as an exact decimal string.
    #[schema(value_type = String, example = "1.0575")]
    pub rate: Rate,
}

/// `GET /v1/convert`: an amount converted, with the rates it was converted at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Converted {
    /// The amount asked about, in minor units of its currency.
    pub from: Money,
    /// The converted amount in minor units of the target currency: `from.amount_minor ×
    /// to_rate ÷ from_rate × 10^(to exponent − from exponent)`, computed exactly and rounded
    /// half to even to a whole minor unit.
    pub to: Money,
    /// Units of `to` one unit of `from` buys (`to_rate ÷ from_rate`), rounded half to even to 8
    /// decimal places: for showing. The amount is computed from the two reference rates, not
    /// from this.
    pub rate: String,
    /// The reference rate of `from` (units per euro) the amount was converted at.
    #[schema(value_type = String, example = "1.0575")]
    pub from_rate: Rate,
    /// The reference rate of `to` (units per euro) the amount was converted at.
    #[schema(value_type = String, example = "158.12")]
    pub to_rate: Rate,
    /// The currency the reference rates are quoted against: `EUR`.
    pub base: String,
    /// The day the reference rates are for (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub date: String,
}
