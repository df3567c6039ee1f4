//! Fault injection: added latency, injected errors and aborted connections, for a route or a
//! whole service, so that the resilience of the system can be tried on purpose rather than
//! discovered in an outage.
//!
//! Entirely inert unless the service started with `--chaos` (`BRIGADE_CHAOS=true`): then, and
//! only then, [`crate::http::wrap_with`] puts the fault layer in the stack and serves the admin
//! API on the instance (the control plane's `brigade chaos` drives it):
//!
//! - `PUT /v1/chaos` with `{"rules": [{"route": "/v1/products", "latency_ms": 2000,
//!   "error_rate": 0.3, "abort_rate": 0.1}]}` replaces the rules;
//! - `GET /v1/chaos` shows them; `DELETE /v1/chaos` clears them.
//!
//! A rule's `route` is a path prefix matched on whole segments (`/v1/products` matches
//! `/v1/products/42`, not `/v1/productsx`); without one the rule covers the whole service. When
//! several rules match, the one with the longest prefix applies. A faulted request first waits
//! `latency_ms` (within its deadline: the chassis's deadline cuts the wait short with a 504, as a
//! slow dependency would), then is aborted with probability `abort_rate` (the connection closes
//! without an answer), else answered `503 injected-fault` with probability `error_rate`, else
//! served normally. Health, readiness, metrics and this admin API are never faulted, so that an
//! operator can always see the instance and turn the faults off.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::extract::Json;
use crate::metrics::{FaultLabels, Metrics};
use crate::problem::Problem;
use crate::validation::ValidationError;

/// The path of the chassis's chaos admin API ([`crate::routes::CHAOS`]).
pub const ADMIN_ROUTE: &str = crate::routes::CHAOS;

/// The most rules an instance holds.
pub const MAX_RULES: usize = 32;

/// The longest latency a rule may add, in milliseconds.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Path prefix of the faulted requests; none: every route of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Delay added before the request is served (or faulted), in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Probability (0..=1) that a request is answered `503 injected-fault`.
    #[serde(default)]
    pub error_rate: f64,
    /// Probability (0..=1) that a request's connection is closed without an answer.
    #[serde(default)]
    pub abort_rate: f64,
}

impl Rule {
    /// True when this rule covers requests to `path`.
    fn covers(&self, path: &str) -> bool {
        let Some(prefix) = &self.route else {
            return true;
        };
        match path.strip_prefix(prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
            None => false,
        }
    }

    /// How specific the rule is: the longer the prefix, the more (a whole-service rule is least).
    fn specificity(&self) -> usize {
        self.route.as_ref().map_or(0, |r| r.len() + 1)
    }
}

/// The rules of an instance, as the admin API reads and writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Checks every rule, naming the first bad field as the problem's `parameter`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.rules.len() > MAX_RULES {
            return Err(ValidationError::new(
                "rules",
                format!(
                    "at most {MAX_RULES} rules are allowed, got {}",
                    self.rules.len()
                ),
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(route) = &rule.route {
                if !route.starts_with('/') || route.len() > 512 {
                    return Err(ValidationError::new(
                        format!("rules[{i}].route"),
                        format!(
                            "route must be a path prefix starting with / (at most 512 characters), got `{route}`; leave it out to cover the whole service"
                        ),
                    ));
                }
            }
            if rule.latency_ms > MAX_LATENCY_MS {
                return Err(ValidationError::new(
                    format!("rules[{i}].latency_ms"),
                    format!(
                        "latency_ms must be at most {MAX_LATENCY_MS} (60 s), got {}",
                        rule.latency_ms
                    ),
                ));
            }
            for (name, rate) in [
                ("error_rate", rule.error_rate),
                ("abort_rate", rule.abort_rate),
            ] {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(ValidationError::new(
                        format!("rules[{i}].{name}"),
                        format!("{name} is a probability between 0 and 1, got {rate}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An instance's fault rules, shared by the fault layer and the admin API.
#[derive(Debug, Clone, Default)]
pub struct Chaos {
    rules: Arc<RwLock<Arc<[Rule]>>>,
}

/// What the fault layer does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Error,
    Abort,
}

impl Chaos {
    /// Fault injection with no rules: nothing is faulted until rules are set.
    pub fn new() -> Chaos {
        Chaos::default()
    }

    /// The current rules.
    pub fn rules(&self) -> Rules {
        let rules = self.snapshot();
        Rules {
            rules: rules.to_vec(),
        }
    }

    /// Replaces the rules after validating them.
    pub fn set(&self, rules: Rules) -> Result<(), ValidationError> {
        rules.validate()?;
        if let Ok(mut current) = self.rules.write() {
            *current = Arc::from(rules.rules);
        }
        Ok(())
    }

    /// Removes every rule.
    pub fn clear(&self) {
        if let Ok(mut current) = self.rules.write() {
            *current = Arc::from(Vec::new());
        }
    }

    fn snapshot(&self) -> Arc<[Rule]> {
        self.rules
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|_| Arc::from(Vec::new()))
    }

    /// The rule that applies to `path`: the most specific one covering it.
    fn rule_for(&self, path: &str) -> Option<Rule> {
        let rules = self.snapshot();
        let mut best: Option<&Rule> = None;
        for rule in rules.iter().filter(|r| r.covers(path)) {
            if best.is_none_or(|b| rule.specificity() > b.specificity()) {
                best = Some(rule);
            }
        }
        best.cloned()
    }

    /// The admin API: `GET`, `PUT` and `DELETE` on [`ADMIN_ROUTE`]. Reading the rules is open;
    /// setting and clearing them is the operator's (`brigade chaos`, with the operator
    /// credential, asks the control plane for the operator's identity).
    pub fn routes(&self) -> Router {
        let change = put(set_rules)
            .delete(clear_rules)
            .route_layer(crate::guard::callers(&[crate::identity::OPERATOR]));
        Router::new().route(
            ADMIN_ROUTE,
            get(show_rules).merge(change).with_state(self.clone()),
        )
    }
}

async fn show_rules(State(chaos): State<Chaos>) -> Json<Rules> {
    Json(chaos.rules())
}

async fn set_rules(State(chaos): State<Chaos>, Json(rules): Json<Rules>) -> Response {
    match chaos.set(rules) {
        Ok(()) => {
            let rules = chaos.rules();
            tracing::warn!(rules = rules.rules.len(), "chaos: fault rules set");
            Json(rules).into_response()
        }
        Err(invalid) => Problem::from(invalid).into_response(),
    }
}

async fn clear_rules(State(chaos): State<Chaos>) -> Json<Rules> {
    chaos.clear();
    tracing::warn!("chaos: fault rules cleared");
    Json(chaos.rules())
}

/// What the fault middleware needs; it is only in the stack when chaos is on.
#[derive(Clone)]
pub(crate) struct Faults {
    pub(crate) chaos: Chaos,
    pub(crate) metrics: Metrics,
}

/// The fault middleware (`axum::middleware::from_fn_with_state`): applies the rule covering the
/// request's path, if any, and counts what it injected.
pub(crate) async fn inject_faults(
    State(faults): State<Faults>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let rule = if crate::routes::is_exempt(path) {
        None
    } else {
        faults.chaos.rule_for(path)
    };
    let Some(rule) = rule else {
        return next.run(request).await;
    };
    let route: Arc<str> = Arc::from(
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str),
    );
    let count = |kind: &'static str| {
        faults
            .metrics
            .server
            .injected_faults
            .get_or_create(&FaultLabels {
                route: route.clone(),
                kind,
            })
            .inc();
    };
    if rule.latency_ms > 0 {
        count("latency");
        tokio::time::sleep(Duration::from_millis(rule.latency_ms)).await;
    }
    match roll(&rule) {
        Fault::Abort => {
            count("abort");
            aborted()
        }
        Fault::Error => {
            count("error");
            injected_error(&rule).into_response()
        }
        Fault::None => next.run(request).await,
    }
}

/// Draws the fault for one request: abort first, then error, each with its own probability.
fn roll(rule: &Rule) -> Fault {
    // `random` is in [0, 1): a rate of 0 never fires, a rate of 1 always does.
    if rule.abort_rate > 0.0 && rand::random::<f64>() < rule.abort_rate {
        Fault::Abort
    } else if rule.error_rate > 0.0 && rand::random::<f64>() < rule.error_rate {
        Fault::Error
    } else {
        Fault::None
    }
}

fn injected_error(rule: &Rule) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "injected-fault",
        "Injected fault",
        format!(
            "chaos: a fault rule for {} failed this request on purpose (error_rate {})",
            rule.route.as_deref().unwrap_or("the whole service"),
            rule.error_rate
        ),
    )
}

/// A response whose body fails before its first byte: hyper then closes the connection without
/// sending anything (the head is only buffered until the body's first frame), which the caller
/// sees as a connection closed mid-request — an abort, without a panic.
fn aborted() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "chaos: connection aborted on purpose",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: Option<&str>) -> Rule {
        Rule {
            route: route.map(str::to_owned),
            latency_ms: 0,
            error_rate: 0.0,
            abort_rate: 0.0,
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let products = rule(Some("/v1/products"));
        assert!(products.covers("/v1/products"));
        assert!(products.covers("/v1/products/42"));
        assert!(!products.covers("/v1/productsx"));
        assert!(!products.covers("/v1/orders"));
        assert!(rule(Some("/v1/")).covers("/v1/orders"));
        assert!(rule(None).covers("/anything"));
    }

    #[test]
    fn the_most_specific_rule_applies() {
        let chaos = Chaos::new();
        let mut specific = rule(Some("/v1/products"));
        specific.latency_ms = 5;
        chaos
            .set(Rules {
                rules: vec![rule(None), specific.clone()],
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chaos.rule_for("/v1/products/1"), Some(specific));
        assert_eq!(chaos.rule_for("/v1/orders"), Some(rule(None)));
        chaos.clear();
        assert_eq!(chaos.rule_for("/v1/orders"), None);
    }

    #[test]
    fn certain_and_impossible_rates_behave_as_such() {
        let mut always = rule(None);
        always.error_rate = 1.0;
        let never = rule(None);
        for _ in 0..1000 {
            assert_eq!(roll(&always), Fault::Error);
            assert_eq!(roll(&never), Fault::None);
        }
    }
}
