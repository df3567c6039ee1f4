//! What several of the chassis's test modules share.

use axum::routing::post;
use axum::Router;
use brigade_chassis::db::{Migration, Query, Tx};
use brigade_chassis::events::{self, Envelope, Event, Handled, HandlerError};
use brigade_chassis::plain::{Answer, PlainClient};
use brigade_chassis::testing::Instance;
use brigade_chassis::Problem;
use http::{Method, StatusCode};

use crate::events::PRODUCER;
use serde::{Deserialize, Serialize};

/// The tests' event: account `account` ticked for the `n`-th time. A poison tick fails the
/// handlers of the events suite until they are cured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticked {
    pub account: String,
    pub n: i64,
    #[serde(default)]
    pub poison: bool,
}

impl Ticked {
    /// A tick that every handler applies.
    pub fn new(account: &str, n: i64) -> Ticked {
        Ticked {
            account: account.to_owned(),
            n,
            poison: false,
        }
    }
}

impl Event for Ticked {
    const SOURCE: &'static str = "ledger";
    const NAME: &'static str = "Ticked";
    const VERSION: u32 = 1;
    fn subject(&self) -> String {
        self.account.clone()
    }
}

/// Where the tests' handlers record what they apply: a row per application, deliberately not
/// idempotent by itself, so that a second application would show as a second row.
pub const EFFECTS: Migration = Migration {
    version: 1,
    name: "effects",
    sqlite: "CREATE TABLE effects (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, account TEXT NOT NULL, n INTEGER NOT NULL)",
    postgres: "CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, account TEXT NOT NULL, n BIGINT NOT NULL)",
};

/// A handler's effect: records `event`, delivered as `envelope`, in [`EFFECTS`]'s table, in the
/// handler's transaction `tx`.
pub async fn record_effect(tx: &mut Tx, event: &Ticked, envelope: &Envelope) -> Handled {
    Query::new("INSERT INTO effects (event_id, account, n) VALUES (?, ?, ?)")
        .bind(&envelope.id)
        .bind(&event.account)
        .bind(event.n)
        .execute(tx.conn())
        .await
        .map_err(HandlerError::failed)?;
    Ok(())
}

/// `GET url` through `client`: the answer (panics when there is none).
pub async fn get_answer(client: &PlainClient, url: &str) -> Answer {
    client.send(Method::GET, url, None).await.unwrap()
}

/// `GET url` through `client`: the status of the answer (panics when there is none).
pub async fn get_status(client: &PlainClient, url: &str) -> StatusCode {
    get_answer(client, url).await.status
}

/// `ledger` started with `flags` (a `--database-url` among them): each `POST /v1/ticks` writes a
/// `Ticked` to its outbox in the request's transaction, and answers 204.
pub async fn start_ticking_ledger(flags: &[&str]) -> Instance {
    Instance::start_custom(PRODUCER, flags, |mut ctx| async move {
        let db = ctx.open_store(&[events::OUTBOX_MIGRATION]).await?;
        let outbox = ctx.publish_events(&db).await?;
        // A change announced by an event, written in the request's transaction.
        Ok(Router::new().route(
            "/v1/ticks",
            post(move || async move {
                let mut tx = db.begin_write().await.map_err(|_| Problem::internal())?;
                outbox
                    .append(tx.conn(), &Ticked::new("a", 1))
                    .await
                    .map_err(|_| Problem::internal())?;
                tx.commit().await.map_err(|_| Problem::internal())?;
                outbox.wake();
                Ok::<_, Problem>(StatusCode::NO_CONTENT)
            }),
        ))
    })
    .await
}

/// The value of `series` (a name with its labels as exposed, `x_total{a="b"}`) in a Prometheus
/// text exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// Scrapes `instance` until `series` has a value that `wanted` accepts (for up to 20 s, then
/// fails saying what it saw); returns that exposition.
pub async fn wait_for_sample(
    instance: &Instance,
    series: &str,
    wanted: impl Fn(f64) -> bool,
) -> String {
    let mut exposition = String::new();
    for _ in 0..400 {
        exposition = instance.metrics().await;
        if sample(&exposition, series).is_some_and(&wanted) {
            return exposition;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{series} never reached the wanted value in 20 s; last seen {:?} in:\n{exposition}",
        sample(&exposition, series)
    );
}
