//! `GET /v1/me`: the signed-in user.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use brigade_chassis::auth::{bearer_token, AuthError};
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{paths, User};

use super::failed;
use crate::app::App;

/// The signed-in user.
///
/// The token is checked with this service's own published keys (not the chassis'
/// `Principal`, which would fetch them over HTTP from this very service). A valid token whose
/// account no longer exists is refused like an invalid one.
#[utoipa::path(
    get,
    path = paths::ME,
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "unauthorized: the token is missing, expired, not valid, \
            or its account no longer exists", body = Problem),
    ),
)]
pub(super) async fn me(
    State(app): State<App>,
    _: Query<NoParameters>,
    headers: HeaderMap,
) -> Result<Json<User>, Response> {
    let token = bearer_token(&headers).map_err(IntoResponse::into_response)?;
    let claims = app
        .keys
        .verify(token)
        .await
        .map_err(IntoResponse::into_response)?;
    match app.store.user(claims.sub).await {
        Ok(Some(user)) => Ok(Json(user)),
        Ok(None) => Err(AuthError::Invalid(
            "its account no longer exists; sign up again".to_owned(),
        )
        .into_response()),
        Err(e) => Err(failed("the users store", &e).into_response()),
    }
}
