//! Email delivery: a periodic pass of every instance sends the pending messages through the
//! configured SMTP server ([`Sender::pass`]).
//!
//! A message is sent from the store, never from memory: it stays `pending` until the SMTP
//! server accepted it and that is recorded (`sent`), so a restart loses none. Each attempt first
//! claims the message for [`CLAIM`] (a conditional update), so two instances do not send it at
//! once; a failed attempt is tried again after a backoff that doubles up to [`MAX_BACKOFF`]. A
//! message whose success is recorded is never sent again; one sent but not recorded (the process
//! died between the two) is sent again: delivery is at least once.

use std::ops::Bound;
use std::time::Duration;

use brigade_chassis::service::duration_within;
use brigade_chassis::time::now_ms;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::{self, Outgoing, Store};

/// How long one attempt owns a message: well above [`SEND_TIMEOUT`].
pub const CLAIM: Duration = Duration::from_secs(60);
/// The longest one SMTP conversation may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// The first retry's delay; each failure doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest delay between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// The most messages one pass sends.
const BATCH: i64 = 50;

/// The SMTP URL flag's parser: what lettre reads (`smtp://host:port` in plain text, for a relay
/// on the same machine; `smtp://host?tls=required` for STARTTLS; `smtps://host` for TLS;
/// `user:password@` before the host to log in).
pub fn smtp_url(url: &str) -> Result<String, String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| url.to_owned())
        .map_err(|e| format!("not an SMTP URL lettre can use: {e}"))
}

/// The delivery interval flag's parser: a duration (`250ms`, `1s`) above zero (a timer cannot
/// tick every zero seconds).
pub fn interval(text: &str) -> Result<Duration, String> {
    duration_within(text, (Bound::Excluded(Duration::ZERO), Bound::Unbounded))
}

/// Sends the store's pending messages. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    store: Store,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("from", &self.from).finish()
    }
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the SMTP URL is unusable: {0}")]
    Url(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Sender {
    /// A sender through the SMTP server at `url` (see [`smtp_url`]), from `from`.
    pub fn new(store: Store, url: &str, from: Mailbox) -> Result<Sender, Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Sender {
            store,
            transport,
            from,
        })
    }

    /// Sends every due message (up to a batch), each claimed first; answers how many were sent.
    /// A failed message is kept for later; only the store's failure ends the pass early.
    pub async fn pass(&self) -> Result<usize, Error> {
        let now = now_ms();
        let claim_ms = i64::try_from(CLAIM.as_millis()).unwrap_or(i64::MAX);
        let mut sent = 0;
        for message in self.store.due(now, BATCH).await? {
            if !self.store.claim(message.id, now, now + claim_ms).await? {
                continue;
            }
            match self.send(&message).await {
                Ok(()) => {
                    self.store.mark_sent(message.id, now_ms()).await?;
                    sent += 1;
                }
                Err(error) => {
                    let delay = backoff(message.attempts);
                    tracing::warn!(message = %message.id, %error, ?delay, "sending a message failed; trying again later");
                    let retry_at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                    self.store.mark_failed(message.id, retry_at, &error).await?;
                }
            }
        }
        Ok(sent)
    }

    async fn send(&self, message: &Outgoing) -> Result<(), String> {
        let to: Mailbox = message
            .email
            .parse()
            .map_err(|e| format!("the address is unusable: {e}"))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .message_id(Some(format!("<{}@notifications.brigade>", message.id)))
            .multipart(MultiPart::alternative_plain_html(
                message.text_body.clone(),
                message.html_body.clone(),
            ))
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The delay after `failures` failed attempts: [`FIRST_BACKOFF`] doubled each time, at most
/// [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(failures.min(20)))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_bound() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn smtp_urls_are_checked_at_start() {
        assert!(smtp_url("smtp://127.0.0.1:2525").is_ok());
        assert!(smtp_url("smtps://mail.example.com").is_ok());
        assert!(smtp_url("http://example.com").is_err());
    }
}
