//! Keeping this instance registered: register at start, heartbeat at a third of the time-to-live,
//! register again when the registry has forgotten us (it restarted, or we were paused past our
//! lease), and deregister on shutdown.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tokio::sync::Notify;

use super::api::Registration;
use crate::health::Health;
use crate::plain::{self, PlainClient};

/// Registers one instance with the registry at `registry_url`.
#[derive(Debug, Clone)]
pub struct Registrar {
    registry_url: String,
    client: PlainClient,
}

/// Stops the heartbeat and deregisters.
#[derive(Debug, Clone)]
pub struct RegistrationHandle {
    stop: Arc<Notify>,
    done: Arc<Notify>,
}

impl RegistrationHandle {
    /// Stops heart-beating and deregisters (best effort, bounded in time).
    pub async fn deregister(&self) {
        let done = self.done.notified();
        self.stop.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
    }
}

impl Registrar {
    pub fn new(registry_url: &str) -> Registrar {
        Registrar {
            registry_url: registry_url.trim_end_matches('/').to_owned(),
            client: PlainClient::new(Duration::from_secs(2)),
        }
    }

    fn instance_url(&self, instance_id: &str) -> String {
        format!("{}/v1/registry/instances/{instance_id}", self.registry_url)
    }

    async fn register(&self, registration: &Registration) -> Result<(), plain::Error> {
        let _: serde_json::Value = self
            .client
            .send_json(
                Method::PUT,
                &self.instance_url(&registration.instance_id),
                registration,
            )
            .await?;
        Ok(())
    }

    /// Registers (retrying until the registry answers), marks `health` registered, and keeps the
    /// lease alive in the background until the handle deregisters.
    pub fn start(self, registration: Registration, health: Health) -> RegistrationHandle {
        let stop = Arc::new(Notify::new());
        let done = Arc::new(Notify::new());
        let handle = RegistrationHandle {
            stop: stop.clone(),
            done: done.clone(),
        };
        tokio::spawn(async move {
            let heartbeat_every = Duration::from_millis((registration.ttl_ms / 3).max(100));
            let mut backoff = Duration::from_millis(50);
            let mut registered = false;
            let mut warned = false;
            loop {
                let wait = if registered { heartbeat_every } else { backoff };
                if !registered {
                    match self.register(&registration).await {
                        Ok(()) => {
                            registered = true;
                            warned = false;
                            backoff = Duration::from_millis(50);
                            health.set_registered(true);
                            tracing::info!(registry = %self.registry_url, address = %registration.address, "registered");
                        }
                        Err(error) => {
                            if !warned {
                                tracing::warn!(%error, "cannot register yet; retrying");
                                warned = true;
                            }
                            backoff = (backoff * 2).min(Duration::from_secs(2));
                        }
                    }
                }
                tokio::select! {
                    _ = stop.notified() => break,
                    _ = tokio::time::sleep(if registered { heartbeat_every } else { wait }) => {}
                }
                if registered {
                    let url = format!("{}/heartbeat", self.instance_url(&registration.instance_id));
                    match self.client.send(Method::PUT, &url, None).await {
                        Ok(answer) if answer.status.is_success() => warned = false,
                        Ok(answer) if answer.status == StatusCode::NOT_FOUND => {
                            tracing::info!("the registry forgot this instance; registering again");
                            registered = false;
                            backoff = Duration::from_millis(0);
                        }
                        Ok(answer) => {
                            if !warned {
                                tracing::warn!(status = %answer.status, "heartbeat refused");
                                warned = true;
                            }
                        }
                        // Keep serving: the registry being away does not make us unhealthy, and
                        // clients keep their last known lists.
                        Err(error) => {
                            if !warned {
                                tracing::warn!(%error, "heartbeat failed; will keep trying");
                                warned = true;
                            }
                        }
                    }
                }
            }
            let _ = self
                .client
                .send(
                    Method::DELETE,
                    &self.instance_url(&registration.instance_id),
                    None,
                )
                .await;
            tracing::info!("deregistered");
            done.notify_one();
        });
        handle
    }
}
