//! `/api/v1/users`, `/api/v1/sessions`, `/api/v1/me`: signing up and in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::ratelimit::{ClientAddress, RateLimitedProblem};
use brigade_chassis::Problem;
use users_api::{LogIn, LogInProblems, Session, SignUp, SignUpProblems, User};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(me))
}

/// Sign up.
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "signUp",
    request_body = SignUp,
    responses(
        (status = 201, description = "The new account", body = User),
        SignUpProblems,
        RateLimitedProblem,
    ),
)]
async fn sign_up(
    State(gateway): State<Gateway>,
    address: ClientAddress,
    _: Query<NoParameters>,
    Json(request): Json<SignUp>,
) -> Result<Response, Problem> {
    // Scripted sign-ups: limited per address and per e-mail before anything else (a refused
    // attempt costs no hash).
    if let Err(limited) = gateway.limits.sign_up(&address, &request.email) {
        return Ok(limited.into_response());
    }
    // The users service applies the same rules; refusing here saves the hop (and a hash).
    request.validate()?;
    let user = gateway.users.sign_up(&request).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Log in: an access token for an email and a password.
#[utoipa::path(
    post,
    path = "/sessions",
    operation_id = "logIn",
    request_body = LogIn,
    responses(
        (status = 200, description = "An access token", body = Session),
        LogInProblems,
        RateLimitedProblem,
    ),
)]
async fn log_in(
    State(gateway): State<Gateway>,
    address: ClientAddress,
    _: Query<NoParameters>,
    Json(request): Json<LogIn>,
) -> Result<Response, Problem> {
    // Credential stuffing: limited per address and per account, whether the guess is right.
    if let Err(limited) = gateway.limits.log_in(&address, &request.email) {
        return Ok(limited.into_response());
    }
    request.validate()?;
    Ok(Json(gateway.users.log_in(&request).await?).into_response())
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = User)),
)]
async fn me(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<User>, Problem> {
    Ok(Json(gateway.users.me(&principal.token).await?))
}
