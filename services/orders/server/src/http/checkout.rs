//! `POST /v1/checkout`: turn the user's cart into an order and run the checkout saga.
//!
//! The order, its first history row and the idempotency record are written in one
//! transaction; the saga then runs on its own task, so that a client hanging up does not stop
//! it. The handler waits for the saga's end until shortly before the request's deadline, then
//! answers 201 with the final order, or 202 with the order still pending and its `Location`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use brigade_chassis::auth::Principal;
use brigade_chassis::context::{self};
use brigade_chassis::extract::{IdempotencyKey, Json};
use brigade_chassis::Problem;
use catalog_api::Money;
use orders_api::{
    paths, problems, CancelReason, CheckoutKey, CheckoutRequest, Order, OrderConversion, OrderLine,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use crate::currency::{self, CurrencyError};
use crate::pricing::{self, PricingError};
use crate::saga::{now_ms, Checkpoint, StepError};
use crate::shipping::{self, ShippingError};
use crate::store::{Created, KeyRecord, NewOrder, NewShipping};

/// How long a checkout waits for the saga when the request carries no deadline.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Check out the signed-in user's cart.
///
/// Turns the cart into an order and runs the checkout saga. With a `shipping_address`, the
/// order's total includes shipping's quote for it, recorded with the order. With a `currency`
/// other than the catalog's, the whole total is converted through the currency service and
/// charged in that currency; the order records the conversion. 201 with the final order (confirmed
/// or cancelled), 200 with the order of an earlier request with the same key, 202 with the order
/// still pending and its `Location` when the saga did not end within the request's deadline.
#[utoipa::path(
    post,
    path = paths::CHECKOUT,
    operation_id = "checkout",
    security(("bearer" = [])),
    params(CheckoutKey),
    request_body = CheckoutRequest,
    responses(
        (status = 200, description = "The order of an earlier request with this key", body = Order),
        (status = 201, description = "The final order", body = Order),
        (status = 202, description = "The order, still pending",
            headers(("Location" = String, description = "The order's URL")), body = Order),
        (status = 409, description = "request-in-progress: an earlier request with this key is \
            still running", body = Problem),
        (status = 422, description = "empty-cart, product-unavailable (`product_ids`), \
            mixed-currencies, unknown-country (shipping does not ship to the address's \
            country), unknown-currency (no rate for `currency`), idempotency-key-reused, or \
            invalid-body", body = Problem),
        (status = 502, description = "bad-gateway: the cart, the catalog, shipping or currency \
            refused the request", body = Problem),
        (status = 503, description = "payments-unavailable (`order_id` when an order was \
            cancelled), shipping-unavailable (an address was given and shipping could not \
            quote it), currency-unavailable (another currency than the catalog's was asked for \
            and the currency service could not convert the total), or the cart or the catalog \
            is unavailable; nothing was charged", body = Problem),
    ),
)]
pub(super) async fn checkout(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    Json(request): Json<CheckoutRequest>,
) -> Result<Response, Problem> {
    let key = key.as_str();
    request.validate()?;
    let fingerprint = fingerprint(&request);
    let store = state.saga.store();
    let user_id = principal.user_id;

    // A repeat needs neither the cart nor the catalog.
    if let Some(record) = store.checkout_key(user_id, key).await? {
        return repeat(&state, user_id, &record, &fingerprint).await;
    }

    // Payments known to be down (no instance, circuit open): refuse before reserving anything.
    if let Some(why) = state.saga.steps().payments_unavailable() {
        tracing::warn!(reason = %why, "checkout refused: payments is unavailable");
        return Err(payments_unavailable(
            "payments is unavailable, so nothing was ordered or charged and your cart is as it \
             was; check out again shortly",
        ));
    }

    let priced = priced(&state, &principal.token, &request).await?;

    let wait = context::current()
        .map_or(DEFAULT_WAIT, |c| c.remaining())
        .saturating_sub(state.answer_margin);
    let now = now_ms();
    let answering_until = now.saturating_add(
        i64::try_from((wait + state.answer_margin).as_millis()).unwrap_or(i64::MAX / 2),
    );
    let order = NewOrder {
        id: Uuid::new_v4(),
        user_id,
        lines: priced.lines,
        total: priced.total,
        card_number: request.card_number.clone(),
        shipping: priced.shipping,
        conversion: priced.conversion,
        cart_version: Some(priced.cart_version),
    };
    let created = store
        .create_checkout(
            key,
            &fingerprint,
            &order,
            state.saga.lease(),
            answering_until,
            now,
        )
        .await?;
    if let Created::Existing(record) = created {
        // A concurrent request with the same key recorded its order first.
        return repeat(&state, user_id, &record, &fingerprint).await;
    }
    state.saga.checkpoint(Checkpoint::Created);

    // On its own task: the saga must not depend on this request (a client hanging up drops
    // the handler's future, never the saga); it stays in the request's trace.
    let saga = state.saga.clone();
    let order_id = order.id;
    let mut driving = tokio::spawn(context::detached(async move { saga.drive(order_id).await }));
    // Whether or not the saga ended in time, the store says where it stands.
    let _ = tokio::time::timeout(wait, &mut driving).await;
    let order = load(&state, user_id, order_id).await?;
    Ok(answer(StatusCode::CREATED, order))
}

/// What a checkout will record: the lines, the total to charge and how it was made.
struct Priced {
    lines: Vec<OrderLine>,
    total: Money,
    shipping: Option<NewShipping>,
    conversion: Option<OrderConversion>,
    /// The version of the cart the lines were read from.
    cart_version: u64,
}

/// The cart's lines priced by the catalog, and the total to charge with the shipping quoted for
/// the request's address, if any, in the currency asked for. Nothing is recorded yet, so any
/// failure leaves nothing behind.
async fn priced(
    state: &AppState,
    token: &str,
    request: &CheckoutRequest,
) -> Result<Priced, Problem> {
    let steps = state.saga.steps();
    let cart = steps
        .cart(token)
        .await
        .map_err(|e| dependency_failed("cart", &e))?;
    let items = cart.items;
    if items.is_empty() {
        return Err(pricing_problem(PricingError::Empty));
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
    let catalog = steps
        .products(&ids)
        .await
        .map_err(|e| dependency_failed("catalog", &e))?;
    let (lines, subtotal) = pricing::price(&items, &catalog).map_err(pricing_problem)?;
    let (shipping, total) = match &request.shipping_address {
        Some(address) => {
            let (shipping, total) = shipping::quote(steps.as_ref(), address, &lines, &subtotal)
                .await
                .map_err(shipping_problem)?;
            (Some(shipping), total)
        }
        None => (None, subtotal),
    };
    let (total, conversion) = currency::charged(steps.as_ref(), total, request.currency.as_deref())
        .await
        .map_err(currency_problem)?;
    Ok(Priced {
        lines,
        total,
        shipping,
        conversion,
        cart_version: cart.version,
    })
}

/// The answer to a repeated key: the same order, as it stands now.
async fn repeat(
    state: &AppState,
    user_id: Uuid,
    record: &KeyRecord,
    fingerprint: &str,
) -> Result<Response, Problem> {
    if record.fingerprint != fingerprint {
        return Err(unprocessable(
            problems::IDEMPOTENCY_KEY_REUSED,
            "Idempotency key reused",
            format!(
                "this Idempotency-Key was used for another checkout request (order {}): send a \
                 new key for a different request",
                record.order_id
            ),
        )
        .with("order_id", record.order_id.to_string()));
    }
    let order = load(state, user_id, record.order_id).await?;
    if order.status.is_final() {
        return Ok(answer(StatusCode::OK, order));
    }
    if now_ms() < record.answering_until_ms {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            problems::REQUEST_IN_PROGRESS,
            "Request in progress",
            format!(
                "a checkout with this Idempotency-Key is being answered right now (order {}): \
                 ask again in a moment",
                record.order_id
            ),
        )
        .with("order_id", record.order_id.to_string()));
    }
    Ok(answer(StatusCode::ACCEPTED, order))
}

async fn load(state: &AppState, user_id: Uuid, order_id: Uuid) -> Result<Order, Problem> {
    match state.saga.store().order_of(user_id, order_id).await? {
        Some(order) => Ok(order),
        None => {
            tracing::error!(order = %order_id, "an idempotency record names an order that is not there");
            Err(Problem::internal())
        }
    }
}

/// 201/200 with a final order; 202 with `Location` while it is pending; the 503
/// `payments-unavailable` problem for an order cancelled because payments could not be reached
/// (to a repeat of its key too: the same request gets the same answer).
fn answer(status: StatusCode, order: Order) -> Response {
    if order.cancel_reason == Some(CancelReason::PaymentUnavailable) {
        return payments_unavailable(&format!(
            "payments could not be reached, so order {} was cancelled without charging you and \
             its stock was released; your cart is as it was: check out again shortly, with a new \
             Idempotency-Key",
            order.id
        ))
        .with("order_id", order.id.to_string())
        .into_response();
    }
    let location = paths::order(order.id);
    let status = if order.status.is_final() {
        status
    } else {
        StatusCode::ACCEPTED
    };
    (status, [(header::LOCATION, location)], Json(order)).into_response()
}

/// The hash of the request as parsed, so that the same request in other whitespace or key
/// order is the same request.
fn fingerprint(request: &CheckoutRequest) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn payments_unavailable(detail: &str) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        problems::PAYMENTS_UNAVAILABLE,
        "Payments unavailable",
        detail.to_owned(),
    )
}

fn unprocessable(code: &str, title: &'static str, detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
}

fn dependency_failed(service: &str, error: &StepError) -> Problem {
    tracing::warn!(service, error = %error, "a checkout could not read what it needs");
    match error {
        StepError::Transient(_) => Problem::service_unavailable(format!(
            "{service} is unavailable; nothing was ordered, try again shortly"
        )),
        StepError::Rejected { .. } => Problem::bad_gateway(format!(
            "{service} refused the request; nothing was ordered"
        )),
    }
}

fn shipping_problem(error: ShippingError) -> Problem {
    tracing::warn!(error = %error, "a checkout's shipping could not be quoted");
    match error {
        ShippingError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            problems::SHIPPING_UNAVAILABLE,
            "Shipping unavailable",
            "shipping could not be asked for a quote, so nothing was ordered, reserved or \
             charged and your cart is as it was; check out again shortly"
                .to_owned(),
        ),
        ShippingError::Refused { code, detail } if code == problems::UNKNOWN_COUNTRY => {
            unprocessable(problems::UNKNOWN_COUNTRY, "Unknown country", detail)
                .with("parameter", "shipping_address.country")
        }
        ShippingError::Refused { .. } | ShippingError::Currency { .. } => {
            Problem::bad_gateway("shipping could not quote this order; nothing was ordered")
        }
        ShippingError::Overflow => {
            Problem::invalid_parameter("cart", "the cart's total is too large to be charged")
        }
    }
}

fn currency_problem(error: CurrencyError) -> Problem {
    tracing::warn!(error = %error, "a checkout's total could not be converted");
    match error {
        CurrencyError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            problems::CURRENCY_UNAVAILABLE,
            "Currency unavailable",
            "the currency service could not convert the total into the currency asked for, so \
             nothing was ordered, reserved or charged and your cart is as it was; check out \
             again shortly, or in the catalog's currency, which needs no conversion"
                .to_owned(),
        ),
        CurrencyError::Unknown(code) => unprocessable(
            problems::UNKNOWN_CURRENCY,
            "Unknown currency",
            format!(
                "orders cannot be paid in {code}: the currency service has no rate for it; \
                 choose a supported currency (GET /v1/currencies of the currency service)"
            ),
        )
        .with("parameter", "currency")
        .with("currency", code),
        CurrencyError::Refused { .. } | CurrencyError::Mismatch(_) => Problem::bad_gateway(
            "the currency service could not convert this order's total; nothing was ordered",
        ),
    }
}

fn pricing_problem(error: PricingError) -> Problem {
    match error {
        PricingError::Empty => unprocessable(
            problems::EMPTY_CART,
            "Empty cart",
            "your cart is empty: add products to it before checking out".to_owned(),
        ),
        PricingError::Unavailable(ids) => {
            let listed: Vec<String> = ids.iter().map(Uuid::to_string).collect();
            unprocessable(
                problems::PRODUCT_UNAVAILABLE,
                "Product unavailable",
                format!(
                    "the catalog no longer sells {}: remove it from your cart and check out again",
                    listed.join(", ")
                ),
            )
            .with("product_ids", listed)
        }
        PricingError::MixedCurrencies(currencies) => unprocessable(
            problems::MIXED_CURRENCIES,
            "Mixed currencies",
            format!(
                "your cart's products are priced in {}: one order is paid in one currency",
                currencies.join(" and ")
            ),
        ),
        PricingError::Overflow => {
            Problem::invalid_parameter("cart", "the cart's total is too large to be charged")
        }
    }
}
