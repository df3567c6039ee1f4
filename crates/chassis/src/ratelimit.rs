//! Rate limits at the public edges (gateway and storefront), against credential stuffing and the
//! automation of sensitive flows: log-in and sign-up limited per client address and per account
//! (the e-mail), checkout per shopper.
//!
//! Each limit is a keyed GCRA limiter from `governor` (`N/PERIOD`: a burst of N, refilled at N per
//! PERIOD). A refused request is answered `429 rate-limited` with `Retry-After` (the whole seconds
//! until the key may try again) and counted in `http_server_rate_limited_requests{limit}`.
//!
//! The keyed state is bounded: keys whose state is the same as a fresh key's are swept (every
//! [`SWEEP_EVERY`], and at once when a limit holds [`RateLimitArgs::rate_limit_max_keys`]), and
//! while a limit is still full after a sweep, keys it has not seen share one overflow bucket, so
//! a flood of new addresses costs bounded memory and is itself limited. Limits are per instance:
//! with N instances behind a balancer a key gets up to N times the rate, which is the price of
//! keeping the edges free of shared state.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::{header, HeaderValue, StatusCode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{LimitLabels, Metrics};
use crate::problem::Problem;

/// How often a limit forgets the keys that are back to a fresh state.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// The least time between two sweeps prompted by a full table.
const FULL_SWEEP_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The key every unseen key shares while a limit's table is full.
const OVERFLOW_KEY: &str = "\u{0}overflow";
/// The longest account key kept (an e-mail address has at most 254 characters).
const MAX_ACCOUNT_KEY_CHARS: usize = 254;

/// A rate: a burst of `count`, refilled at `count` per `period`. Written `N/PERIOD` (`600/1m`,
/// `5/1h`); `off` disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl Rate {
    /// `N/PERIOD` (a humantime period), or `off` (`None`).
    pub fn parse(text: &str) -> Result<Option<Rate>, String> {
        if text.trim() == "off" {
            return Ok(None);
        }
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a rate such as 600/1m, or off"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: the count before / must be a whole number"))?;
        let count = NonZeroU32::new(count)
            .ok_or_else(|| format!("`{text}`: the count must be at least 1 (or say off)"))?;
        let period = humantime::parse_duration(period.trim())
            .map_err(|e| format!("`{text}`: the period after / is not a duration: {e}"))?;
        if period < Duration::from_millis(1) || period > Duration::from_secs(24 * 3600) {
            return Err(format!("`{text}`: the period must be from 1ms to 24h"));
        }
        Ok(Some(Rate { count, period }))
    }

    fn quota(self) -> Quota {
        // GCRA: one request every period/count, up to `count` at once.
        let every = (self.period / self.count.get()).max(Duration::from_nanos(1));
        Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            humantime::format_duration(self.period)
        )
    }
}

/// A limit's setting: a rate, or off (`None`). A type of its own rather than an `Option`, which
/// clap would read as "the flag may be absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Rate>);

fn parse_limit(text: &str) -> Result<Limit, String> {
    Rate::parse(text).map(Limit)
}

/// The edges' rate limits, as flags (both the gateway and the storefront take them). The
/// defaults stop credential stuffing and scripted sign-ups from one address or against one
/// account, and stay well above what `brigade load` and the benches send from one machine (one
/// address): 40 to 500 shoppers signed up and logged in at once, and up to ~10 checkouts a
/// second per shopper. A deployment facing real shoppers lowers `--rate-limit-checkout`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RateLimitArgs {
    /// Log-in attempts per client address (`N/PERIOD`, or off).
    #[arg(long, env = "BRIGADE_RATE_LIMIT_LOG_IN_PER_ADDRESS", default_value = "600/1m", value_parser = parse_limit)]
    pub rate_limit_log_in_per_address: Limit,
    /// Log-in attempts per account (the e-mail given), whatever the address: the limit that
    /// stops password guessing against one account from many addresses.
    #[arg(long, env = "BRIGADE_RATE_LIMIT_LOG_IN_PER_ACCOUNT", default_value = "10/1m", value_parser = parse_limit)]
    pub rate_limit_log_in_per_account: Limit,
    /// Sign-ups per client address.
    #[arg(long, env = "BRIGADE_RATE_LIMIT_SIGN_UP_PER_ADDRESS", default_value = "600/1m", value_parser = parse_limit)]
    pub rate_limit_sign_up_per_address: Limit,
    /// Sign-ups per account (the e-mail given): probing one address for an account.
    #[arg(long, env = "BRIGADE_RATE_LIMIT_SIGN_UP_PER_ACCOUNT", default_value = "5/1m", value_parser = parse_limit)]
    pub rate_limit_sign_up_per_account: Limit,
    /// Checkouts per shopper (the signed-in user).
    #[arg(long, env = "BRIGADE_RATE_LIMIT_CHECKOUT", default_value = "1200/1m", value_parser = parse_limit)]
    pub rate_limit_checkout: Limit,
    /// The most keys each limit remembers; past it, new keys share one bucket until a sweep
    /// frees room. Bounds the limits' memory (about 100 bytes a key).
    #[arg(long, env = "BRIGADE_RATE_LIMIT_MAX_KEYS", default_value_t = 100_000)]
    pub rate_limit_max_keys: usize,
}

impl Default for RateLimitArgs {
    /// The flags' defaults (a test holds them equal).
    fn default() -> Self {
        let rate = |count: u32, period: u64| {
            Limit(NonZeroU32::new(count).map(|count| Rate {
                count,
                period: Duration::from_secs(period),
            }))
        };
        RateLimitArgs {
            rate_limit_log_in_per_address: rate(600, 60),
            rate_limit_log_in_per_account: rate(10, 60),
            rate_limit_sign_up_per_address: rate(600, 60),
            rate_limit_sign_up_per_account: rate(5, 60),
            rate_limit_checkout: rate(1200, 60),
            rate_limit_max_keys: 100_000,
        }
    }
}

/// A request refused by a limit: how long until its key may try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts ({limit}); try again in {} s", retry_after_seconds(*.retry_after))]
pub struct RateLimited {
    /// Which limit refused (`log_in_per_address`, …), as the metric's label says it.
    pub limit: &'static str,
    pub retry_after: Duration,
}

/// Whole seconds, rounded up, at least 1: `Retry-After` has no fractions.
fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

impl RateLimited {
    /// The `Retry-After` value, in whole seconds.
    pub fn retry_after_seconds(&self) -> u64 {
        retry_after_seconds(self.retry_after)
    }

    /// `response` told when to come back.
    pub fn stamp(&self, mut response: Response) -> Response {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_seconds()),
        );
        response
    }
}

impl From<&RateLimited> for Problem {
    fn from(limited: &RateLimited) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!(
                "too many attempts; try again in {} s",
                limited.retry_after_seconds()
            ),
        )
        .with("retry_after", limited.retry_after_seconds())
    }
}

impl IntoResponse for RateLimited {
    /// `429 rate-limited` problem+json with `Retry-After`.
    fn into_response(self) -> Response {
        self.stamp(Problem::from(&self).into_response())
    }
}

/// The answer of a rate-limited route, for its OpenAPI document
/// (`responses(..., RateLimitedProblem)`).
#[derive(utoipa::IntoResponses)]
pub enum RateLimitedProblem {
    #[response(
        status = 429,
        description = "rate-limited: too many attempts from this address, for this account or \
            by this shopper; retry after `Retry-After` seconds",
        headers(("Retry-After" = u64, description = "Seconds until the next attempt may succeed"))
    )]
    RateLimited(Problem),
}

/// One keyed limit, bounded in memory.
struct KeyedLimit {
    name: &'static str,
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    max_keys: usize,
    started: Instant,
    /// Milliseconds since `started` of the last sweep.
    last_sweep_ms: AtomicU64,
    refused: Counter,
    keys: Gauge,
}

impl KeyedLimit {
    fn new(name: &'static str, rate: Rate, max_keys: usize, metrics: &LimitMetrics) -> Self {
        let labels = LimitLabels { limit: name };
        KeyedLimit {
            name,
            limiter: DefaultKeyedRateLimiter::dashmap(rate.quota()),
            clock: DefaultClock::default(),
            max_keys: max_keys.max(1),
            started: Instant::now(),
            last_sweep_ms: AtomicU64::new(0),
            refused: metrics.refused.get_or_create(&labels).clone(),
            keys: metrics.keys.get_or_create(&labels).clone(),
        }
    }

    fn check(&self, key: &str) -> Result<(), RateLimited> {
        self.sweep_if_due();
        let key = if self.limiter.len() >= self.max_keys {
            // Full even after a sweep: unseen keys are not remembered one by one. (A key that
            // is remembered also lands here: it loses its own bucket only while the table is
            // full of keys that are themselves being limited.)
            OVERFLOW_KEY.to_owned()
        } else {
            key.to_owned()
        };
        self.limiter.check_key(&key).map_err(|not_until| {
            self.refused.inc();
            RateLimited {
                limit: self.name,
                retry_after: not_until.wait_time_from(self.clock.now()),
            }
        })
    }

    /// Forgets the keys whose state is a fresh key's, every [`SWEEP_EVERY`], or sooner (at most
    /// every [`FULL_SWEEP_MIN_INTERVAL`]) when the table is full.
    fn sweep_if_due(&self) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        let since = Duration::from_millis(now_ms.saturating_sub(last));
        let full = self.limiter.len() >= self.max_keys;
        let due = since >= SWEEP_EVERY || (full && since >= FULL_SWEEP_MIN_INTERVAL);
        // One caller sweeps; the others go on.
        if due
            && self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.keys
            .set(i64::try_from(self.limiter.len()).unwrap_or(i64::MAX));
    }
}

/// The limits' instruments.
struct LimitMetrics {
    refused: Family<LimitLabels, Counter>,
    keys: Family<LimitLabels, Gauge>,
}

/// The edge's limits. Cheap to clone; one per instance.
#[derive(Clone)]
pub struct EdgeLimits {
    inner: Arc<Limits>,
}

struct Limits {
    log_in_per_address: Option<KeyedLimit>,
    log_in_per_account: Option<KeyedLimit>,
    sign_up_per_address: Option<KeyedLimit>,
    sign_up_per_account: Option<KeyedLimit>,
    checkout: Option<KeyedLimit>,
}

impl std::fmt::Debug for EdgeLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeLimits").finish_non_exhaustive()
    }
}

impl EdgeLimits {
    /// The limits `args` set, counted in `metrics`.
    pub fn new(args: &RateLimitArgs, metrics: &Metrics) -> EdgeLimits {
        let instruments = LimitMetrics {
            refused: metrics.server.rate_limited.clone(),
            keys: metrics.server.rate_limit_keys.clone(),
        };
        let limit = |name, Limit(rate): Limit| {
            rate.map(|rate| KeyedLimit::new(name, rate, args.rate_limit_max_keys, &instruments))
        };
        EdgeLimits {
            inner: Arc::new(Limits {
                log_in_per_address: limit("log_in_per_address", args.rate_limit_log_in_per_address),
                log_in_per_account: limit("log_in_per_account", args.rate_limit_log_in_per_account),
                sign_up_per_address: limit(
                    "sign_up_per_address",
                    args.rate_limit_sign_up_per_address,
                ),
                sign_up_per_account: limit(
                    "sign_up_per_account",
                    args.rate_limit_sign_up_per_account,
                ),
                checkout: limit("checkout_per_shopper", args.rate_limit_checkout),
            }),
        }
    }

    /// A log-in attempt from `address` for the account `email`.
    pub fn log_in(&self, address: &ClientAddress, email: &str) -> Result<(), RateLimited> {
        check(&self.inner.log_in_per_address, &address.key())?;
        check(&self.inner.log_in_per_account, &account_key(email))
    }

    /// A sign-up from `address` for the account `email`.
    pub fn sign_up(&self, address: &ClientAddress, email: &str) -> Result<(), RateLimited> {
        check(&self.inner.sign_up_per_address, &address.key())?;
        check(&self.inner.sign_up_per_account, &account_key(email))
    }

    /// A checkout by the shopper `user_id`.
    pub fn checkout(&self, user_id: uuid::Uuid) -> Result<(), RateLimited> {
        check(&self.inner.checkout, &user_id.to_string())
    }
}

fn check(limit: &Option<KeyedLimit>, key: &str) -> Result<(), RateLimited> {
    limit.as_ref().map_or(Ok(()), |limit| limit.check(key))
}

/// An account as a limit's key: the e-mail as the users service compares it (trimmed, lower
/// case), cut to the longest address, so that a huge body makes no huge key.
fn account_key(email: &str) -> String {
    email
        .trim()
        .chars()
        .take(MAX_ACCOUNT_KEY_CHARS)
        .collect::<String>()
        .to_lowercase()
}

/// The address a request came from: the peer of its connection (the chassis serves with
/// connection info). An IPv6 peer is keyed by its /64, the block one host usually holds.
/// Forwarded headers are not read: a client could set them to anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// From a request's extensions.
    pub fn of(extensions: &http::Extensions) -> ClientAddress {
        ClientAddress(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        )
    }

    fn key(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    format!("{}/64", std::net::Ipv6Addr::from(segments))
                }
            },
            // Served without a socket (in-process tests): one shared key.
            None => "in-process".to_owned(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress::of(&parts.extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(args: RateLimitArgs) -> (EdgeLimits, Metrics) {
        let metrics = Metrics::new();
        (EdgeLimits::new(&args, &metrics), metrics)
    }

    fn address(text: &str) -> ClientAddress {
        ClientAddress(Some(text.parse().unwrap()))
    }

    fn tight() -> RateLimitArgs {
        let per_hour = |count| {
            Limit(Some(Rate {
                count: NonZeroU32::new(count).unwrap(),
                period: Duration::from_secs(3600),
            }))
        };
        RateLimitArgs {
            rate_limit_log_in_per_address: per_hour(5),
            rate_limit_log_in_per_account: per_hour(3),
            rate_limit_sign_up_per_address: per_hour(2),
            rate_limit_sign_up_per_account: Limit(None),
            rate_limit_checkout: per_hour(2),
            rate_limit_max_keys: 100,
        }
    }

    #[test]
    fn rates_are_read_as_count_per_period_or_off() {
        assert_eq!(
            Rate::parse("600/1m"),
            Ok(Some(Rate {
                count: NonZeroU32::new(600).unwrap(),
                period: Duration::from_secs(60)
            }))
        );
        assert_eq!(Rate::parse("off"), Ok(None));
        for bad in ["600", "0/1m", "x/1m", "5/soon", "5/0s", "5/2days"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            limits: RateLimitArgs,
        }
        let parsed = Flags::try_parse_from(["edge"]).unwrap();
        assert_eq!(parsed.limits, RateLimitArgs::default());
        let parsed = Flags::try_parse_from(["edge", "--rate-limit-checkout", "off"]).unwrap();
        assert_eq!(parsed.limits.rate_limit_checkout, Limit(None));
    }

    #[test]
    fn an_account_is_limited_whatever_address_guesses_its_password() {
        let (limits, metrics) = limits(tight());
        let victim = "Victim@Example.com";
        for n in 0..3 {
            let from = address(&format!("10.0.0.{n}"));
            assert_eq!(limits.log_in(&from, victim), Ok(()));
        }
        // A fourth guess from yet another address, the e-mail written differently.
        let refused = limits
            .log_in(&address("10.0.0.9"), " victim@example.com")
            .unwrap_err();
        assert_eq!(refused.limit, "log_in_per_account");
        assert!(refused.retry_after_seconds() >= 1);
        // Another account from the same addresses is not affected.
        assert_eq!(
            limits.log_in(&address("10.0.0.1"), "other@example.com"),
            Ok(())
        );
        let scraped = metrics.encode();
        assert!(
            scraped.contains(
                r#"http_server_rate_limited_requests_total{limit="log_in_per_account"} 1"#
            ),
            "{scraped}"
        );
    }

    #[test]
    fn an_address_is_limited_whatever_accounts_it_tries() {
        let (limits, _) = limits(tight());
        let from = address("192.0.2.7");
        for n in 0..5 {
            assert_eq!(limits.log_in(&from, &format!("u{n}@example.com")), Ok(()));
        }
        let refused = limits.log_in(&from, "u9@example.com").unwrap_err();
        assert_eq!(refused.limit, "log_in_per_address");
        // Sign-up has its own budget for the same address.
        assert_eq!(limits.sign_up(&from, "new@example.com"), Ok(()));
    }

    #[test]
    fn ipv6_hosts_are_limited_by_their_64_block() {
        let (limits, _) = limits(tight());
        assert_eq!(limits.sign_up(&address("2001:db8::1"), "a@x.io"), Ok(()));
        assert_eq!(limits.sign_up(&address("2001:db8::2"), "b@x.io"), Ok(()));
        let refused = limits
            .sign_up(&address("2001:db8::ffff:3"), "c@x.io")
            .unwrap_err();
        assert_eq!(refused.limit, "sign_up_per_address");
        assert_eq!(
            limits.sign_up(&address("2001:db8:0:1::1"), "d@x.io"),
            Ok(())
        );
    }

    #[test]
    fn checkouts_are_limited_per_shopper_and_answered_429_with_retry_after() {
        let (limits, _) = limits(tight());
        let (ada, bob) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        assert_eq!(limits.checkout(ada), Ok(()));
        assert_eq!(limits.checkout(ada), Ok(()));
        let refused = limits.checkout(ada).unwrap_err();
        assert_eq!(limits.checkout(bob), Ok(()));
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        // Two an hour: the next place frees in about half an hour.
        assert!((1700..=1800).contains(&retry), "{retry}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::problem::CONTENT_TYPE
        );
    }

    #[test]
    fn a_flood_of_new_addresses_is_held_in_bounded_memory_and_still_limited() {
        let mut args = tight();
        args.rate_limit_max_keys = 50;
        let (limits, metrics) = limits(args);
        let mut refused = 0;
        for n in 0..5000u32 {
            let from = address(&format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255));
            if limits.log_in(&from, &format!("u{n}@example.com")).is_err() {
                refused += 1;
            }
        }
        let held = limits
            .inner
            .log_in_per_address
            .as_ref()
            .map_or(0, |l| l.limiter.len());
        // The table holds its bound (plus the overflow bucket), and past it the flood shares
        // one bucket of five.
        assert!(held <= 51, "{held}");
        assert!(refused >= 5000 - 50 - 5 - 10, "{refused}");
        assert!(metrics.encode().contains("http_server_rate_limit_keys"));
    }

    #[test]
    fn an_absent_limit_never_refuses() {
        let (limits, _) = limits(tight());
        for n in 0..20 {
            assert_eq!(
                limits.sign_up(&address(&format!("10.1.0.{n}")), "same@example.com"),
                Ok(())
            );
        }
    }
}
