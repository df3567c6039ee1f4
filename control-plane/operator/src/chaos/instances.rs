//! Process faults through the control plane, which owns the processes: kill (SIGKILL; the
//! supervisor restarts the slot as after any crash), pause (SIGSTOP) and resume (SIGCONT), for
//! one slot or for the instances of a service. Served on the control port:
//!
//! - `GET /v1/chaos`: whether chaos is on, and the paused slots;
//! - `POST /v1/chaos/instances/{slot}/{kill|pause|resume}`;
//! - `POST /v1/chaos/services/{service}/{kill|pause|resume}[?instance=N|SLOT]`;
//! - `POST /v1/chaos/resume`: every paused slot.
//!
//! Only a system started with `brigade up --chaos` takes kills and pauses; otherwise they are
//! refused with a `chaos-disabled` problem (resuming stays allowed: it only ever helps).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::client::plain::{self, PlainClient};
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use http::{header, Method, Request, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};

use crate::credential::OperatorCredential;
use brigade_supervisor::{FaultError, FaultOutcome, ProcessFault, Supervisor};

/// The problem code of a fault refused because the system runs without `--chaos`.
pub const CHAOS_DISABLED: &str = "chaos-disabled";
/// The problem code of a kill or pause of a slot without a running process.
pub const SLOT_NOT_RUNNING: &str = "slot-not-running";

/// `GET /v1/chaos` on the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosState {
    /// Whether the system was started with `--chaos`.
    pub enabled: bool,
    /// Slots whose process is paused, in start order.
    pub paused: Vec<String>,
}

/// The answer to a process fault: which slots it reached and which it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    pub fault: ProcessFault,
    pub affected: Vec<FaultOutcome>,
    /// Slots of the service left alone, with the reason (e.g. not running).
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// A slot a service-wide fault did not reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub slot: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Which {
    /// An instance number (`2` is the slot `SERVICE-2`) or a slot name.
    instance: Option<String>,
}

#[derive(Clone)]
struct Faults {
    supervisor: Option<Supervisor>,
    enabled: bool,
}

/// The routes under `/v1/chaos` of the control port.
pub fn router(supervisor: Option<Supervisor>, enabled: bool) -> Router {
    Router::new()
        .route("/v1/chaos", get(show))
        .route("/v1/chaos/resume", post(resume_all))
        .route("/v1/chaos/instances/{slot}/{fault}", post(on_slot))
        .route("/v1/chaos/services/{service}/{fault}", post(on_service))
        .with_state(Faults {
            supervisor,
            enabled,
        })
}

/// Why a process fault was not applied; each becomes a problem.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("there is no process fault `{0}`: use kill, pause or resume")]
    UnknownFault(String),
    #[error("this control plane supervises no processes")]
    Unsupervised,
    #[error(
        "the system was not started with `brigade up --chaos`, so it takes no kills or pauses; \
         restart it with --chaos"
    )]
    Disabled,
    #[error("there is no service `{service}`; the system runs {known}")]
    UnknownService { service: String, known: String },
    #[error("{service} has no instance `{instance}`; its slots are {slots}")]
    UnknownInstance {
        service: String,
        instance: String,
        slots: String,
    },
    #[error(transparent)]
    Fault(#[from] FaultError),
}

impl From<Refused> for Problem {
    fn from(refused: Refused) -> Problem {
        let detail = refused.to_string();
        match refused {
            Refused::UnknownFault(_)
            | Refused::UnknownService { .. }
            | Refused::UnknownInstance { .. }
            | Refused::Fault(FaultError::UnknownSlot(_)) => Problem::not_found(detail),
            Refused::Unsupervised | Refused::Disabled => {
                Problem::new(StatusCode::CONFLICT, CHAOS_DISABLED, "Chaos is off", detail)
            }
            Refused::Fault(FaultError::NotRunning { .. }) => Problem::new(
                StatusCode::CONFLICT,
                SLOT_NOT_RUNNING,
                "Slot not running",
                format!("{detail}; wait until it has restarted"),
            ),
        }
    }
}

fn parse_fault(word: &str) -> Result<ProcessFault, Refused> {
    match word {
        "kill" => Ok(ProcessFault::Kill),
        "pause" => Ok(ProcessFault::Pause),
        "resume" => Ok(ProcessFault::Resume),
        other => Err(Refused::UnknownFault(other.to_owned())),
    }
}

impl Faults {
    /// The supervisor, when `fault` may be applied.
    fn allowed(&self, fault: ProcessFault) -> Result<&Supervisor, Refused> {
        let supervisor = self.supervisor.as_ref().ok_or(Refused::Unsupervised)?;
        if !self.enabled && fault != ProcessFault::Resume {
            return Err(Refused::Disabled);
        }
        Ok(supervisor)
    }
}

async fn show(State(faults): State<Faults>) -> Json<ChaosState> {
    Json(ChaosState {
        enabled: faults.enabled,
        paused: faults
            .supervisor
            .as_ref()
            .map(Supervisor::paused)
            .unwrap_or_default(),
    })
}

async fn resume_all(State(faults): State<Faults>) -> Result<Response, Problem> {
    let supervisor = faults.allowed(ProcessFault::Resume)?;
    let mut affected = Vec::new();
    for slot in supervisor.paused() {
        affected.push(
            supervisor
                .inflict(&slot, ProcessFault::Resume)
                .map_err(Refused::from)?,
        );
    }
    Ok(Json(FaultReport {
        fault: ProcessFault::Resume,
        affected,
        skipped: Vec::new(),
    })
    .into_response())
}

async fn on_slot(
    State(faults): State<Faults>,
    Path((slot, fault)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let fault = parse_fault(&fault)?;
    let outcome = faults
        .allowed(fault)?
        .inflict(&slot, fault)
        .map_err(Refused::from)?;
    tracing::warn!(slot, fault = fault.name(), "chaos: process fault");
    Ok(Json(FaultReport {
        fault,
        affected: vec![outcome],
        skipped: Vec::new(),
    })
    .into_response())
}

async fn on_service(
    State(faults): State<Faults>,
    Path((service, fault)): Path<(String, String)>,
    Query(which): Query<Which>,
) -> Result<Response, Problem> {
    let fault = parse_fault(&fault)?;
    let supervisor = faults.allowed(fault)?;
    let slots = slots_of(supervisor, &service, which.instance.as_deref())?;
    let mut report = FaultReport {
        fault,
        affected: Vec::new(),
        skipped: Vec::new(),
    };
    let mut refusal = None;
    for slot in slots {
        match supervisor.inflict(&slot, fault) {
            Ok(outcome) => report.affected.push(outcome),
            Err(error) => {
                report.skipped.push(Skipped {
                    slot,
                    reason: error.to_string(),
                });
                refusal = Some(error);
            }
        }
    }
    match refusal {
        // Not one slot could take it: the operator asked for something impossible.
        Some(error) if report.affected.is_empty() => Err(Refused::from(error).into()),
        _ => {
            tracing::warn!(service, fault = fault.name(), "chaos: process fault");
            Ok(Json(report).into_response())
        }
    }
}

/// The slots of `service`, or the one `instance` names (a number or a slot name).
fn slots_of(
    supervisor: &Supervisor,
    service: &str,
    instance: Option<&str>,
) -> Result<Vec<String>, Refused> {
    let slots: Vec<String> = supervisor
        .snapshot()
        .into_iter()
        .filter(|s| s.group == service)
        .map(|s| s.slot)
        .collect();
    if slots.is_empty() {
        return Err(Refused::UnknownService {
            service: service.to_owned(),
            known: supervisor.groups().join(", "),
        });
    }
    let Some(instance) = instance else {
        return Ok(slots);
    };
    let wanted = if instance.bytes().all(|b| b.is_ascii_digit()) {
        format!("{service}-{instance}")
    } else {
        instance.to_owned()
    };
    if slots.contains(&wanted) {
        Ok(vec![wanted])
    } else {
        Err(Refused::UnknownInstance {
            service: service.to_owned(),
            instance: instance.to_owned(),
            slots: slots.join(", "),
        })
    }
}

/// Why the control plane did not do what it was asked (a process fault, a scale, a restart).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The control plane answered with a problem; its detail says why.
    #[error("{0}")]
    Refused(String),
    #[error("cannot reach the control plane")]
    Unreachable(#[source] plain::Error),
    #[error("the control plane answered with something unreadable")]
    Unreadable(#[source] serde_json::Error),
}

/// A client of the control port's routes that change the system (these, and `crate::scale`'s).
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    http: PlainClient,
    /// Sent with every call when given: the control port refuses changes without it.
    credential: Option<OperatorCredential>,
}

impl ControlClient {
    pub fn new(control_url: &str, http: PlainClient) -> ControlClient {
        ControlClient {
            base: control_url.trim_end_matches('/').to_owned(),
            http,
            credential: None,
        }
    }

    /// The same client, sending the operator credential.
    pub fn authenticated(mut self, credential: OperatorCredential) -> ControlClient {
        self.credential = Some(credential);
        self
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, ControlError> {
        self.call_with(method, path, None).await
    }

    /// Sends `body` (JSON) to `path` of the control port; a problem's detail is the error.
    pub(crate) async fn call_with<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<bytes::Bytes>,
    ) -> Result<T, ControlError> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder().method(method).uri(&url);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(credential) = &self.credential {
            request = request.header(header::AUTHORIZATION, credential.bearer());
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| {
                ControlError::Unreachable(plain::Error::InvalidUrl {
                    url,
                    reason: e.to_string(),
                })
            })?;
        let answer = self
            .http
            .send_request(request)
            .await
            .map_err(ControlError::Unreachable)?;
        if !answer.status.is_success() {
            let detail = serde_json::from_slice::<Problem>(&answer.body)
                .map(|p| p.detail)
                .unwrap_or_else(|_| {
                    format!(
                        "the control plane answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )
                });
            return Err(ControlError::Refused(detail));
        }
        serde_json::from_slice(&answer.body).map_err(ControlError::Unreadable)
    }

    /// Whether chaos is on, and the paused slots.
    pub async fn state(&self) -> Result<ChaosState, ControlError> {
        self.call(Method::GET, "/v1/chaos").await
    }

    /// Applies `fault` to every instance of `service`, or to the one `instance` names.
    pub async fn inflict(
        &self,
        service: &str,
        instance: Option<&str>,
        fault: ProcessFault,
    ) -> Result<FaultReport, ControlError> {
        let mut path = format!("/v1/chaos/services/{service}/{}", fault.name());
        if let Some(instance) = instance {
            path.push_str(&format!("?instance={instance}"));
        }
        self.call(Method::POST, &path).await
    }

    /// Resumes every paused slot.
    pub async fn resume_all(&self) -> Result<FaultReport, ControlError> {
        self.call(Method::POST, "/v1/chaos/resume").await
    }
}

/// One line for people: `killed orders-1 (pid 4242)`; skipped slots say why.
pub fn describe(service: &str, report: &FaultReport) -> String {
    let verb = match report.fault {
        ProcessFault::Kill => "killed",
        ProcessFault::Pause => "paused",
        ProcessFault::Resume => "resumed",
    };
    let mut parts: Vec<String> = report
        .affected
        .iter()
        .map(|o| match (o.pid, o.changed) {
            (Some(pid), true) => format!("{} (pid {pid})", o.slot),
            (Some(pid), false) if report.fault == ProcessFault::Pause => {
                format!("{} (pid {pid}, already paused)", o.slot)
            }
            (Some(pid), false) => format!("{} (pid {pid}, was not paused)", o.slot),
            (None, _) => format!("{} (not running)", o.slot),
        })
        .collect();
    if parts.is_empty() {
        parts.push("nothing".to_owned());
    }
    let mut line = format!("{service}: {verb} {}", parts.join(", "));
    for skipped in &report.skipped {
        line.push_str(&format!("; skipped {}", skipped.reason));
    }
    line
}
