//! `/signup`, `/login`, `/logout`. Signing in puts the users service's access token in the
//! session and moves a guest's cart into the shopper's. A refused form comes back with what
//! was typed (never the password) and the problem next to its field.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{MatchedPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::ratelimit::ClientAddress;
use serde::Deserialize;
use users_api::{LogIn, SignUp};

use crate::form::{sentence, CheckedForm, FieldErrors};
use crate::layout::Layout;
use crate::session::{SessionHandle, Shopper};
use crate::Storefront;

/// The sign-up route; the log-in one is `/login`.
pub const SIGN_UP: &str = "/signup";

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

/// `GET /signup` and `GET /login`: the empty form.
pub async fn form(session: SessionHandle, route: MatchedPath, RawQuery(raw): RawQuery) -> Response {
    let form = AccountForm {
        next: next_of(raw),
        ..AccountForm::default()
    };
    let signing_up = route.as_str() == SIGN_UP;
    form_page(
        &session,
        signing_up,
        &form,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

/// A form as the shopper sent it, to show again with a problem.
struct Sent<'a> {
    session: &'a SessionHandle,
    signing_up: bool,
    form: &'a AccountForm,
}

impl Sent<'_> {
    /// The form again with `problem` next to `field` (`form`: above the fields).
    fn refuse(&self, field: &str, problem: &str, status: StatusCode) -> Response {
        let mut errors = FieldErrors::default();
        errors.add(field, sentence(problem));
        form_page(self.session, self.signing_up, self.form, errors, status)
    }

    /// Why the users service did not do it, as the form shows it.
    fn failed(&self, error: &ClientError) -> Response {
        let ClientError::Status { problem, .. } = error else {
            tracing::warn!(%error, "accounts unavailable");
            return self.refuse(
                "form",
                "Accounts are unavailable right now, so you could not be signed in. Please try \
                 again in a moment",
                StatusCode::SERVICE_UNAVAILABLE,
            );
        };
        let field = problem.extensions.get("parameter").and_then(|p| p.as_str());
        match problem.status {
            _ if problem.code() == "email-taken" => self.refuse(
                "email",
                "An account with this email exists already: log in instead",
                StatusCode::CONFLICT,
            ),
            401 => self.refuse(
                "form",
                "The email or the password is wrong",
                StatusCode::UNAUTHORIZED,
            ),
            400 => self.refuse(
                field.unwrap_or("form"),
                &problem.detail,
                StatusCode::BAD_REQUEST,
            ),
            _ => {
                tracing::warn!(%error, "accounts failed");
                self.refuse(
                    "form",
                    "Accounts could not sign you in just now. Please try again in a moment",
                    StatusCode::SERVICE_UNAVAILABLE,
                )
            }
        }
    }
}

/// `POST /signup` and `POST /login`.
pub async fn submit(
    State(shop): State<Storefront>,
    session: SessionHandle,
    route: MatchedPath,
    address: ClientAddress,
    CheckedForm(form): CheckedForm<AccountForm>,
) -> Response {
    let sent = Sent {
        session: &session,
        signing_up: route.as_str() == SIGN_UP,
        form: &form,
    };
    // Credential stuffing and scripted sign-ups: limited per address and per account before
    // anything else (a refused attempt costs no hash).
    let limited = if sent.signing_up {
        shop.limits.sign_up(&address, &form.email)
    } else {
        shop.limits.log_in(&address, &form.email)
    };
    if let Err(limited) = limited {
        return crate::failure::rate_limited(&session, &limited);
    }
    let credentials = LogIn {
        email: form.email.clone(),
        password: form.password.clone(),
    };
    let checked = if sent.signing_up {
        sign_up(&shop, &form).await
    } else {
        credentials.validate().map(drop).map_err(Refused::Rule)
    };
    let welcome = if sent.signing_up {
        "Welcome to Brigade"
    } else {
        "Welcome back"
    };
    let signed = match checked {
        Ok(()) => start_session(&shop, &session, &form)
            .await
            .map_err(Refused::Users),
        Err(refused) => Err(refused),
    };
    match signed {
        Ok(name) => signed_in(&session, &form, &format!("{welcome}, {name}.")),
        Err(Refused::Rule(rule)) => {
            sent.refuse(&rule.parameter, &rule.detail, StatusCode::BAD_REQUEST)
        }
        Err(Refused::Users(error)) => sent.failed(&error),
    }
}

/// Why a form did not sign the shopper in.
enum Refused {
    /// A field broke the users service's rule (checked here first).
    Rule(users_api::ValidationError),
    Users(ClientError),
}

/// Creates the account the form describes.
async fn sign_up(shop: &Storefront, form: &AccountForm) -> Result<(), Refused> {
    let request = SignUp {
        email: form.email.clone(),
        password: form.password.clone(),
        name: form.name.clone(),
    };
    request.validate().map_err(Refused::Rule)?;
    shop.users.sign_up(&request).await.map_err(Refused::Users)?;
    Ok(())
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
    session.sign_in(shopper);
    super::cart::adopt_guest_cart(shop, session, &token).await;
    Ok(user.name)
}

pub async fn log_out(session: SessionHandle, CheckedForm(_): CheckedForm<AccountForm>) -> Response {
    session.sign_out();
    session.notify("You are logged out.");
    Redirect::to("/").into_response()
}
