//! `POST /v1/charges/{id}/refund`.

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, Path};
use brigade_chassis::Problem;
use payments_api::{check_charge_id, problems, Charge, RefundRequest};

use super::idempotency::OptionalIdempotencyKey;
use super::{store_failed, BODY_LIMIT};
use crate::processor::{Processor, RefundError};
use crate::store::RefundError as Refused;

/// Refunds a captured charge in full; a refunded one is answered as it is.
pub(super) async fn refund(
    State(processor): State<Processor>,
    Path(id): Path<String>,
    OptionalIdempotencyKey(key): OptionalIdempotencyKey,
    request: Request,
) -> Result<Json<Charge>, Problem> {
    let id = check_charge_id(&id)?;
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
        Err(RefundError::Refused(Refused::Store(e))) => Err(store_failed(&e)),
    }
}

/// The body, which may be left out: no body (or only white space) is a refund without a reason.
/// A body that is there must be JSON, sent as such.
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
    let Json(body) = Json::<RefundRequest>::from_request(request, &()).await?;
    Ok(body)
}
