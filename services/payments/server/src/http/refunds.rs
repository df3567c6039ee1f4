//! `POST /v1/charges/{id}/refund`.

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, PathUuid};
use brigade_chassis::Problem;
use payments_api::{paths, problems, Charge, RefundRequest};

use super::BODY_LIMIT;
use crate::processor::{Processor, RefundError};
use crate::store::RefundError as Refused;
use brigade_chassis::extract::OptionalIdempotencyKey;

/// Refund a charge in full.
///
/// Refunds a captured charge; a refunded one is answered as it is. The body may be left out.
#[utoipa::path(
    post,
    path = paths::REFUND_PATTERN,
    operation_id = "refundCharge",
    params(
        ("id" = Uuid, Path, description = "A charge id."),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,128}$",
            description = "Optional: a refund is idempotent by charge anyway. A key used to \
            refund one charge cannot refund another (422 idempotency-key-reused)."),
    ),
    request_body(content = Option<RefundRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The refunded charge", body = Charge),
        (status = 404, description = "not-found: there is no charge with this id",
            body = Problem),
        (status = 409, description = "not-refundable: only a captured charge can be refunded \
            (`charge_status`)", body = Problem),
        (status = 422, description = "invalid-body: the reason is too long or the JSON has the \
            wrong shape; idempotency-key-reused: the key refunded another charge (`charge_id`)",
            body = Problem),
    ),
)]
pub(super) async fn refund(
    State(processor): State<Processor>,
    PathUuid(id, _): PathUuid<paths::ChargeId>,
    OptionalIdempotencyKey(key): OptionalIdempotencyKey,
    request: Request,
) -> Result<Json<Charge>, Problem> {
    let body = refund_request(request).await?;
    match processor.refund(id, key.as_deref(), &body).await {
        Ok(charge) => Ok(Json(charge)),
        Err(RefundError::Invalid(e)) => Err(e.into()),
        Err(RefundError::Refused(Refused::NotFound(id))) => Err(Problem::not_found(format!(
            "there is no charge with id {id}"
        ))),
        Err(RefundError::Refused(Refused::NotRefundable(charge))) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::NOT_REFUNDABLE,
            "Charge not refundable",
            format!(
                "charge {} is {}: only a captured charge can be refunded",
                charge.id, charge.status
            ),
        )
        .with("charge_status", charge.status.as_str())),
        Err(RefundError::Refused(Refused::KeyReused { charge_id })) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems::IDEMPOTENCY_KEY_REUSED,
            "Idempotency key reused",
            format!(
                "this Idempotency-Key was used to refund charge {charge_id}; use a new key for \
                 another refund"
            ),
        )
        .with("charge_id", charge_id.to_string())),
        Err(RefundError::Refused(Refused::Store(e))) => Err(Problem::store_failed(&e)),
    }
}

/// The body, which may be left out: no body (or only white space, or `null`, which the
/// document allows) is a refund without a reason. A body that is there must be JSON, sent as
/// such.
async fn refund_request(request: Request) -> Result<RefundRequest, Problem> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        Problem::payload_too_large(format!(
            "the refund body must be at most {BODY_LIMIT} bytes of JSON"
        ))
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(RefundRequest::default());
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let Json(body) = Json::<Option<RefundRequest>>::from_request(request, &()).await?;
    Ok(body.unwrap_or_default())
}
