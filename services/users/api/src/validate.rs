//! The rules sign-up and log-in input must follow, shared by the users service and by edges that
//! check early. [`SignUp::validate`] turns the body as sent into a [`ValidSignUp`], which exists
//! only when every rule holds and holds the normalised values, so the server never re-checks.
//!
//! Passwords follow NIST SP 800-63B: a length range and no composition rules, counted in
//! characters (not bytes), so that a passphrase in any script is as good as one in ASCII.

use crate::types::{LogIn, SignUp};
use brigade_chassis::problem::quoted;
pub use brigade_chassis::validation::ValidationError;

/// The longest email address (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted: room for any passphrase, but not for a denial of service.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The longest display name, after trimming.
pub const MAX_NAME_CHARS: usize = 100;

/// A sign-up that follows every rule, normalised.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidSignUp {
    /// Trimmed and lower-cased.
    pub email: String,
    /// As given: spaces are part of a passphrase.
    pub password: String,
    /// Trimmed.
    pub name: String,
}

impl std::fmt::Debug for ValidSignUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidSignUp")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Log-in credentials of a plausible shape. Whether they are right is the service's to say.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidLogIn {
    /// Trimmed and lower-cased, as stored.
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for ValidLogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidLogIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl SignUp {
    /// Checks every rule and normalises the email and the name.
    pub fn validate(&self) -> Result<ValidSignUp, ValidationError> {
        let email = check_email(&self.email)?;
        let password = check_password(&self.password, &email)?;
        let name = check_name(&self.name)?;
        Ok(ValidSignUp {
            email,
            password: password.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl LogIn {
    /// Refuses credentials that cannot be anyone's (empty, or far too long to be a password we
    /// accepted), so that they cost no password hashing. The rules of sign-up are not applied:
    /// saying "too short" would help a guesser and could lock out accounts made under older rules.
    pub fn validate(&self) -> Result<ValidLogIn, ValidationError> {
        let email = normalize_email(&self.email);
        if email.is_empty() {
            return Err(ValidationError::new("email", "email must not be empty"));
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(ValidationError::new(
                "email",
                format!("email must be at most {MAX_EMAIL_CHARS} characters"),
            ));
        }
        if self.password.is_empty() {
            return Err(ValidationError::new(
                "password",
                "password must not be empty",
            ));
        }
        if self.password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("password must be at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(ValidLogIn {
            email,
            password: self.password.clone(),
        })
    }
}

/// An email as stored and compared: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn check_email(raw: &str) -> Result<String, ValidationError> {
    let email = normalize_email(raw);
    let invalid = |why: &str| {
        ValidationError::new(
            "email",
            format!("{} is not an email address: {why}", quoted(&email)),
        )
    };
    if email.is_empty() {
        return Err(ValidationError::new("email", "email must not be empty"));
    }
    let chars = email.chars().count();
    if chars > MAX_EMAIL_CHARS {
        return Err(ValidationError::new(
            "email",
            format!("email must be at most {MAX_EMAIL_CHARS} characters, got {chars}"),
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it must not contain spaces or control characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("it must contain one @"));
    };
    if domain.contains('@') {
        return Err(invalid("it must contain exactly one @"));
    }
    if local.is_empty() {
        return Err(invalid("there must be something before the @"));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(invalid(
            "the part after the @ must be a domain with a dot, such as example.com",
        ));
    }
    Ok(email)
}

fn check_password<'a>(password: &'a str, email: &str) -> Result<&'a str, ValidationError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ValidationError::new(
            "password",
            format!(
                "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long, \
                 got {chars}"
            ),
        ));
    }
    // The address is the first thing a guesser tries.
    if normalize_email(password) == email {
        return Err(ValidationError::new(
            "password",
            "password must not be the email address",
        ));
    }
    Ok(password)
}

fn check_name(raw: &str) -> Result<&str, ValidationError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&chars) {
        return Err(ValidationError::new(
            "name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters after trimming, got {chars}"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_up(email: &str, password: &str, name: &str) -> SignUp {
        SignUp {
            email: email.to_owned(),
            password: password.to_owned(),
            name: name.to_owned(),
        }
    }

    fn refused_field(request: &SignUp) -> String {
        request
            .validate()
            .err()
            .unwrap_or_else(|| panic!("{request:?} passed"))
            .parameter
    }

    #[test]
    fn a_good_sign_up_is_normalised() {
        let valid = sign_up(
            "  Ada@Example.COM ",
            "correct horse battery",
            "  Ada Lovelace ",
        )
        .validate()
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.email, "ada@example.com");
        assert_eq!(valid.name, "Ada Lovelace");
        assert_eq!(valid.password, "correct horse battery");
    }

    #[test]
    fn bad_emails_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        for email in [
            "",
            "   ",
            "no-at-sign.example.com",
            "two@@example.com",
            "a@b@example.com",
            "@example.com",
            "ada@localhost",
            "ada@example.",
            "ada@.com",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            long.as_str(),
        ] {
            assert_eq!(
                refused_field(&sign_up(email, "correct horse battery", "Ada")),
                "email",
                "{email:?}"
            );
        }
    }

    #[test]
    fn passwords_are_counted_in_characters_and_must_not_be_the_email() {
        // Ten characters of two bytes each: long enough, although 20 bytes.
        assert!(sign_up("ada@example.com", "éééééééééé", "Ada")
            .validate()
            .is_ok());
        assert_eq!(
            refused_field(&sign_up("ada@example.com", "ééééééééé", "Ada")),
            "password"
        );
        assert!(sign_up("ada@example.com", &"x".repeat(128), "Ada")
            .validate()
            .is_ok());
        assert_eq!(
            refused_field(&sign_up("ada@example.com", &"x".repeat(129), "Ada")),
            "password"
        );
        assert_eq!(
            refused_field(&sign_up("Ada@Example.com", "ADA@example.com", "Ada")),
            "password"
        );
        // No composition rules: all lower-case letters are fine.
        assert!(sign_up("ada@example.com", "aaaaaaaaaa", "Ada")
            .validate()
            .is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            refused_field(&sign_up("ada@example.com", "correct horse", "   ")),
            "name"
        );
        assert_eq!(
            refused_field(&sign_up(
                "ada@example.com",
                "correct horse",
                &"n".repeat(101)
            )),
            "name"
        );
        assert_eq!(
            refused_field(&sign_up("ada@example.com", "correct horse", "Ada\u{0}")),
            "name"
        );
        assert!(
            sign_up("ada@example.com", "correct horse", &"n".repeat(100))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn errors_never_repeat_the_password() {
        let secret = "hunter2";
        let error = sign_up("ada@example.com", secret, "Ada")
            .validate()
            .err()
            .unwrap_or_else(|| panic!("a short password passed"));
        assert!(!error.detail.contains(secret), "{error}");
        let debug = format!("{:?}", sign_up("ada@example.com", secret, "Ada"));
        assert!(!debug.contains(secret), "{debug}");
    }

    #[test]
    fn log_in_refuses_only_what_cannot_be_credentials() {
        let log_in = |email: &str, password: &str| LogIn {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let valid = log_in(" Ada@Example.com", "short")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.email, "ada@example.com");
        assert_eq!(
            log_in("", "whatever")
                .validate()
                .err()
                .map(|e| e.parameter)
                .as_deref(),
            Some("email")
        );
        assert_eq!(
            log_in("ada@example.com", "")
                .validate()
                .err()
                .map(|e| e.parameter)
                .as_deref(),
            Some("password")
        );
        assert_eq!(
            log_in("ada@example.com", &"x".repeat(129))
                .validate()
                .err()
                .map(|e| e.parameter)
                .as_deref(),
            Some("password")
        );
    }
}
