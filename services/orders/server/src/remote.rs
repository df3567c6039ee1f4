//! The saga's port implemented with the real services, through the chassis client: cart,
//! catalog, shipping and currency (asked at checkout), inventory and payments (the saga's steps).
//!
//! Answers are sorted into what the saga acts on: an outcome (held, out of stock, captured,
//! declined, expired), a transient failure (timeouts, 5xx, no instance: the same call may be
//! repeated) or a refusal for good (another 4xx).

use brigade_chassis::client::Error as ClientError;
use brigade_chassis::service::{Context, Undeclared};
use cart_api::CartClient;
use catalog_api::{CatalogClient, Money, ProductBatch};
use currency_api::{Conversion, Converted, CurrencyClient};
use inventory_api::{problems, InventoryClient, ReservationLine, ReserveRequest};
use payments_api::{ChargeRequest, ChargeStatus, PaymentsClient};
use shipping_api::{Quote, QuoteRequest, ShippingClient};
use uuid::Uuid;

use crate::saga::{
    CartContents, CartItem, Charged, Committed, Reserved, StepError, StepFuture, Steps, StockLine,
};

/// The services the saga calls.
#[derive(Debug, Clone)]
pub struct RemoteSteps {
    cart: CartClient,
    catalog: CatalogClient,
    inventory: InventoryClient,
    payments: PaymentsClient,
    shipping: ShippingClient,
    /// Asked only when a checkout is paid in another currency than the catalog's.
    currency: CurrencyClient,
}

impl RemoteSteps {
    /// Refused when orders' `DEPENDS_ON` leaves out one of them.
    pub fn new(ctx: &Context) -> Result<RemoteSteps, Undeclared> {
        Ok(RemoteSteps {
            cart: CartClient::new(ctx.client("cart")?),
            catalog: CatalogClient::new(ctx.client("catalog")?),
            inventory: InventoryClient::new(ctx.client("inventory")?),
            payments: PaymentsClient::new(ctx.client("payments")?),
            shipping: ShippingClient::new(ctx.client("shipping")?),
            currency: CurrencyClient::new(ctx.client("currency")?),
        })
    }
}

/// Sorts a failed call: a 4xx is a refusal for good (except 408 and 429, which invite a
/// repeat); anything else leaves the outcome unknown.
fn classify(error: ClientError) -> StepError {
    match &error {
        ClientError::Status { problem, .. }
            if problem.status_code().is_client_error()
                && problem.status != 408
                && problem.status != 429 =>
        {
            StepError::Rejected {
                code: problem.code().to_owned(),
                detail: problem.detail.clone(),
            }
        }
        _ => StepError::Transient(error.to_string()),
    }
}

fn problem_code(error: &ClientError) -> Option<&str> {
    match error {
        ClientError::Status { problem, .. } => Some(problem.code()),
        _ => None,
    }
}

impl Steps for RemoteSteps {
    fn cart<'a>(&'a self, token: &'a str) -> StepFuture<'a, CartContents> {
        Box::pin(async move {
            let cart = self.cart.cart(token).await.map_err(classify)?;
            let items = cart
                .lines
                .iter()
                .map(|line| CartItem {
                    product_id: line.product_id,
                    quantity: line.quantity,
                })
                .collect();
            Ok(CartContents {
                items,
                version: cart.version,
            })
        })
    }

    fn products<'a>(&'a self, ids: &'a [Uuid]) -> StepFuture<'a, ProductBatch> {
        Box::pin(async move { self.catalog.products_by_ids(ids).await.map_err(classify) })
    }

    fn quote<'a>(&'a self, request: &'a QuoteRequest) -> StepFuture<'a, Quote> {
        Box::pin(async move { self.shipping.quote(request).await.map_err(classify) })
    }

    fn convert<'a>(&'a self, conversion: &'a Conversion) -> StepFuture<'a, Converted> {
        Box::pin(async move { self.currency.convert(conversion).await.map_err(classify) })
    }

    fn reserve<'a>(&'a self, order_id: Uuid, lines: &'a [StockLine]) -> StepFuture<'a, Reserved> {
        Box::pin(async move {
            let request = ReserveRequest {
                lines: lines
                    .iter()
                    .map(|line| ReservationLine {
                        sku: line.sku.clone(),
                        quantity: line.quantity,
                    })
                    .collect(),
                ttl_ms: None,
            };
            // The typed client keys every write by the order id, so a repeat (of this attempt
            // by the chassis client, or of the step by the saga) is the same reservation.
            match self.inventory.reserve(order_id, &request).await {
                Ok(_) => Ok(Reserved::Held),
                Err(e) if problem_code(&e) == Some(problems::OUT_OF_STOCK) => {
                    Ok(Reserved::OutOfStock(e.to_string()))
                }
                Err(e) => Err(classify(e)),
            }
        })
    }

    fn charge<'a>(
        &'a self,
        order_id: Uuid,
        amount: &'a Money,
        card_number: &'a str,
    ) -> StepFuture<'a, Charged> {
        Box::pin(async move {
            let request = ChargeRequest {
                order_id,
                amount_minor: amount.amount_minor,
                currency: amount.currency.clone(),
                card_number: card_number.to_owned(),
            };
            // The order id is the key: every attempt, from any instance, is the same charge.
            let charge = match self.payments.charge(&order_id.to_string(), &request).await {
                Ok(charge) => charge,
                Err(e) if e.certainly_not_delivered() => {
                    return Ok(Charged::NotDelivered {
                        detail: e.to_string(),
                    })
                }
                Err(e) => return Err(classify(e)),
            };
            Ok(match charge.status {
                ChargeStatus::Captured => Charged::Captured {
                    charge_id: charge.id,
                },
                ChargeStatus::Declined => Charged::Declined {
                    charge_id: charge.id,
                    code: charge
                        .decline_code
                        .map_or("declined", |c| c.as_str())
                        .to_owned(),
                },
                ChargeStatus::Pending => Charged::Pending {
                    charge_id: charge.id,
                },
                ChargeStatus::Refunded => Charged::Refunded {
                    charge_id: charge.id,
                },
            })
        })
    }

    fn commit(&self, order_id: Uuid) -> StepFuture<'_, Committed> {
        Box::pin(async move {
            match self.inventory.commit(order_id).await {
                Ok(_) => Ok(Committed::Committed),
                Err(e) if problem_code(&e) == Some(problems::RESERVATION_EXPIRED) => {
                    Ok(Committed::Expired(e.to_string()))
                }
                Err(e) => Err(classify(e)),
            }
        })
    }

    fn release(&self, order_id: Uuid) -> StepFuture<'_, ()> {
        Box::pin(async move {
            match self.inventory.release(order_id).await {
                Ok(_) => Ok(()),
                // No reservation: nothing to give back.
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => Err(classify(e)),
            }
        })
    }

    fn refund(&self, charge_id: Uuid) -> StepFuture<'_, ()> {
        Box::pin(async move {
            self.payments
                .refund(charge_id, Some("the order was cancelled"))
                .await
                .map(drop)
                .map_err(classify)
        })
    }

    fn payments_unavailable(&self) -> Option<String> {
        self.payments.unavailable_now().map(|e| e.to_string())
    }

    fn captured_charges(&self, order_id: Uuid) -> StepFuture<'_, Vec<Uuid>> {
        Box::pin(async move {
            let charges = self
                .payments
                .charges_for_order(order_id)
                .await
                .map_err(classify)?;
            Ok(charges
                .into_iter()
                .filter(|c| c.status == ChargeStatus::Captured)
                .map(|c| c.id)
                .collect())
        })
    }
}
