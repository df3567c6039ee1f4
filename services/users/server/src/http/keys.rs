//! `GET /v1/jwks` and `POST /v1/keys/rotate`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{paths, JwkSet, RotatedKey};

use super::failed;
use crate::app::App;

/// The public keys that verify access tokens (a JWKS).
///
/// Never private material: a JWK is built from the public half only.
#[utoipa::path(
    get,
    path = paths::JWKS,
    operation_id = "jwks",
    responses((status = 200, description = "The JWKS (RFC 7517) of the keys that sign",
        body = serde_json::Value)),
)]
pub(super) async fn jwks(
    State(app): State<App>,
    _: Query<NoParameters>,
) -> Result<Json<JwkSet>, Problem> {
    app.keys
        .jwks()
        .await
        .map(Json)
        .map_err(|e| failed("reading the signing keys", &e))
}

/// Rotate the signing key.
///
/// An operator's endpoint (the gateway never exposes it). Tokens signed by the retired key keep
/// verifying until they expire.
#[utoipa::path(
    post,
    path = paths::ROTATE_KEYS,
    operation_id = "rotateKeys",
    responses((status = 200, description = "The id of the key that signs from now on",
        body = RotatedKey)),
)]
pub(super) async fn rotate(
    State(app): State<App>,
    _: Query<NoParameters>,
) -> Result<Json<RotatedKey>, Problem> {
    app.keys
        .rotate()
        .await
        .map(|kid| Json(RotatedKey { kid }))
        .map_err(|e| failed("rotating the signing key", &e))
}
