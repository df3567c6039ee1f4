//! The cart page's shipping estimate: the shopper picks a country in a plain GET form
//! (`/cart?country=FR`, so it works without JavaScript and can be bookmarked), and shipping
//! quotes the cart's lines. Optional: shipping down or slow (capped by `QUOTE_TIMEOUT`) leaves
//! the cart page whole, with a sentence saying the cost is shown at checkout.

use brigade_chassis::client::Error as ClientError;
use shipping_api::{problems, Quote, QuoteItem, QuoteRequest};

use super::checkout::{countries, CountryChoice, COUNTRIES};
use crate::currency::Prices;
use crate::Storefront;

/// What the cart page shows about shipping.
pub struct ShippingEstimate {
    pub countries: Vec<CountryChoice>,
    /// The quote in words, or why there is none, once a country was chosen.
    pub said: Option<String>,
    /// True when `said` is a quote.
    pub quoted: bool,
}

/// Shipping's quote for `lines` (SKU, quantity) to `country`.
pub async fn quote(
    shop: &Storefront,
    lines: &[(String, u32)],
    country: &str,
) -> Result<Quote, ClientError> {
    let request = QuoteRequest {
        country: country.to_owned(),
        items: lines
            .iter()
            .map(|(sku, quantity)| QuoteItem {
                sku: sku.clone(),
                quantity: *quantity,
                unit_weight_grams: None,
            })
            .collect(),
    };
    shop.shipping.quote(&request).await
}

/// The estimate for `lines` (SKU, quantity) to `country` (none chosen yet: only the form), its
/// cost shown as `prices` shows money.
pub async fn estimate(
    shop: &Storefront,
    lines: &[(String, u32)],
    country: Option<&str>,
    prices: &Prices,
) -> ShippingEstimate {
    let chosen = country.unwrap_or("DE");
    let mut estimate = ShippingEstimate {
        countries: countries(chosen),
        said: None,
        quoted: false,
    };
    let Some(country) = country else {
        return estimate;
    };
    let Some((_, name)) = COUNTRIES.iter().find(|(code, _)| *code == country) else {
        estimate.said = Some("Choose a country from the list.".to_owned());
        return estimate;
    };
    if lines.is_empty() {
        return estimate;
    }
    let said = match quote(shop, lines, country).await {
        Ok(quote) => {
            estimate.quoted = true;
            format!(
                "Shipping to {name}: {} with {}, delivered by {}.",
                prices.show(&quote.cost),
                quote.carrier,
                quote.estimated_delivery
            )
        }
        Err(error) => unquoted(name, &error),
    };
    estimate.said = Some(said);
    estimate
}

pub fn unquoted(name: &str, error: &ClientError) -> String {
    match error {
        ClientError::Status { problem, .. } if problem.code() == problems::UNKNOWN_COUNTRY => {
            format!("We do not deliver to {name}.")
        }
        _ => {
            tracing::info!(%error, "the cart's shipping estimate is unavailable");
            "Shipping costs cannot be worked out right now; they are shown at checkout.".to_owned()
        }
    }
}
