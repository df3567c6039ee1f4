//! `/v1/charges`: charging a card, one charge, an order's charges.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use payments_api::{
    check_order_id, paths, problems, Charge, ChargeList, ChargeRequest, ChargesQuery,
};

use crate::processor::{ChargeError, Processor};
use brigade_chassis::extract::IdempotencyKey;

/// Charge a card.
///
/// 201 with a new charge, 200 with the charge an earlier request with the same key made. A
/// decline is a charge too (`status: declined`).
#[utoipa::path(
    post,
    path = paths::CHARGES,
    operation_id = "createCharge",
    params(
        ("Idempotency-Key" = String, Header, pattern = r"^[!-~]{1,128}$",
            description = "1 to 128 visible ASCII characters, the same on every repeat of one \
            request. Missing or malformed: 400 invalid-parameter."),
    ),
    request_body = ChargeRequest,
    responses(
        (status = 200, description = "The charge an earlier request with this key made", body = Charge),
        (status = 201, description = "The new charge (captured or declined)", body = Charge),
        (status = 409, description = "already-charged: the order has a money-holding charge \
            (`charge_id`, `charge_status`)", body = Problem),
        (status = 422, description = "invalid-card: the card number is not digits, has the \
            wrong length or fails the Luhn check; invalid-body: a member breaks a rule or the \
            JSON has the wrong shape (`parameter`); idempotency-key-reused: the key was used \
            for another request (`charge_id`)", body = Problem),
        (status = 502, description = "processor-error: the card processor failed before \
            deciding; nothing was charged", body = Problem),
    ),
)]
pub(super) async fn create(
    State(processor): State<Processor>,
    IdempotencyKey(key): IdempotencyKey,
    Json(request): Json<ChargeRequest>,
) -> Result<(StatusCode, Json<Charge>), Problem> {
    match processor.charge(&key, &request).await {
        Ok(charged) if charged.created => Ok((StatusCode::CREATED, Json(charged.charge))),
        Ok(charged) => Ok((StatusCode::OK, Json(charged.charge))),
        Err(e) => Err(charge_problem(e)),
    }
}

fn charge_problem(error: ChargeError) -> Problem {
    match error {
        ChargeError::Invalid(e) => e.into(),
        ChargeError::KeyReused { charge_id } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems::IDEMPOTENCY_KEY_REUSED,
            "Idempotency key reused",
            format!(
                "this Idempotency-Key was used for charge {charge_id} with a different request \
                 (order, amount, currency or card); use a new key for a new charge"
            ),
        )
        .with("charge_id", charge_id.to_string()),
        ChargeError::AlreadyCharged {
            order_id,
            charge_id,
            status,
        } => Problem::new(
            StatusCode::CONFLICT,
            problems::ALREADY_CHARGED,
            "Order already charged",
            format!(
                "order {order_id} already has charge {charge_id}, which is {status}; an order is \
                 charged at most once (refund that charge first to charge the order again)"
            ),
        )
        .with("charge_id", charge_id.to_string())
        .with("charge_status", status.as_str()),
        ChargeError::ProcessorFailed => Problem::new(
            StatusCode::BAD_GATEWAY,
            problems::PROCESSOR_ERROR,
            "Card processor error",
            "the card processor failed before deciding; nothing was charged, and the same \
             request may be tried again",
        ),
        ChargeError::Store(e) => Problem::store_failed(&e),
        e @ ChargeError::Settlement(_) => Problem::store_failed(&e),
    }
}

/// One charge.
#[utoipa::path(
    get,
    path = paths::CHARGE_PATTERN,
    operation_id = "getCharge",
    params(("id" = Uuid, Path, description = "A charge id.")),
    responses(
        (status = 200, description = "The charge", body = Charge),
        (status = 404, description = "not-found: there is no charge with this id",
            body = Problem),
    ),
)]
pub(super) async fn one(
    State(processor): State<Processor>,
    PathUuid(id, _): PathUuid<paths::ChargeId>,
) -> Result<Json<Charge>, Problem> {
    let stored = processor.store().charge(id).await?;
    let stored = stored.or_not_found(|| format!("there is no charge with id {id}"))?;
    Ok(Json(stored.charge))
}

/// An order's charges, oldest first.
#[utoipa::path(
    get,
    path = paths::CHARGES,
    operation_id = "listCharges",
    params(ChargesQuery),
    responses((status = 200, description = "The order's charges", body = ChargeList)),
)]
pub(super) async fn list(
    State(processor): State<Processor>,
    Query(query): Query<ChargesQuery>,
) -> Result<Json<ChargeList>, Problem> {
    let order_id = check_order_id(&query.order_id)?;
    let items = processor.store().charges_for_order(order_id).await?;
    Ok(Json(ChargeList { items }))
}
