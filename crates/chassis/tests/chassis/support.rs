//! What several of the chassis's test modules share.

use brigade_chassis::events::Event;
use brigade_chassis::plain::PlainClient;
use http::{Method, StatusCode};
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

/// `GET url` through `client`: the status of the answer (panics when there is none).
pub async fn get_status(client: &PlainClient, url: &str) -> StatusCode {
    client.send(Method::GET, url, None).await.unwrap().status
}
