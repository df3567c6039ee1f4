//! Request faults: every instance's own fault rules (`/v1/chaos` on the instance, served by the
//! chassis when the service runs with `--chaos`), read and written from here.
//!
//! A change touches one field of one route's rule and keeps the rest: adding latency to a
//! service keeps its error rule, on that route or another one. Instances of a service each hold
//! their own rules, so every change is made on each of them.

use std::time::Duration;

use brigade_chassis::chaos::{Rule, Rules, ADMIN_ROUTE, MAX_LATENCY_MS};
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::Problem;
use bytes::Bytes;
use futures_util::future::join_all;
use http::{Method, StatusCode};
use serde::Serialize;

use brigade_chassis::identity::Identity;

use crate::credential::OperatorCredential;
use crate::system::SystemView;

/// Why a value or a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("`{0}` is not a rate: write a percentage (30%) or a fraction (0.3)")]
    NotARate(String),
    #[error("a rate is between 0% and 100%, got `{0}`")]
    RateOutOfRange(String),
    #[error("`{0}` is not a duration: write e.g. 2s or 150ms")]
    NotADuration(String),
    #[error("the added latency is at most {max} s, got `{given}`", max = MAX_LATENCY_MS / 1000)]
    LatencyTooLong { given: String },
    #[error("a route is a path prefix starting with /, e.g. /v1/products, got `{0}`")]
    NotARoute(String),
}

/// A probability from `30%` or `0.3`: between 0 and 1, nothing else.
pub fn parse_rate(text: &str) -> Result<f64, InvalidValue> {
    let trimmed = text.trim();
    let (number, scale) = match trimmed.strip_suffix('%') {
        Some(percent) => (percent.trim(), 100.0),
        None => (trimmed, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| InvalidValue::NotARate(text.to_owned()))?;
    if !value.is_finite() {
        return Err(InvalidValue::NotARate(text.to_owned()));
    }
    let rate = value / scale;
    if !(0.0..=1.0).contains(&rate) {
        return Err(InvalidValue::RateOutOfRange(text.to_owned()));
    }
    Ok(rate)
}

/// An added latency: a humantime duration (`2s`, `150ms`) up to the chassis's maximum.
pub fn parse_delay(text: &str) -> Result<Duration, InvalidValue> {
    let delay = humantime::parse_duration(text.trim())
        .map_err(|_| InvalidValue::NotADuration(text.to_owned()))?;
    if delay > Duration::from_millis(MAX_LATENCY_MS) {
        return Err(InvalidValue::LatencyTooLong {
            given: text.to_owned(),
        });
    }
    Ok(delay)
}

/// A route prefix as the chassis takes it.
pub fn parse_route(text: &str) -> Result<String, InvalidValue> {
    if text.starts_with('/') && text.len() <= 512 {
        Ok(text.to_owned())
    } else {
        Err(InvalidValue::NotARoute(text.to_owned()))
    }
}

/// One field of one route's rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    Latency(Duration),
    Errors(f64),
    Abort(f64),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Latency(delay) => write!(f, "+{} latency", humantime::format_duration(*delay)),
            Change::Errors(rate) => write!(f, "{}% errors", percent(*rate)),
            Change::Abort(rate) => write!(f, "{}% aborts", percent(*rate)),
        }
    }
}

fn percent(rate: f64) -> String {
    let value = rate * 100.0;
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round())
    } else {
        format!("{value:.1}")
    }
}

fn is_inert(rule: &Rule) -> bool {
    rule.latency_ms == 0 && rule.error_rate == 0.0 && rule.abort_rate == 0.0
}

/// `rules` with `change` made to the rule of `route` (created if needed); a rule left with no
/// fault at all is dropped, so `latency SERVICE 0s` undoes a latency.
pub fn merge(mut rules: Rules, route: Option<&str>, change: Change) -> Rules {
    let index = match rules.rules.iter().position(|r| r.route.as_deref() == route) {
        Some(index) => index,
        None => {
            rules.rules.push(Rule {
                route: route.map(str::to_owned),
                latency_ms: 0,
                error_rate: 0.0,
                abort_rate: 0.0,
            });
            rules.rules.len() - 1
        }
    };
    let rule = &mut rules.rules[index];
    match change {
        Change::Latency(delay) => {
            rule.latency_ms = u64::try_from(delay.as_millis()).unwrap_or(MAX_LATENCY_MS)
        }
        Change::Errors(rate) => rule.error_rate = rate,
        Change::Abort(rate) => rule.abort_rate = rate,
    }
    rules.rules.retain(|r| !is_inert(r));
    rules
}

/// A rule for people: `/v1/products: +2s latency, 30% errors`.
pub fn describe_rule(rule: &Rule) -> String {
    let mut faults = Vec::new();
    if rule.latency_ms > 0 {
        faults.push(Change::Latency(Duration::from_millis(rule.latency_ms)).to_string());
    }
    if rule.error_rate > 0.0 {
        faults.push(Change::Errors(rule.error_rate).to_string());
    }
    if rule.abort_rate > 0.0 {
        faults.push(Change::Abort(rule.abort_rate).to_string());
    }
    format!(
        "{}: {}",
        rule.route.as_deref().unwrap_or("every route"),
        faults.join(", ")
    )
}

/// One running instance that can hold rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub service: String,
    /// The supervisor's slot, or the instance id of an instance started elsewhere.
    pub slot: String,
    pub address: String,
}

/// Why request faults could not be read or set.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error("there is no service `{service}`; the system runs {known}")]
    UnknownService { service: String, known: String },
    #[error("{service} has no running instance with an address right now; try again shortly")]
    NoInstance { service: String },
    #[error(
        "{slot} ({address}) has no fault injection: the system was not started with \
         `brigade up --chaos`; restart it with --chaos"
    )]
    NotEnabled { slot: String, address: String },
    #[error("{slot} ({address}) refused the rules: {detail}")]
    Refused {
        slot: String,
        address: String,
        detail: String,
    },
    #[error("cannot reach {slot} at {address} (is it paused?): {cause}")]
    Unreachable {
        slot: String,
        address: String,
        cause: String,
    },
}

/// The instances of `service` (every service when `None`) that have an address.
pub fn targets(view: &SystemView, service: Option<&str>) -> Result<Vec<Target>, FaultsError> {
    if let Some(name) = service {
        if !view.services.iter().any(|s| s.name == name) {
            return Err(unknown_service(view, name));
        }
    }
    let found: Vec<Target> = view
        .services
        .iter()
        .filter(|s| service.is_none_or(|name| s.name == name))
        .flat_map(|s| {
            s.instances.iter().filter_map(|i| {
                Some(Target {
                    service: s.name.clone(),
                    slot: i.slot.clone().or_else(|| i.instance_id.clone())?,
                    address: i.address.clone()?,
                })
            })
        })
        .collect();
    match service {
        Some(name) if found.is_empty() => Err(FaultsError::NoInstance {
            service: name.to_owned(),
        }),
        _ => Ok(found),
    }
}

/// The error for a service the system does not run, naming those it does.
pub fn unknown_service(view: &SystemView, service: &str) -> FaultsError {
    let known: Vec<&str> = view.services.iter().map(|s| s.name.as_str()).collect();
    FaultsError::UnknownService {
        service: service.to_owned(),
        known: known.join(", "),
    }
}

/// Reads and writes instances' rules.
#[derive(Debug, Clone)]
pub struct RulesClient {
    http: PlainClient,
    /// The operator's identity, which an instance demands before it sets or clears its rules.
    operator: Option<Identity>,
}

impl RulesClient {
    pub fn new(http: PlainClient) -> RulesClient {
        RulesClient {
            http,
            operator: None,
        }
    }

    /// The same client, setting and clearing rules as the operator: `credential` proven to the
    /// control plane at `control_url` for the operator's identity.
    pub fn as_operator(
        mut self,
        control_url: &str,
        credential: &OperatorCredential,
    ) -> RulesClient {
        self.operator = Some(crate::operator_presenter(control_url, credential));
        self
    }

    /// The `Brigade-Identity` header for a change to `target`, when this client acts as the
    /// operator.
    async fn identity(&self, target: &Target) -> Result<Option<String>, FaultsError> {
        let Some(operator) = &self.operator else {
            return Ok(None);
        };
        operator
            .token_for(&target.service)
            .await
            .map(|token| Some(token.to_string()))
            .map_err(|e| refused(target, e.to_string()))
    }

    async fn call(
        &self,
        target: &Target,
        method: Method,
        body: Option<&Rules>,
    ) -> Result<Rules, FaultsError> {
        let url = format!("http://{}{ADMIN_ROUTE}", target.address);
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| refused(target, e.to_string()))?
            .map(Bytes::from);
        let identity = match method {
            Method::GET => None,
            _ => self.identity(target).await?,
        };
        let mut request = http::Request::builder().method(method).uri(&url);
        if let Some(token) = identity {
            request = request.header(brigade_chassis::identity::HEADER, token);
        }
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(http_body_util::Full::new(body.unwrap_or_default()))
            .map_err(|e| refused(target, e.to_string()))?;
        let answer =
            self.http
                .send_request(request)
                .await
                .map_err(|e| FaultsError::Unreachable {
                    slot: target.slot.clone(),
                    address: target.address.clone(),
                    cause: e.to_string(),
                })?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(FaultsError::NotEnabled {
                slot: target.slot.clone(),
                address: target.address.clone(),
            });
        }
        if !answer.status.is_success() {
            let detail = serde_json::from_slice::<Problem>(&answer.body)
                .map(|p| p.detail)
                .unwrap_or_else(|_| format!("it answered {}", answer.status));
            return Err(refused(target, detail));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| refused(target, format!("unreadable answer: {e}")))
    }

    /// The instance's rules.
    pub async fn rules(&self, target: &Target) -> Result<Rules, FaultsError> {
        self.call(target, Method::GET, None).await
    }

    /// Makes `change` to the instance's rule for `route`, keeping its other rules and fields.
    pub async fn change(
        &self,
        target: &Target,
        route: Option<&str>,
        change: Change,
    ) -> Result<Rules, FaultsError> {
        let current = self.rules(target).await?;
        let rules = merge(current, route, change);
        self.call(target, Method::PUT, Some(&rules)).await
    }

    /// Removes every rule of the instance.
    pub async fn clear(&self, target: &Target) -> Result<(), FaultsError> {
        self.call(target, Method::DELETE, None).await.map(drop)
    }

    /// Makes `change` on every target at once; the first failure, if any, after all were tried.
    pub async fn change_all(
        &self,
        targets: &[Target],
        route: Option<&str>,
        change: Change,
    ) -> Result<(), FaultsError> {
        first_error(join_all(targets.iter().map(|t| self.change(t, route, change))).await)
    }

    /// Clears every target at once; the first failure, if any, after all were tried.
    pub async fn clear_all(&self, targets: &[Target]) -> Result<(), FaultsError> {
        first_error(join_all(targets.iter().map(|t| self.clear(t))).await)
    }
}

fn refused(target: &Target, detail: String) -> FaultsError {
    FaultsError::Refused {
        slot: target.slot.clone(),
        address: target.address.clone(),
        detail,
    }
}

/// The most telling error: "not started with --chaos" explains the others.
fn first_error<T>(results: Vec<Result<T, FaultsError>>) -> Result<(), FaultsError> {
    let mut errors: Vec<FaultsError> = results.into_iter().filter_map(Result::err).collect();
    if let Some(at) = errors
        .iter()
        .position(|e| matches!(e, FaultsError::NotEnabled { .. }))
    {
        return Err(errors.swap_remove(at));
    }
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_percentages_or_fractions_between_0_and_1() {
        assert_eq!(parse_rate("30%"), Ok(0.3));
        assert_eq!(parse_rate("0.3"), Ok(0.3));
        assert_eq!(parse_rate(" 100 % "), Ok(1.0));
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert_eq!(parse_rate("12.5%"), Ok(0.125));
        // `30` alone is neither 30% nor a fraction: refused rather than guessed.
        for out_of_range in ["130%", "-5%", "30"] {
            assert_eq!(
                parse_rate(out_of_range),
                Err(InvalidValue::RateOutOfRange(out_of_range.into()))
            );
        }
        for not_a_rate in ["lots", "NaN"] {
            assert_eq!(
                parse_rate(not_a_rate),
                Err(InvalidValue::NotARate(not_a_rate.into()))
            );
        }
        assert!(parse_rate("130%")
            .unwrap_err()
            .to_string()
            .contains("between 0% and 100%"));
    }

    #[test]
    fn delays_are_durations_up_to_a_minute() {
        assert_eq!(parse_delay("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_delay("150ms"), Ok(Duration::from_millis(150)));
        assert!(matches!(
            parse_delay("2 minutes"),
            Err(InvalidValue::LatencyTooLong { .. })
        ));
        assert!(matches!(
            parse_delay("soon"),
            Err(InvalidValue::NotADuration(_))
        ));
    }

    #[test]
    fn a_change_keeps_the_other_rules_and_fields() {
        let rules = merge(Rules::default(), Some("/v1/orders"), Change::Errors(0.3));
        let rules = merge(rules, None, Change::Latency(Duration::from_secs(2)));
        let rules = merge(rules, Some("/v1/orders"), Change::Abort(0.1));
        assert_eq!(
            rules.rules,
            vec![
                Rule {
                    route: Some("/v1/orders".into()),
                    latency_ms: 0,
                    error_rate: 0.3,
                    abort_rate: 0.1
                },
                Rule {
                    route: None,
                    latency_ms: 2000,
                    error_rate: 0.0,
                    abort_rate: 0.0
                },
            ]
        );
        assert_eq!(
            describe_rule(&rules.rules[0]),
            "/v1/orders: 30% errors, 10% aborts"
        );
        assert_eq!(describe_rule(&rules.rules[1]), "every route: +2s latency");
        // Setting the only fault of a rule to zero removes the rule.
        let rules = merge(rules, None, Change::Latency(Duration::ZERO));
        assert_eq!(rules.rules.len(), 1);
    }
}
