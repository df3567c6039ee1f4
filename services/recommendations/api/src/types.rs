//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use catalog_api::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The answer to both routes: the products to show, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendations {
    /// At most the `limit` asked for; fewer when fewer products are known and bought, none in a
    /// store that has taken no order yet. Never the product asked about, never a product the
    /// user already bought, never the same product twice.
    pub items: Vec<Recommendation>,
    /// True when nothing came from co-purchases (the product, or everything the user bought,
    /// was never bought together with a known product): every item is a popular one.
    pub fallback: bool,
}

/// One product to show, with what the storefront needs to show it (the catalog's facts as last
/// announced) and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub image_url: String,
    #[schema(inline)]
    pub reason: Reason,
    /// For [`Reason::BoughtTogether`]: in how many confirmed orders it was bought together with
    /// the product (for a user: summed over the products the user bought). For
    /// [`Reason::Popular`]: in how many confirmed orders it was bought.
    pub score: u64,
}

/// Why a product is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Bought in the same orders as the product asked about (or as the user's purchases).
    BoughtTogether,
    /// Among the most bought products, filling the list when co-purchases do not.
    Popular,
}

impl Reason {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BoughtTogether => "bought_together",
            Reason::Popular => "popular",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_travel_as_snake_case_names() {
        for reason in [Reason::BoughtTogether, Reason::Popular] {
            assert_eq!(
                serde_json::to_value(reason).ok(),
                Some(serde_json::Value::String(reason.as_str().to_owned()))
            );
        }
    }
}
