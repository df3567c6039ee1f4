//! The `Idempotency-Key` header as extractors, so that a missing or malformed key is refused
//! before the body is read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use brigade_chassis::context::IDEMPOTENCY_KEY_HEADER;
use brigade_chassis::Problem;
use payments_api::check_idempotency_key;

/// A required `Idempotency-Key` that follows the rules.
#[derive(Debug, Clone)]
pub(super) struct IdempotencyKey(pub String);

/// An optional `Idempotency-Key`; when present it must follow the rules.
#[derive(Debug, Clone)]
pub(super) struct OptionalIdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalIdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(OptionalIdempotencyKey(None));
        };
        if values.next().is_some() {
            return Err(Problem::invalid_parameter(
                "Idempotency-Key",
                "send one Idempotency-Key header, not several",
            ));
        }
        let key = value.to_str().map_err(|_| {
            Problem::invalid_parameter(
                "Idempotency-Key",
                "the Idempotency-Key header must be visible ASCII characters only (no spaces), \
                 such as a UUID",
            )
        })?;
        check_idempotency_key(key)?;
        Ok(OptionalIdempotencyKey(Some(key.to_owned())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match OptionalIdempotencyKey::from_request_parts(parts, state)
            .await?
            .0
        {
            Some(key) => Ok(IdempotencyKey(key)),
            None => Err(Problem::invalid_parameter(
                "Idempotency-Key",
                "this request needs an Idempotency-Key header (1 to 128 visible ASCII \
                 characters, such as a UUID) that is the same each time it is repeated, so \
                 that a repeat never charges twice",
            )),
        }
    }
}
