//! `POST /v1/sessions`: log in.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{paths, LogIn, LogInProblems, Session, TOKEN_TYPE};

use super::failed;
use crate::app::App;

/// The one answer to wrong credentials, whichever part was wrong: saying which would tell a
/// guesser which emails have accounts.
pub fn invalid_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-credentials",
        "Invalid credentials",
        "the email or the password is wrong",
    )
}

/// Log in.
///
/// Exchanges an email and a password for an access token.
#[utoipa::path(
    post,
    path = paths::SESSIONS,
    operation_id = "logIn",
    request_body = LogIn,
    responses(
        (status = 200, description = "An access token", body = Session),
        LogInProblems,
    ),
)]
pub(super) async fn log_in(
    State(app): State<App>,
    _: Query<NoParameters>,
    Json(request): Json<LogIn>,
) -> Result<Json<Session>, Problem> {
    let valid = request.validate()?;
    let account = app
        .store
        .account_by_email(&valid.email)
        .await
        .map_err(|e| failed("the users store", &e))?;
    // An unknown email is checked against a dummy hash, so that it takes as long as a wrong
    // password: the time of the answer must not reveal whether the account exists.
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = app
        .passwords
        .verify(valid.password, stored)
        .await
        .map_err(|e| failed("checking a password", &e))?;
    let user = match account {
        Some(account) if matches => account.user,
        _ => return Err(invalid_credentials()),
    };
    let access_token = app
        .keys
        .issue(user.id, &user.email)
        .await
        .map_err(|e| failed("issuing an access token", &e))?;
    Ok(Json(Session {
        access_token,
        token_type: TOKEN_TYPE.to_owned(),
        expires_in: app.keys.token_ttl().as_secs(),
    }))
}
