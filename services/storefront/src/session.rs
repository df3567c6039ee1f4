//! The shopper's session, kept in one encrypted and signed cookie (`PrivateCookieJar`): the
//! CSRF token every form carries, the users service's access token once signed in, the cart of
//! a shopper not signed in yet, and a notice to show on the next page. Nothing is kept on the
//! server, so any instance with the key serves any shopper.
//!
//! `keep_session` opens the cookie before a page runs and seals it again after, only when the
//! page changed it. Pages reach it through [`SessionHandle`].

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar, SameSite};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "brigade_session";
/// The most lines a cart kept in the cookie holds: the cookie must stay well under 4 KB.
pub const MAX_GUEST_LINES: usize = 20;

/// How sessions are sealed: the key, and whether cookies are Secure.
#[derive(Clone)]
pub struct Sessions {
    key: Key,
    secure: bool,
}

// The key stays out of logs.
impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sessions {{ secure: {}, key: <redacted> }}", self.secure)
    }
}

impl Sessions {
    pub fn new(key: Key, secure: bool) -> Sessions {
        Sessions { key, secure }
    }
}

impl FromRef<Sessions> for Key {
    fn from_ref(sessions: &Sessions) -> Key {
        sessions.key.clone()
    }
}

/// What the cookie holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    /// Every form's hidden `csrf` field must equal it.
    pub csrf: String,
    pub shopper: Option<Shopper>,
    /// The cart of a shopper not signed in: moved into their cart when they sign in.
    #[serde(default)]
    pub guest_cart: Vec<GuestLine>,
    /// Shown once, on the next page.
    #[serde(default)]
    pub notice: Option<String>,
    /// The currency prices are shown (and checkouts paid) in; none: the catalog's.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A signed-in shopper.
#[derive(Clone, Serialize, Deserialize)]
pub struct Shopper {
    /// The users service's access token, sent with every call made for the shopper.
    pub token: String,
    pub user_id: Uuid,
    pub name: String,
    /// When the token expires (Unix ms): past it, the shopper is signed out.
    pub expires_at_ms: u64,
}

// The token is a credential: not for logs.
impl std::fmt::Debug for Shopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shopper {{ user_id: {}, token: <redacted> }}",
            self.user_id
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestLine {
    pub product_id: Uuid,
    pub quantity: u32,
}

impl Session {
    fn fresh() -> Session {
        Session {
            csrf: new_csrf_token(),
            ..Session::default()
        }
    }
}

/// 244 random bits, hex.
fn new_csrf_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

#[derive(Debug)]
struct Slot {
    session: Session,
    changed: bool,
}

/// The request's session, shared between the middleware and the page.
#[derive(Debug, Clone)]
pub struct SessionHandle(Arc<Mutex<Slot>>);

impl SessionHandle {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A page that panicked holding the lock left a whole session behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn csrf(&self) -> String {
        self.lock().session.csrf.clone()
    }

    /// Whether `given` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, given: &str) -> bool {
        let expected = self.csrf();
        expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The signed-in shopper, unless their token has expired (then they are signed out).
    pub fn shopper(&self) -> Option<Shopper> {
        let mut slot = self.lock();
        let expired = slot
            .session
            .shopper
            .as_ref()
            .is_some_and(|s| s.expires_at_ms <= brigade_chassis::time::unix_ms());
        if expired {
            slot.session.shopper = None;
            slot.changed = true;
        }
        slot.session.shopper.clone()
    }

    pub fn guest_cart(&self) -> Vec<GuestLine> {
        self.lock().session.guest_cart.clone()
    }

    /// Changes the session; the cookie is sealed again with the answer.
    pub fn update<T>(&self, change: impl FnOnce(&mut Session) -> T) -> T {
        let mut slot = self.lock();
        slot.changed = true;
        change(&mut slot.session)
    }

    /// The currency the shopper chose, if any.
    pub fn currency(&self) -> Option<String> {
        self.lock().session.currency.clone()
    }

    pub fn choose_currency(&self, code: &str) {
        let code = code.to_owned();
        self.update(|session| session.currency = Some(code));
    }

    /// Signs `shopper` in, with a new CSRF token: a token seen before signing in (on a shared
    /// computer, say) is worth nothing after.
    pub fn sign_in(&self, shopper: Shopper) {
        self.update(|session| {
            session.shopper = Some(shopper);
            session.csrf = new_csrf_token();
        });
    }

    /// Signs the shopper out: the token, the guest cart and the CSRF token go.
    pub fn sign_out(&self) {
        self.update(|session| {
            *session = Session {
                notice: session.notice.take(),
                // A display preference, not the shopper's: it outlives signing out.
                currency: session.currency.take(),
                ..Session::fresh()
            }
        });
    }

    /// The notice to show once, taken out of the session.
    pub fn take_notice(&self) -> Option<String> {
        let mut slot = self.lock();
        let notice = slot.session.notice.take();
        if notice.is_some() {
            slot.changed = true;
        }
        notice
    }

    pub fn notify(&self, notice: impl Into<String>) {
        let notice = notice.into();
        self.update(|session| session.notice = Some(notice));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<SessionHandle, Response> {
        parts
            .extensions
            .get::<SessionHandle>()
            .cloned()
            .ok_or_else(|| crate::failure::plain_internal("no session on this route"))
    }
}

/// Opens the session cookie (a new session when there is none, or it does not open: another
/// key, tampered with), runs the page, and seals the session again when the page changed it.
pub async fn keep_session(
    State(sessions): State<Sessions>,
    jar: PrivateCookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let opened = jar
        .get(SESSION_COOKIE)
        .and_then(|cookie| serde_json::from_str::<Session>(cookie.value()).ok());
    let slot = match opened {
        Some(session) => Slot {
            session,
            changed: false,
        },
        None => Slot {
            session: Session::fresh(),
            changed: true,
        },
    };
    let secure = sessions.secure || forwarded_over_tls(&request);
    let handle = SessionHandle(Arc::new(Mutex::new(slot)));
    request.extensions_mut().insert(handle.clone());
    let response = next.run(request).await;
    let slot = handle.lock();
    if !slot.changed {
        return response;
    }
    let Ok(value) = serde_json::to_string(&slot.session) else {
        return response;
    };
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    (jar.add(cookie), response).into_response()
}

/// The request reached a TLS-terminating proxy over https.
fn forwarded_over_tls(request: &Request) -> bool {
    request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}
