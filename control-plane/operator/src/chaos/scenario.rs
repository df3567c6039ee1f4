//! Scenario files: a schedule of faults, validated whole before anything starts.
//!
//! ```toml
//! duration = "20s"
//!
//! [[step]]
//! at = "2s"
//! latency = { service = "recommendations", delay = "2s" }   # route = "/v1/…" optional
//!
//! [[step]]
//! at = "5s"
//! kill = { service = "orders", instance = 1 }               # pause, resume: the same shape
//!
//! [[step]]
//! at = "8s"
//! errors = { service = "payments", rate = "30%" }           # abort: the same shape
//!
//! [[step]]
//! at = "12s"
//! clear = {}                                                # or { service = "payments" }
//! ```
//!
//! Each step has an `at` (from the start of the run) and exactly one action. Without
//! `instance`, a process fault hits every instance of the service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::faults::{self, Change};
use crate::system::SystemView;
use brigade_supervisor::ProcessFault;

/// The longest scenario: a chaos run is an experiment, not a way of life.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the scenario {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the scenario is not valid TOML of the expected shape")]
    Parse(#[source] Box<toml::de::Error>),
    #[error("the scenario's duration: {0}")]
    Duration(String),
    #[error("step {number}: {detail}")]
    Step { number: usize, detail: String },
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// How long the load runs; every step happens within it.
    pub duration: Duration,
    /// In file order; [`Scenario::schedule`] gives them in time order.
    pub steps: Vec<Step>,
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based, in file order: how messages name it.
    pub number: usize,
    pub at: Duration,
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A request fault on every instance of `service`.
    Request {
        service: String,
        route: Option<String>,
        change: Change,
    },
    /// A process fault on every instance of `service`, or the one `instance` names.
    Process {
        service: String,
        instance: Option<String>,
        fault: ProcessFault,
    },
    /// Removes the rules and resumes paused instances of `service`, or of every service.
    Clear { service: Option<String> },
}

impl Action {
    /// The service the action is about, if it names one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Action::Request { service, .. } | Action::Process { service, .. } => Some(service),
            Action::Clear { service } => service.as_deref(),
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Request {
                service,
                route,
                change,
            } => {
                write!(f, "{change} on {service}")?;
                if let Some(route) = route {
                    write!(f, " {route}")?;
                }
                Ok(())
            }
            Action::Process {
                service,
                instance,
                fault,
            } => match instance {
                Some(instance) => write!(f, "{} {service} instance {instance}", fault.name()),
                None => write!(f, "{} every {service} instance", fault.name()),
            },
            Action::Clear { service: Some(s) } => write!(f, "clear {s}'s faults"),
            Action::Clear { service: None } => f.write_str("clear every fault"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    duration: String,
    #[serde(rename = "step", default)]
    steps: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    at: String,
    latency: Option<LatencyFile>,
    errors: Option<RateFile>,
    abort: Option<RateFile>,
    kill: Option<ProcessFile>,
    pause: Option<ProcessFile>,
    resume: Option<ProcessFile>,
    clear: Option<ClearFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyFile {
    service: String,
    delay: String,
    route: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    service: String,
    rate: RateValue,
    route: Option<String>,
}

/// `"30%"`, `"0.3"` or `0.3`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RateValue {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessFile {
    service: String,
    instance: Option<InstanceValue>,
}

/// `1` or `"orders-1"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InstanceValue {
    Number(u32),
    Slot(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearFile {
    service: Option<String>,
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 20s, 1m30s or 500ms"))
}

impl StepFile {
    fn action(self) -> Result<Action, String> {
        let request = |service: String, route: Option<String>, change| -> Result<Action, String> {
            let route = route
                .map(|r| faults::parse_route(&r))
                .transpose()
                .map_err(|e| e.to_string())?;
            Ok(Action::Request {
                service,
                route,
                change,
            })
        };
        let rate = |value: RateValue| match value {
            RateValue::Number(n) => faults::parse_rate(&n.to_string()),
            RateValue::Text(t) => faults::parse_rate(&t),
        };
        let process = |file: ProcessFile, fault| Action::Process {
            service: file.service,
            instance: file.instance.map(|i| match i {
                InstanceValue::Number(n) => n.to_string(),
                InstanceValue::Slot(s) => s,
            }),
            fault,
        };
        let mut actions: Vec<Action> = Vec::new();
        if let Some(l) = self.latency {
            let delay = faults::parse_delay(&l.delay).map_err(|e| e.to_string())?;
            actions.push(request(l.service, l.route, Change::Latency(delay))?);
        }
        if let Some(e) = self.errors {
            let rate = rate(e.rate).map_err(|e| e.to_string())?;
            actions.push(request(e.service, e.route, Change::Errors(rate))?);
        }
        if let Some(a) = self.abort {
            let rate = rate(a.rate).map_err(|e| e.to_string())?;
            actions.push(request(a.service, a.route, Change::Abort(rate))?);
        }
        if let Some(k) = self.kill {
            actions.push(process(k, ProcessFault::Kill));
        }
        if let Some(p) = self.pause {
            actions.push(process(p, ProcessFault::Pause));
        }
        if let Some(r) = self.resume {
            actions.push(process(r, ProcessFault::Resume));
        }
        if let Some(c) = self.clear {
            actions.push(Action::Clear { service: c.service });
        }
        match actions.len() {
            1 => Ok(actions.remove(0)),
            0 => Err("has no action: give one of latency, errors, abort, kill, pause, resume, clear".to_owned()),
            n => Err(format!(
                "has {n} actions; a step does one thing (give each its own [[step]], with the same `at` if they go together)"
            )),
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text)
    }

    /// Parses and validates scenario text (everything but the services, which need the system).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile =
            toml::from_str(text).map_err(|e| ScenarioError::Parse(Box::new(e)))?;
        let total = duration(&file.duration).map_err(ScenarioError::Duration)?;
        if total.is_zero() || total > MAX_DURATION {
            return Err(ScenarioError::Duration(format!(
                "`{}` must be more than 0 and at most {}",
                file.duration,
                humantime::format_duration(MAX_DURATION)
            )));
        }
        let mut steps = Vec::new();
        for (i, step) in file.steps.into_iter().enumerate() {
            let number = i + 1;
            let invalid = |detail: String| ScenarioError::Step { number, detail };
            let at = duration(&step.at).map_err(|d| invalid(format!("at: {d}")))?;
            if at > total {
                return Err(invalid(format!(
                    "at = {} is after the end of the scenario (duration = {})",
                    humantime::format_duration(at),
                    humantime::format_duration(total)
                )));
            }
            let action = step.action().map_err(invalid)?;
            steps.push(Step { number, at, action });
        }
        Ok(Scenario {
            duration: total,
            steps,
        })
    }

    /// Checks every step's service (and instance) against the running system.
    pub fn check_services(&self, view: &SystemView) -> Result<(), ScenarioError> {
        for step in &self.steps {
            let invalid = |detail: String| ScenarioError::Step {
                number: step.number,
                detail,
            };
            let Some(name) = step.action.service() else {
                continue;
            };
            let Some(service) = view.services.iter().find(|s| s.name == name) else {
                return Err(invalid(faults::unknown_service(view, name).to_string()));
            };
            if let Action::Process {
                instance: Some(instance),
                ..
            } = &step.action
            {
                let slot = if instance.bytes().all(|b| b.is_ascii_digit()) {
                    format!("{name}-{instance}")
                } else {
                    instance.clone()
                };
                let slots: Vec<&str> = service
                    .instances
                    .iter()
                    .filter_map(|i| i.slot.as_deref())
                    .collect();
                if !slots.contains(&slot.as_str()) {
                    return Err(invalid(format!(
                        "{name} has no instance `{instance}`; its slots are {}",
                        slots.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// The steps in time order (file order among steps at the same time).
    pub fn schedule(&self) -> Vec<&Step> {
        let mut steps: Vec<&Step> = self.steps.iter().collect();
        steps.sort_by_key(|s| s.at);
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{Health, InstanceView, ServiceView};

    const EXAMPLE: &str = include_str!("../../../../scenarios/kill-and-latency.toml");

    fn error(text: &str) -> String {
        match Scenario::parse(text) {
            Err(ScenarioError::Parse(e)) => e.to_string(),
            Err(e) => e.to_string(),
            Ok(s) => panic!("expected an error, got {s:?}"),
        }
    }

    #[test]
    fn the_example_scenario_is_valid() {
        let scenario = Scenario::parse(EXAMPLE).unwrap();
        assert!(!scenario.steps.is_empty());
        assert!(scenario.steps.iter().all(|s| s.at <= scenario.duration));
    }

    #[test]
    fn steps_are_read_with_their_actions() {
        let scenario = Scenario::parse(
            "duration = \"20s\"\n\
             [[step]]\nat = \"8s\"\nerrors = { service = \"payments\", rate = \"30%\", route = \"/v1/charges\" }\n\
             [[step]]\nat = \"2s\"\nlatency = { service = \"recommendations\", delay = \"2s\" }\n\
             [[step]]\nat = \"5s\"\nkill = { service = \"orders\", instance = 1 }\n\
             [[step]]\nat = \"6s\"\nabort = { service = \"cart\", rate = 0.1 }\n\
             [[step]]\nat = \"12s\"\nclear = {}\n",
        )
        .unwrap();
        assert_eq!(scenario.duration, Duration::from_secs(20));
        assert_eq!(
            scenario.steps[0].action,
            Action::Request {
                service: "payments".into(),
                route: Some("/v1/charges".into()),
                change: Change::Errors(0.3)
            }
        );
        assert_eq!(
            scenario.steps[2].action,
            Action::Process {
                service: "orders".into(),
                instance: Some("1".into()),
                fault: ProcessFault::Kill
            }
        );
        assert_eq!(scenario.steps[3].action.to_string(), "10% aborts on cart");
        assert_eq!(scenario.steps[4].action, Action::Clear { service: None });
        let order: Vec<usize> = scenario.schedule().iter().map(|s| s.number).collect();
        assert_eq!(order, [2, 3, 4, 1, 5]);
    }

    #[test]
    fn mistakes_are_explained_with_the_step_number() {
        assert!(error("duration = \"soon\"\n").contains("`soon` is not a duration"));
        assert!(error("duration = \"0s\"\n").contains("more than 0"));
        let with = |step: &str| {
            error(&format!(
                "duration = \"10s\"\n[[step]]\nat = \"1s\"\nclear = {{}}\n[[step]]\n{step}"
            ))
        };
        assert_eq!(
            with("at = \"11s\"\nclear = {}\n"),
            "step 2: at = 11s is after the end of the scenario (duration = 10s)"
        );
        assert!(with("at = \"2x\"\nclear = {}\n").starts_with("step 2: at: `2x` is not a duration"));
        for (step, explanation) in [
            (
                "errors = { service = \"x\", rate = \"130%\" }",
                "a rate is between 0% and 100%",
            ),
            (
                "latency = { service = \"x\", delay = \"2m\" }",
                "the added latency is at most 60 s",
            ),
            (
                "latency = { service = \"x\", delay = \"1s\", route = \"v1\" }",
                "a route is a path prefix",
            ),
            ("clear = {}\nkill = { service = \"x\" }", "has 2 actions"),
            ("", "has no action"),
        ] {
            let error = with(&format!("at = \"2s\"\n{step}\n"));
            assert!(error.contains(&format!("step 2: {explanation}")), "{error}");
        }
        assert!(
            error("duration = \"1s\"\n[[step]]\nat = \"0s\"\nexplode = {}\n")
                .contains("unknown field")
        );
    }

    fn view() -> SystemView {
        let instance = |slot: &str| InstanceView {
            slot: Some(slot.into()),
            instance_id: None,
            state: "running".into(),
            restart_at_ms: None,
            registered: true,
            address: Some("127.0.0.1:1".into()),
            health: Health::Ready,
            health_detail: None,
            version: None,
            pid: Some(1),
            started_at_ms: None,
            uptime_ms: None,
            restarts: 0,
            last_exit: None,
            rss_bytes: None,
        };
        SystemView {
            control_url: "http://127.0.0.1:7070".into(),
            gateway_url: None,
            version: "0".into(),
            started_at_ms: 0,
            now_ms: 0,
            services: vec![
                ServiceView {
                    name: "orders".into(),
                    desired: Some(2),
                    instances: vec![instance("orders-1"), instance("orders-2")],
                },
                ServiceView {
                    name: "payments".into(),
                    desired: Some(1),
                    instances: vec![instance("payments-1")],
                },
            ],
        }
    }

    #[test]
    fn services_and_instances_are_checked_against_the_system() {
        let check = |step: &str| {
            Scenario::parse(&format!(
                "duration = \"10s\"\n[[step]]\nat = \"1s\"\n{step}"
            ))
            .unwrap()
            .check_services(&view())
            .map_err(|e| e.to_string())
        };
        assert!(check("kill = { service = \"orders\", instance = 2 }\n").is_ok());
        assert!(check("pause = { service = \"orders\", instance = \"orders-1\" }\n").is_ok());
        assert!(check("clear = {}\n").is_ok());
        assert_eq!(
            check("kill = { service = \"shipping\" }\n"),
            Err("step 1: there is no service `shipping`; the system runs orders, payments".into())
        );
        assert_eq!(
            check("kill = { service = \"orders\", instance = 3 }\n"),
            Err("step 1: orders has no instance `3`; its slots are orders-1, orders-2".into())
        );
    }
}
