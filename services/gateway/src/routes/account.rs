//! `/api/v1/users`, `/api/v1/sessions`, `/api/v1/me`: signing up and in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{LogIn, Session, SignUp, User};

use crate::Gateway;

pub fn router() -> Router<Gateway> {
    Router::new()
        .route("/users", post(sign_up))
        .route("/sessions", post(log_in))
        .route("/me", get(me))
}

async fn sign_up(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
    Json(request): Json<SignUp>,
) -> Result<(StatusCode, Json<User>), Problem> {
    // The users service applies the same rules; refusing here saves the hop (and a hash).
    request.validate().map_err(Problem::from)?;
    let user = gateway
        .users
        .sign_up(&request)
        .await
        .map_err(|e| e.to_problem())?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn log_in(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
    Json(request): Json<LogIn>,
) -> Result<Json<Session>, Problem> {
    request.validate().map_err(Problem::from)?;
    let session = gateway
        .users
        .log_in(&request)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(session))
}

async fn me(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<User>, Problem> {
    let user = gateway
        .users
        .me(&principal.token)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(user))
}
