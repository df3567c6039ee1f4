//! `brigade events`: the parked events of a running system, and replaying them.
//!
//! Every consuming service keeps the events it could not apply in its own store and serves them
//! at `/v1/events/parked` (the chassis does). This asks one registered instance of each service,
//! since the instances of a service share its store.

use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::{self, PlainClient};
use brigade_chassis::events::{Parked, ParkedList, Replayed};
use brigade_chassis::identity::Identity;
use brigade_chassis::Problem;

use crate::chaos::instances::ControlClient;
use crate::system::SystemView;

/// Options shared by the `events` subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub control: crate::status::ControlUrl,
    /// `replay` changes the system: it needs the operator credential.
    #[command(flatten)]
    pub operator: crate::operator_auth::cli::OperatorToken,
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EventsCommand {
    /// List the events every service has parked (failed too often to apply), oldest first.
    Parked {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Apply a parked event again (and the events of its subject parked behind it).
    Replay {
        /// The event id, as `brigade events parked` lists it.
        id: String,
        /// The service that parked it (found by asking every service when not given).
        #[arg(long)]
        service: Option<String>,
    },
}

/// `brigade events …`.
pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let view = crate::status::fetch(&args.control.url).await?;
    let client = PlainClient::new(Duration::from_secs(10));
    match args.command {
        EventsCommand::Parked { json } => {
            let parked = parked(&view, &client).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&parked)?);
            } else {
                print!("{}", table(&parked));
            }
            Ok(())
        }
        EventsCommand::Replay { id, service } => {
            let credential = args.operator.load()?;
            let service = match service {
                Some(service) => service,
                None => owner(&view, &client, &id).await?,
            };
            // Through the control port, which demands the operator credential of a change.
            let replayed: Replayed = ControlClient::new(&args.control.url, client)
                .authenticated(credential)
                .call_with(
                    http::Method::POST,
                    &format!("/v1/console/parked/{service}/{id}/replay"),
                    None,
                )
                .await?;
            println!(
                "{service}: replayed {} event(s): {}; {} still parked in {service}",
                replayed.replayed.len(),
                replayed.replayed.join(", "),
                replayed.still_parked
            );
            Ok(())
        }
    }
}

/// One registered instance's address for each service that has one.
fn addresses(view: &SystemView) -> Vec<(String, String)> {
    view.services
        .iter()
        .filter_map(|service| {
            service
                .instances
                .iter()
                .find(|i| i.registered && i.address.is_some())
                .and_then(|i| i.address.clone())
                .map(|address| (service.name.clone(), address))
        })
        .collect()
}

/// Every service's parked events. Services that consume nothing (404) are left out.
pub async fn parked(view: &SystemView, client: &PlainClient) -> anyhow::Result<Vec<ParkedList>> {
    // Every service at once: one slow service (a latency fault, a long store query) must not
    // hold up the rest, nor the console that asks every few seconds.
    let asks = addresses(view)
        .into_iter()
        .map(|(service, address)| async move {
            let url = format!("http://{address}/v1/events/parked");
            (service, client.get_json::<ParkedList>(&url).await)
        });
    let mut all = Vec::new();
    for (service, answer) in futures_util::future::join_all(asks).await {
        match answer {
            Ok(list) => all.push(list),
            Err(plain::Error::Status { status, .. }) if status == http::StatusCode::NOT_FOUND => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot list {service}'s parked events"))
            }
        }
    }
    Ok(all)
}

/// The service that has the event `id` parked.
async fn owner(view: &SystemView, client: &PlainClient, id: &str) -> anyhow::Result<String> {
    parked(view, client)
        .await?
        .into_iter()
        .find(|list| list.items.iter().any(|p| p.id == id))
        .map(|list| list.service)
        .with_context(|| {
            format!("no service has a parked event with id `{id}` (see `brigade events parked`)")
        })
}

/// Replays `id` in `service`, or in whichever service has it parked, presenting `operator`'s
/// identity (a replay is the operator's to ask for).
pub async fn replay(
    view: &SystemView,
    client: &PlainClient,
    operator: Option<&Identity>,
    id: &str,
    service: Option<&str>,
) -> anyhow::Result<(String, Replayed)> {
    let service = match service {
        Some(service) => service.to_owned(),
        None => owner(view, client, id).await?,
    };
    let address = addresses(view)
        .into_iter()
        .find(|(name, _)| *name == service)
        .map(|(_, address)| address)
        .with_context(|| format!("the system has no registered {service} instance"))?;
    let url = format!("http://{address}/v1/events/parked/{id}/replay");
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(&url);
    if let Some(operator) = operator {
        let token = operator
            .token_for(&service)
            .await
            .context("cannot have the operator's identity to replay with")?;
        request = request.header(brigade_chassis::identity::HEADER, &*token);
    }
    let answer = client
        .send_request(request.body(Default::default())?)
        .await
        .with_context(|| format!("cannot reach {service} at {address}"))?;
    if answer.status.is_success() {
        let replayed: Replayed = serde_json::from_slice(&answer.body)
            .with_context(|| format!("{service} answered the replay with something unreadable"))?;
        return Ok((service, replayed));
    }
    let detail = serde_json::from_slice::<Problem>(&answer.body)
        .map(|p| p.detail)
        .unwrap_or_else(|_| String::from_utf8_lossy(&answer.body).into_owned());
    anyhow::bail!("{service} refused the replay ({}): {detail}", answer.status)
}

/// The parked events as a table for people.
pub fn table(lists: &[ParkedList]) -> String {
    let rows: Vec<(&str, &Parked)> = lists
        .iter()
        .flat_map(|l| l.items.iter().map(move |p| (l.service.as_str(), p)))
        .collect();
    if rows.is_empty() {
        return "no parked events\n".to_owned();
    }
    let mut out = format!(
        "{:<16} {:<36} {:<32} {:<36} {:>8}  {}\n",
        "SERVICE", "EVENT", "TYPE", "SUBJECT", "ATTEMPTS", "ERROR"
    );
    for (service, p) in rows {
        let error = match &p.held_behind {
            Some(behind) => format!("held behind {behind}"),
            None => p.error.clone(),
        };
        out.push_str(&format!(
            "{:<16} {:<36} {:<32} {:<36} {:>8}  {}\n",
            service, p.id, p.event_type, p.subject, p.attempts, error
        ));
    }
    out
}
