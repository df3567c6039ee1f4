//! An order's shipping at checkout: shipping's quote for the address and the priced lines, whose
//! cost the order's total includes.

use catalog_api::Money;
use orders_api::{OrderLine, ShippingAddress};
use shipping_api::{QuoteItem, QuoteRequest};

use crate::saga::{StepError, Steps};
use crate::store::NewShipping;

/// Why an order's shipping could not be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShippingError {
    /// Shipping could not be asked (down, timed out, failing): nothing was recorded.
    #[error("shipping is unavailable: {0}")]
    Unavailable(String),
    /// Shipping refused the request; `code` is its problem's code (`unknown-country`).
    #[error("shipping refused the quote: {code}: {detail}")]
    Refused { code: String, detail: String },
    /// The quote is in another currency than the lines.
    #[error("shipping quoted in {quoted}, the order is in {order}")]
    Currency { quoted: String, order: String },
    #[error("the total with shipping is too large")]
    Overflow,
}

/// Shipping's quote for sending `lines` to `address` (each unit at shipping's default weight:
/// the catalog keeps none), and the order's total with its cost.
pub async fn quote(
    steps: &dyn Steps,
    address: &ShippingAddress,
    lines: &[OrderLine],
    subtotal: &Money,
) -> Result<(NewShipping, Money), ShippingError> {
    let request = QuoteRequest {
        country: address.country.clone(),
        items: lines
            .iter()
            .map(|line| QuoteItem {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_weight_grams: None,
            })
            .collect(),
    };
    let quote = steps.quote(&request).await.map_err(|e| match e {
        StepError::Transient(why) => ShippingError::Unavailable(why),
        StepError::Rejected { code, detail } => ShippingError::Refused { code, detail },
    })?;
    if quote.cost.currency != subtotal.currency {
        return Err(ShippingError::Currency {
            quoted: quote.cost.currency,
            order: subtotal.currency.clone(),
        });
    }
    let amount_minor = subtotal
        .amount_minor
        .checked_add(quote.cost.amount_minor)
        .ok_or(ShippingError::Overflow)?;
    let total = Money {
        amount_minor,
        currency: subtotal.currency.clone(),
    };
    let shipping = NewShipping {
        address: address.clone(),
        quote,
    };
    Ok((shipping, total))
}
