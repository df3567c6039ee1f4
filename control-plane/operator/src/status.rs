//! `brigade status`: asks the running control plane for the system, asks every instance whether
//! it is ready, and prints one line per instance.

use std::time::Duration;

use brigade_chassis::client::plain::{self, PlainClient};

use crate::output::{human_bytes, human_duration};
use crate::system::{self, SystemView};

/// The control plane's URL when `brigade up` runs on its default port.
pub const DEFAULT_CONTROL_URL: &str = "http://127.0.0.1:7070";

/// Where the running system's control plane is, for every command that talks to it.
#[derive(Debug, Clone, clap::Args)]
pub struct ControlUrl {
    /// Base URL of the running system's control plane.
    #[arg(
        long = "control-url",
        env = "BRIGADE_CONTROL_URL",
        default_value = DEFAULT_CONTROL_URL,
        global = true
    )]
    pub url: String,
}

/// Options of `brigade status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub control: ControlUrl,

    /// Print the system as JSON (the shape of GET /v1/system) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Why status could not tell.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no control plane answers at {url} ({cause}): is `brigade up` running? \
         Pass --control-url or set BRIGADE_CONTROL_URL if it runs elsewhere"
    )]
    NotRunning { url: String, cause: String },
    #[error("the control plane at {url} answered unexpectedly")]
    Unexpected {
        url: String,
        #[source]
        source: plain::Error,
    },
}

/// Fetches the system view and asks each instance's `/readyz` from here.
pub async fn fetch(control_url: &str) -> Result<SystemView, Error> {
    let base = control_url.trim_end_matches('/');
    let url = format!("{base}/v1/system");
    let client = PlainClient::new(Duration::from_secs(5));
    let mut view: SystemView = client.get_json(&url).await.map_err(|source| match source {
        plain::Error::Transport { .. }
        | plain::Error::Timeout { .. }
        | plain::Error::InvalidUrl { .. } => not_running(base, &source),
        other => Error::Unexpected {
            url: base.to_owned(),
            source: other,
        },
    })?;
    // Ask from here rather than trusting the control plane's answer: what matters is whether
    // the instances answer, and this is a second opinion from another process.
    system::probe_all(&mut view, &client.with_timeout(system::PROBE_TIMEOUT)).await;
    Ok(view)
}

/// No control plane answered at `base`: what every command says then.
pub(crate) fn not_running(base: &str, source: &plain::Error) -> Error {
    Error::NotRunning {
        url: base.to_owned(),
        cause: innermost(source),
    }
}

/// The innermost cause, e.g. `Connection refused (os error 111)`: the outer layers only repeat
/// the URL.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Runs `brigade status`.
pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let view = fetch(&args.control.url).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print!("{}", render(&view));
    }
    Ok(())
}

/// The table `brigade status` prints.
pub fn render(view: &SystemView) -> String {
    let mut rows: Vec<[String; 10]> = vec![[
        "SERVICE", "INSTANCE", "ADDRESS", "HEALTH", "STATE", "UPTIME", "VERSION", "PID",
        "RESTARTS", "MEMORY",
    ]
    .map(str::to_owned)];
    let dash = || "-".to_owned();
    for service in &view.services {
        if service.instances.is_empty() {
            rows.push([
                service.name.clone(),
                "(no instances)".into(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
            ]);
        }
        for i in &service.instances {
            rows.push([
                service.name.clone(),
                i.instance_id
                    .clone()
                    .or_else(|| i.slot.clone())
                    .unwrap_or_else(dash),
                i.address.clone().unwrap_or_else(dash),
                i.health.to_string(),
                i.state.replace('_', " "),
                i.uptime_ms
                    .map(|ms| human_duration(Duration::from_millis(ms)))
                    .unwrap_or_else(dash),
                i.version.clone().unwrap_or_else(dash),
                i.pid.map(|p| p.to_string()).unwrap_or_else(dash),
                i.restarts.to_string(),
                i.rss_bytes.map(human_bytes).unwrap_or_else(dash),
            ]);
        }
    }
    let mut widths = [0usize; 10];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "control plane {} (v{}), up {}",
        view.control_url,
        view.version,
        human_duration(Duration::from_millis(
            view.now_ms.saturating_sub(view.started_at_ms)
        ))
    );
    if let Some(gateway) = &view.gateway_url {
        out.push_str(&format!("; gateway {gateway}"));
    }
    out.push_str("\n\n");
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    // Say why the unhealthy ones are unhealthy, under the table.
    for service in &view.services {
        for i in service
            .instances
            .iter()
            .filter(|i| i.health != system::Health::Ready)
        {
            let name = i
                .instance_id
                .as_deref()
                .or(i.slot.as_deref())
                .unwrap_or("?");
            if let Some(detail) = i.health_detail.as_deref() {
                out.push_str(&format!("\n{name}: {detail}"));
            } else if let Some(exit) = i.last_exit.as_deref() {
                out.push_str(&format!("\n{name}: last exit: {exit}"));
            }
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{Health, InstanceView, ServiceView};

    #[tokio::test]
    async fn a_missing_control_plane_is_reported_as_such() {
        // Nothing listens on port 1 of loopback.
        match fetch("http://127.0.0.1:1/").await {
            Err(Error::NotRunning { url, cause }) => {
                assert_eq!(url, "http://127.0.0.1:1");
                assert!(cause.contains("refused"), "{cause}");
            }
            other => panic!("expected NotRunning, got {other:?}"),
        }
    }

    #[test]
    fn the_table_lists_every_instance_and_explains_the_unhealthy() {
        let instance = |id: &str, health: Health, detail: Option<&str>| InstanceView {
            slot: Some(id[..9].to_owned()),
            instance_id: Some(id.to_owned()),
            state: "running".into(),
            restart_at_ms: None,
            registered: true,
            address: Some("127.0.0.1:41000".into()),
            health,
            health_detail: detail.map(str::to_owned),
            version: Some("0.1.0".into()),
            pid: Some(4242),
            started_at_ms: Some(1_000),
            uptime_ms: Some(65_000),
            restarts: 1,
            last_exit: None,
            rss_bytes: Some(15 * 1024 * 1024),
        };
        let view = SystemView {
            control_url: "http://127.0.0.1:7070".into(),
            gateway_url: Some("http://127.0.0.1:8080".into()),
            version: "0.1.0".into(),
            started_at_ms: 0,
            now_ms: 70_000,
            services: vec![
                ServiceView {
                    name: "catalog".into(),
                    desired: Some(2),
                    instances: vec![
                        instance("catalog-1-abcdef", Health::Ready, None),
                        instance("catalog-2-123456", Health::NotReady, Some("store: locked")),
                    ],
                },
                ServiceView {
                    name: "gateway".into(),
                    desired: Some(1),
                    instances: vec![],
                },
            ],
        };
        let text = render(&view);
        assert!(
            text.contains("catalog  catalog-1-abcdef  127.0.0.1:41000  ready"),
            "{text}"
        );
        assert!(text.contains("not ready"), "{text}");
        assert!(
            text.contains("1m05s") && text.contains("15.0 MiB"),
            "{text}"
        );
        assert!(text.contains("gateway  (no instances)"), "{text}");
        assert!(text.contains("catalog-2-123456: store: locked"), "{text}");
    }
}
