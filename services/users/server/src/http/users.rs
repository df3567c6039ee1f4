//! `POST /v1/users`: sign up.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use users_api::{paths, SignUp, SignUpProblems, User};
use uuid::Uuid;

use super::failed;
use crate::app::App;
use crate::store::{CreateError, NewAccount};

/// The problem for a sign-up with an email that has an account.
pub fn email_taken() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "email-taken",
        "Email taken",
        "an account with this email already exists; log in instead",
    )
    .with("parameter", "email")
}

/// Sign up.
///
/// Creates an account and answers it (never its password).
#[utoipa::path(
    post,
    path = paths::USERS,
    operation_id = "signUp",
    request_body = SignUp,
    responses(
        (status = 201, description = "The new account", body = User),
        SignUpProblems,
    ),
)]
pub(super) async fn sign_up(
    State(app): State<App>,
    _: Query<NoParameters>,
    Json(request): Json<SignUp>,
) -> Result<(StatusCode, Json<User>), Problem> {
    let valid = request.validate()?;
    let password_hash = app
        .passwords
        .hash(valid.password)
        .await
        .map_err(|e| failed("hashing a password", &e))?;
    let account = NewAccount {
        id: Uuid::new_v4(),
        email: valid.email,
        name: valid.name,
        password_hash,
        created_at_ms: app.clock.now_ms(),
    };
    match app.store.create_user(&account).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "signed up");
            Ok((StatusCode::CREATED, Json(user)))
        }
        Err(CreateError::EmailTaken) => Err(email_taken()),
        Err(CreateError::Store(e)) => Err(failed("the users store", &e)),
    }
}
