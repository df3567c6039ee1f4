//! `/api/v1/checkout` and `/api/v1/orders`: buying, and what was bought.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use brigade_chassis::auth::Principal;
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::extract::{IdempotencyKey, Json, NoParameters, PathUuid, Query};
use brigade_chassis::ratelimit::RateLimitedProblem;
use brigade_chassis::Problem;
use orders_api::{paths, problems, CheckoutKey, CheckoutRequest, ListOrders, Order, OrderPage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Gateway;

/// Where the public API serves one order; the orders service's own path is internal.
fn public_location(id: Uuid) -> String {
    format!("/api/v1/orders/{id}")
}

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(checkout))
        .routes(routes!(list))
        .routes(routes!(one))
}

/// Check out the shopper's cart.
///
/// With a `shipping_address`, the order's total includes shipping's quote for it (see
/// `/shipping/quote`), and the order shows its tracking number once it has shipped. With a
/// `currency` other than the catalog's (one of `/currencies`), the whole total is converted at
/// the rates in force and charged in that currency; the order's `conversion` shows the amount in
/// the catalog's currency, the rate and its date.
/// 201 with the order when this request created it and the saga finished (confirmed or
/// cancelled, with the reason); 200 for a repeat of a finished checkout; 202 with `Location`
/// while the saga is still running when the deadline comes.
#[utoipa::path(
    post,
    path = "/checkout",
    operation_id = "checkout",
    security(("bearer" = [])),
    params(CheckoutKey),
    request_body = CheckoutRequest,
    responses(
        (status = 200, description = "The order of an earlier checkout with this key",
            headers(("Location" = String, description = "The order's URL")), body = Order),
        (status = 201, description = "The final order (confirmed or cancelled)",
            headers(("Location" = String, description = "The order's URL")), body = Order),
        (status = 202, description = "The order, still pending",
            headers(("Location" = String, description = "The order's URL")), body = Order),
        (status = 409, description = "request-in-progress: an earlier checkout with this key \
            is still running", body = Problem),
        (status = 422, description = "empty-cart, product-unavailable, mixed-currencies, \
            unknown-country (of the shipping address), unknown-currency (no rate for \
            `currency`), idempotency-key-reused, or invalid-body", body = Problem),
        (status = 503, description = "payments-unavailable, shipping-unavailable or \
            currency-unavailable (another currency than the catalog's was asked for and could \
            not be converted: check out in the catalog's currency, or again shortly): nothing \
            was charged and the cart is kept; or a service is unavailable", body = Problem),
        RateLimitedProblem,
    ),
)]
async fn checkout(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
    IdempotencyKey(key): IdempotencyKey,
    Json(request): Json<CheckoutRequest>,
) -> Result<Response, Problem> {
    // Checkout automation (card testing, hoarding): limited per shopper.
    if let Err(limited) = gateway.limits.checkout(principal.user_id) {
        return Ok(limited.into_response());
    }
    let key = key.as_str();
    request.validate()?;
    let answer = gateway
        .orders
        .checkout(&principal.token, key, &request)
        .await
        .map_err(|e| checkout_failed(&e))?;
    let status = if answer.pending {
        StatusCode::ACCEPTED
    } else if answer.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(answer.order.clone())).into_response();
    if let Ok(location) = HeaderValue::from_str(&public_location(answer.order.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The shopper's orders, newest first.
#[utoipa::path(
    get,
    path = "/orders",
    operation_id = "listOrders",
    security(("bearer" = [])),
    params(ListOrders),
    responses((status = 200, description = "One page of orders", body = OrderPage)),
)]
async fn list(
    State(gateway): State<Gateway>,
    principal: Principal,
    Query(query): Query<ListOrders>,
) -> Result<Json<OrderPage>, Problem> {
    query.validate()?;
    Ok(Json(gateway.orders.orders(&principal.token, &query).await?))
}

/// One of the shopper's orders.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    operation_id = "getOrder",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "An order id.")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "not-found: the shopper has no order with this id",
            body = Problem),
    ),
)]
async fn one(
    State(gateway): State<Gateway>,
    principal: Principal,
    PathUuid(id, _): PathUuid<paths::OrderId>,
    _: Query<NoParameters>,
) -> Result<Json<Order>, Problem> {
    Ok(Json(gateway.orders.order(&principal.token, id).await?))
}

/// The problem for a checkout that orders did not carry out. Orders' own
/// `payments-unavailable`, `shipping-unavailable` and `currency-unavailable` 503s are meant for the shopper (nothing was
/// charged, the cart is kept, try again) and pass through as they are; every other failure is
/// the chassis' usual mapping.
fn checkout_failed(error: &ClientError) -> Problem {
    let for_the_shopper = [
        problems::PAYMENTS_UNAVAILABLE,
        problems::SHIPPING_UNAVAILABLE,
        problems::CURRENCY_UNAVAILABLE,
    ];
    match error {
        ClientError::Status { problem, .. } if for_the_shopper.contains(&problem.code()) => {
            (**problem).clone()
        }
        _ => error.to_problem(),
    }
}
