//! `GET /v1/jwks` and `POST /v1/keys/rotate`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{JwkSet, RotatedKey};

use super::failed;
use crate::app::App;

/// `GET /v1/jwks`: the public keys that verify access tokens. Never private material: a JWK is
/// built from the public half only.
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

/// `POST /v1/keys/rotate`: an operator's endpoint (the gateway never exposes it). Tokens signed
/// by the retired key keep verifying until they expire.
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
