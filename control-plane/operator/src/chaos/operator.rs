//! What `brigade chaos` commands and scenario steps do to a running system: request faults on
//! every instance of a service (each instance's `/v1/chaos`), process faults through the
//! control plane, clearing both, and reading both back.

use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::chaos::Rule;
use brigade_chassis::client::plain::PlainClient;
use futures_util::future::join_all;
use serde::Serialize;

use super::faults::{self, Change, RulesClient, Target};
use super::instances::{self, ControlClient};
use super::scenario::Action;
use crate::credential::OperatorCredential;
use crate::system::SystemView;
use brigade_supervisor::ProcessFault;

/// Talks to one running system.
#[derive(Debug, Clone)]
pub struct Operator {
    control_url: String,
    control: ControlClient,
    rules: RulesClient,
}

/// One instance's faults, as `brigade chaos show` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceFaults {
    #[serde(flatten)]
    pub target: Target,
    pub paused: bool,
    /// Its rules; `None` when they could not be read (`error` says why).
    pub rules: Option<Vec<Rule>>,
    pub error: Option<String>,
}

/// Every fault of the system.
#[derive(Debug, Clone, Serialize)]
pub struct Faults {
    /// Whether the system was started with `--chaos`.
    pub enabled: bool,
    pub paused: Vec<String>,
    pub instances: Vec<InstanceFaults>,
}

impl Operator {
    pub fn new(control_url: &str) -> Operator {
        // Short: a paused instance never answers, and must not hold a command up for long.
        let http = PlainClient::new(Duration::from_secs(3));
        Operator {
            control_url: control_url.to_owned(),
            control: ControlClient::new(control_url, http.clone()),
            rules: RulesClient::new(http),
        }
    }

    /// The same operator, proving itself with `credential`: to the control port (kills, pauses,
    /// resumes and clearing need it) and, through the operator's identity the control plane
    /// mints for it, to the instances whose request-fault rules it sets or clears.
    pub fn authenticated(mut self, credential: OperatorCredential) -> Operator {
        self.rules = self.rules.as_operator(&self.control_url, &credential);
        self.control = self.control.authenticated(credential);
        self
    }

    /// The system as the control plane sees it now.
    pub async fn view(&self) -> anyhow::Result<SystemView> {
        Ok(crate::status::fetch(&self.control_url).await?)
    }

    /// The system once every slot of `slots` has an address again, or after a few seconds: a
    /// resumed instance whose lease ran out while it was paused registers again first.
    async fn view_listing(&self, slots: &[&str]) -> anyhow::Result<SystemView> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let view = self.view().await?;
            let listed = slots.iter().all(|slot| {
                view.services
                    .iter()
                    .flat_map(|s| s.instances.iter())
                    .any(|i| i.slot.as_deref() == Some(*slot) && i.address.is_some())
            });
            if listed || tokio::time::Instant::now() >= deadline {
                return Ok(view);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Makes `change` on every instance of `service`; says what it did.
    pub async fn request_fault(
        &self,
        service: &str,
        route: Option<&str>,
        change: Change,
    ) -> anyhow::Result<String> {
        let view = self.view().await?;
        let targets = faults::targets(&view, Some(service))?;
        self.rules.change_all(&targets, route, change).await?;
        let slots: Vec<&str> = targets.iter().map(|t| t.slot.as_str()).collect();
        Ok(format!(
            "{change} on {} of {service} ({})",
            route.unwrap_or("every route"),
            slots.join(", ")
        ))
    }

    /// Resumes the paused instances of `service` (of every service when `None`), then removes
    /// their rules.
    pub async fn clear(&self, service: Option<&str>) -> anyhow::Result<String> {
        // Paused instances first: they could not answer the DELETE.
        let resumed = match service {
            Some(service) => {
                let view = self.view().await?;
                if !view.services.iter().any(|s| s.name == service) {
                    return Err(faults::unknown_service(&view, service).into());
                }
                self.control
                    .inflict(service, None, ProcessFault::Resume)
                    .await?
            }
            None => self.control.resume_all().await?,
        };
        let resumed: Vec<&str> = resumed
            .affected
            .iter()
            .filter(|o| o.changed)
            .map(|o| o.slot.as_str())
            .collect();
        let view = self.view_listing(&resumed).await?;
        let targets = faults::targets(&view, service)?;
        self.rules.clear_all(&targets).await?;
        let mut said = format!("cleared the fault rules of {} instance(s)", targets.len());
        if !resumed.is_empty() {
            said.push_str(&format!("; resumed {}", resumed.join(", ")));
        }
        Ok(said)
    }

    /// Every instance's rules and the paused slots.
    pub async fn faults(&self) -> anyhow::Result<Faults> {
        let state = self
            .control
            .state()
            .await
            .context("cannot ask the control plane which instances are paused")?;
        let view = self.view().await?;
        let targets = faults::targets(&view, None)?;
        let read = join_all(targets.iter().map(|t| self.rules.rules(t))).await;
        let instances = targets
            .into_iter()
            .zip(read)
            .map(|(target, rules)| InstanceFaults {
                paused: state.paused.contains(&target.slot),
                rules: rules.as_ref().ok().map(|r| r.rules.clone()),
                error: rules.err().map(|e| e.to_string()),
                target,
            })
            .collect();
        Ok(Faults {
            enabled: state.enabled,
            paused: state.paused,
            instances,
        })
    }

    /// Carries out a scenario step's action; says what it did.
    pub async fn apply(&self, action: &Action) -> anyhow::Result<String> {
        match action {
            Action::Request {
                service,
                route,
                change,
            } => self.request_fault(service, route.as_deref(), *change).await,
            // Kills, pauses or resumes every instance of `service`, or the one `instance` names.
            Action::Process {
                service,
                instance,
                fault,
            } => {
                let report = self
                    .control
                    .inflict(service, instance.as_deref(), *fault)
                    .await?;
                Ok(instances::describe(service, &report))
            }
            Action::Clear { service } => self.clear(service.as_deref()).await,
        }
    }
}

/// The faults as a table for people.
pub fn table(faults: &Faults) -> String {
    let mut out = format!(
        "{:<16} {:<20} {:<22} {:<7} {}\n",
        "SERVICE", "INSTANCE", "ADDRESS", "PAUSED", "RULES"
    );
    for i in &faults.instances {
        let rules = match (&i.rules, &i.error) {
            (Some(rules), _) if rules.is_empty() => "-".to_owned(),
            (Some(rules), _) => rules
                .iter()
                .map(faults::describe_rule)
                .collect::<Vec<_>>()
                .join("; "),
            (None, Some(error)) => format!("? {error}"),
            (None, None) => "?".to_owned(),
        };
        out.push_str(&format!(
            "{:<16} {:<20} {:<22} {:<7} {}\n",
            i.target.service,
            i.target.slot,
            i.target.address,
            if i.paused { "yes" } else { "-" },
            rules
        ));
    }
    // A paused instance may have dropped out of the registry, and so out of the rows above.
    let unlisted: Vec<&str> = faults
        .paused
        .iter()
        .filter(|p| !faults.instances.iter().any(|i| &i.target.slot == *p))
        .map(String::as_str)
        .collect();
    if !unlisted.is_empty() {
        out.push_str(&format!("also paused: {}\n", unlisted.join(", ")));
    }
    if !faults.enabled {
        out.push_str("chaos is off: the system was not started with `brigade up --chaos`\n");
    }
    out
}
