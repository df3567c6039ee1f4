//! `/signup`, `/login`, `/logout`. Signing in puts the users service's access token in the
//! session and moves a guest's cart into the shopper's. A refused form comes back with what
//! was typed (never the password) and the problem next to its field.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use brigade_chassis::client::Error as ClientError;
use serde::Deserialize;
use users_api::{LogIn, SignUp};

use crate::form::{sentence, CheckedForm, FieldErrors};
use crate::layout::Layout;
use crate::session::{SessionHandle, Shopper};
use crate::Storefront;

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    signing_up: bool,
    name: String,
    email: String,
    next: String,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
struct Next {
    #[serde(default)]
    next: String,
}

fn next_of(raw: Option<String>) -> String {
    let asked: Next =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    super::local_path(&asked.next).to_owned()
}

fn form_page(
    session: &SessionHandle,
    signing_up: bool,
    form: &AccountForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let title = if signing_up { "Sign up" } else { "Log in" };
    let page = AccountPage {
        layout: Layout::new(session, title),
        signing_up,
        name: form.name.clone(),
        email: form.email.clone(),
        next: super::local_path(&form.next).to_owned(),
        errors,
    };
    (status, page).into_response()
}

pub async fn sign_up_form(session: SessionHandle, RawQuery(raw): RawQuery) -> Response {
    let form = AccountForm {
        next: next_of(raw),
        ..AccountForm::default()
    };
    form_page(
        &session,
        true,
        &form,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

pub async fn log_in_form(session: SessionHandle, RawQuery(raw): RawQuery) -> Response {
    let form = AccountForm {
        next: next_of(raw),
        ..AccountForm::default()
    };
    form_page(
        &session,
        false,
        &form,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

/// The form again with one problem.
fn refused(
    session: &SessionHandle,
    signing_up: bool,
    form: &AccountForm,
    field: &str,
    problem: &str,
    status: StatusCode,
) -> Response {
    let mut errors = FieldErrors::default();
    errors.add(field, sentence(problem));
    form_page(session, signing_up, form, errors, status)
}

/// Why the users service did not do it, as the form shows it.
fn users_failed(
    session: &SessionHandle,
    signing_up: bool,
    form: &AccountForm,
    error: &ClientError,
) -> Response {
    match error {
        ClientError::Status { problem, .. } if problem.code() == "email-taken" => refused(
            session,
            signing_up,
            form,
            "email",
            "An account with this email exists already: log in instead",
            StatusCode::CONFLICT,
        ),
        ClientError::Status { problem, .. } if problem.status == 401 => refused(
            session,
            signing_up,
            form,
            "form",
            "The email or the password is wrong",
            StatusCode::UNAUTHORIZED,
        ),
        ClientError::Status { problem, .. } if problem.status == 400 => {
            let field = problem
                .extensions
                .get("parameter")
                .and_then(|p| p.as_str())
                .unwrap_or("form");
            refused(
                session,
                signing_up,
                form,
                field,
                &problem.detail,
                StatusCode::BAD_REQUEST,
            )
        }
        _ => {
            tracing::warn!(%error, "accounts unavailable");
            refused(session, signing_up, form, "form",
                "Accounts are unavailable right now, so you could not be signed in. Please try again in a moment",
                StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

pub async fn sign_up(
    State(shop): State<Storefront>,
    session: SessionHandle,
    CheckedForm(form): CheckedForm<AccountForm>,
) -> Response {
    let request = SignUp {
        email: form.email.clone(),
        password: form.password.clone(),
        name: form.name.clone(),
    };
    if let Err(rule) = request.validate() {
        return refused(
            &session,
            true,
            &form,
            &rule.parameter,
            &rule.detail,
            StatusCode::BAD_REQUEST,
        );
    }
    if let Err(error) = shop.users.sign_up(&request).await {
        return users_failed(&session, true, &form, &error);
    }
    match start_session(&shop, &session, &form).await {
        Ok(name) => signed_in(&session, &form, &format!("Welcome to Brigade, {name}.")),
        Err(error) => users_failed(&session, true, &form, &error),
    }
}

pub async fn log_in(
    State(shop): State<Storefront>,
    session: SessionHandle,
    CheckedForm(form): CheckedForm<AccountForm>,
) -> Response {
    let credentials = LogIn {
        email: form.email.clone(),
        password: form.password.clone(),
    };
    if let Err(rule) = credentials.validate() {
        return refused(
            &session,
            false,
            &form,
            &rule.parameter,
            &rule.detail,
            StatusCode::BAD_REQUEST,
        );
    }
    match start_session(&shop, &session, &form).await {
        Ok(name) => signed_in(&session, &form, &format!("Welcome back, {name}.")),
        Err(error) => users_failed(&session, false, &form, &error),
    }
}

fn signed_in(session: &SessionHandle, form: &AccountForm, welcome: &str) -> Response {
    session.notify(welcome);
    Redirect::to(super::local_path(&form.next)).into_response()
}

/// Logs in with the form's credentials, keeps the token in the session, moves the guest's cart
/// into the shopper's, and gives the shopper's name.
async fn start_session(
    shop: &Storefront,
    session: &SessionHandle,
    form: &AccountForm,
) -> Result<String, ClientError> {
    let credentials = LogIn {
        email: form.email.clone(),
        password: form.password.clone(),
    };
    let granted = shop.users.log_in(&credentials).await?;
    let user = shop.users.me(&granted.access_token).await?;
    let shopper = Shopper {
        token: granted.access_token,
        user_id: user.id,
        name: user.name.clone(),
        expires_at_ms: brigade_chassis::time::unix_ms() + granted.expires_in * 1000,
    };
    let token = shopper.token.clone();
    session.update(|s| s.shopper = Some(shopper));
    super::cart::adopt_guest_cart(shop, session, &token).await;
    Ok(user.name)
}

pub async fn log_out(session: SessionHandle, CheckedForm(_): CheckedForm<AccountForm>) -> Response {
    session.sign_out();
    session.notify("You are logged out.");
    Redirect::to("/").into_response()
}
