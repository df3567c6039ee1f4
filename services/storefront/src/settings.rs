//! The storefront's own flags: the session key, whether cookies are Secure, and how long pages
//! wait for their optional parts.

use std::time::Duration;

use axum_extra::extract::cookie::Key;
use base64::Engine as _;
use brigade_chassis::service::optional_part_cap;

use crate::session::Sessions;

/// The bytes of a session key: 64 (32 to sign, 32 to encrypt).
const KEY_BYTES: usize = 64;

/// The storefront's flags, next to the chassis' own.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// The key that encrypts and signs session cookies: 64 random bytes in base64 (e.g.
    /// `openssl rand -base64 64`). Without it a key is generated at start, so sessions end when
    /// the storefront restarts, and several instances would not read each other's cookies.
    #[arg(long, env = "BRIGADE_STOREFRONT_COOKIE_KEY", value_parser = CookieKey::parse)]
    pub cookie_key: Option<CookieKey>,

    /// Mark the session cookie Secure: set it when shoppers reach the storefront over TLS (a
    /// TLS-terminating proxy in front). A request that says `X-Forwarded-Proto: https` gets a
    /// Secure cookie either way.
    #[arg(long, env = "BRIGADE_STOREFRONT_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// The longest a page waits for recommendations ("bought together", popular products);
    /// past it the page is shown without them.
    #[arg(
        long,
        env = "BRIGADE_STOREFRONT_RECOMMENDATIONS_TIMEOUT",
        default_value = "300ms",
        value_parser = optional_part_cap
    )]
    pub recommendations_timeout: Duration,

    /// The longest the product page waits for stock; past it the page says "availability
    /// unknown".
    #[arg(
        long,
        env = "BRIGADE_STOREFRONT_INVENTORY_TIMEOUT",
        default_value = "500ms",
        value_parser = optional_part_cap
    )]
    pub inventory_timeout: Duration,

    /// How long the currency service's table of rates is reused for pages before it is asked
    /// again (0 asks on every page). Rates change when an operator replaces the table: pages
    /// show the new ones after at most this; a checkout always converts at the rates in force.
    #[arg(
        long,
        env = "BRIGADE_STOREFRONT_CURRENCY_RATES_TTL",
        default_value = "10s",
        value_parser = humantime::parse_duration
    )]
    pub currency_rates_ttl: Duration,

    /// Log-in and sign-up per address and account, checkout per shopper.
    #[command(flatten)]
    pub limits: brigade_chassis::ratelimit::RateLimitArgs,
}

impl Settings {
    /// How this instance seals sessions: the given key, or one generated now.
    pub fn sessions(&self) -> Sessions {
        let key = match &self.cookie_key {
            Some(key) => key.0.clone(),
            None => {
                tracing::info!(
                    "no --cookie-key: sessions are sealed with a key generated at start and \
                     end when this instance stops"
                );
                Key::generate()
            }
        };
        Sessions::new(key, self.secure_cookies)
    }
}

/// A session key from the command line. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct CookieKey(pub Key);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

impl CookieKey {
    /// 64 bytes in standard base64.
    pub fn parse(text: &str) -> Result<CookieKey, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "the cookie key must be base64 (openssl rand -base64 64)".to_owned())?;
        if bytes.len() < KEY_BYTES {
            return Err(format!(
                "the cookie key must be at least {KEY_BYTES} bytes, got {}",
                bytes.len()
            ));
        }
        Ok(CookieKey(Key::from(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The storefront's own settings from `flags`, or clap's message.
    fn parse(flags: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["brigade-storefront"];
        argv.extend_from_slice(flags);
        match brigade_chassis::service::Flags::<crate::StorefrontService>::try_parse_from(argv) {
            Ok(flags) => Ok(flags.own),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn defaults_generate_a_key_and_cap_the_optional_parts() {
        let settings = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(settings.cookie_key.is_none());
        assert!(!settings.secure_cookies);
        assert_eq!(settings.recommendations_timeout, Duration::from_millis(300));
        assert_eq!(settings.inventory_timeout, Duration::from_millis(500));
    }

    #[test]
    fn a_key_must_be_64_bytes_of_base64() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        assert!(parse(&["--cookie-key", &key]).is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let error = parse(&["--cookie-key", &short]).err().unwrap_or_default();
        assert!(error.contains("at least 64 bytes"), "{error}");
        let error = parse(&["--cookie-key", "not base64!"])
            .err()
            .unwrap_or_default();
        assert!(error.contains("base64"), "{error}");
        let error = parse(&["--inventory-timeout", "1m"])
            .err()
            .unwrap_or_default();
        assert!(error.contains("from 1ms to 10s"), "{error}");
    }
}
