//! The mailbox on SQLite or PostgreSQL: each shopper's messages, and what the service must know
//! to write them (who owns which order, refunds waiting for their order, shoppers' addresses).
//!
//! Writes from events ([`record`]) go through the transaction in which the chassis records the
//! event as applied; reads and the sender's bookkeeping ([`Store`]) use the pool.

mod record;
mod sql;

use brigade_chassis::db::Query;
use brigade_chassis::validation::Page;
use notifications_api::{Delivery, Message, MessageKind, MessagePage};
use uuid::Uuid;

pub use record::{record_owner, record_refund, record_user, write_message};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// `id, user_id, kind, subject, text_body, html_body, created_at_ms, delivery`.
type MessageRow = (String, String, String, String, String, String, i64, String);

/// A message due to be sent, with its recipient's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: Uuid,
    pub email: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

brigade_chassis::store_handle! {
    /// The mailbox: a pool handle (cheap to clone) on a store with [`crate::MIGRATIONS`] applied.
    pub struct Store;
}

impl Store {
    /// One page of `user_id`'s messages, newest first.
    pub async fn page(&self, user_id: Uuid, page: Page) -> Result<MessagePage, Error> {
        let user = user_id.to_string();
        let rows: Vec<MessageRow> = sql::user_page(&user, page).fetch_all(&self.db).await?;
        let (total,): (i64,) = Query::new(sql::COUNT_USER_MESSAGES)
            .bind(&user)
            .fetch_one(&self.db)
            .await?;
        Ok(MessagePage {
            items: rows.into_iter().map(message).collect::<Result<_, _>>()?,
            page: page.page,
            page_size: page.page_size,
            total: u64::try_from(total).unwrap_or_default(),
        })
    }

    /// `user_id`'s message `id`; none when there is none, or it is another shopper's.
    pub async fn message(&self, user_id: Uuid, id: Uuid) -> Result<Option<Message>, Error> {
        let row: Option<MessageRow> = Query::new(sql::USER_MESSAGE)
            .bind(id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.db)
            .await?;
        row.map(message).transpose()
    }

    /// Remembers the address the shopper's own token carries: where their email goes.
    pub async fn remember_address(&self, user_id: Uuid, email: &str) -> Result<(), Error> {
        Query::new(sql::REMEMBER_ADDRESS)
            .bind(user_id.to_string())
            .bind(email)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Up to `limit` pending messages due at `now_ms` whose recipient's address is known,
    /// oldest first.
    pub async fn due(&self, now_ms: i64, limit: i64) -> Result<Vec<Outgoing>, Error> {
        let rows: Vec<(String, String, String, String, String, i64)> = Query::new(sql::DUE)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(id, email, subject, text_body, html_body, attempts)| {
                Ok(Outgoing {
                    id: parse_id(&id, "message")?,
                    email,
                    subject,
                    text_body,
                    html_body,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Claims a due message for one sending attempt until `until_ms` (so that two instances do
    /// not send it at once): false when another instance claimed it, or it was sent.
    pub async fn claim(&self, id: Uuid, now_ms: i64, until_ms: i64) -> Result<bool, Error> {
        let claimed = Query::new(sql::CLAIM)
            .bind(until_ms)
            .bind(id.to_string())
            .bind(now_ms)
            .execute(&self.db)
            .await?;
        Ok(claimed == 1)
    }

    /// Records that the SMTP server took the message: it is never sent again.
    pub async fn mark_sent(&self, id: Uuid, now_ms: i64) -> Result<(), Error> {
        Query::new(sql::MARK_SENT)
            .bind(now_ms)
            .bind(id.to_string())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: the message stays pending, tried again at `retry_at_ms`.
    pub async fn mark_failed(&self, id: Uuid, retry_at_ms: i64, error: &str) -> Result<(), Error> {
        Query::new(sql::MARK_FAILED)
            .bind(retry_at_ms)
            .bind(error)
            .bind(id.to_string())
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

fn message(row: MessageRow) -> Result<Message, Error> {
    let (id, user_id, kind, subject, text_body, html_body, created_at_ms, delivery) = row;
    let corrupt = |reason: String| Error::corrupt(format!("message {id}"), reason);
    Ok(Message {
        id: parse_id(&id, "message")?,
        user_id: parse_id(&user_id, "message's user")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind}")))?,
        subject,
        text_body,
        html_body,
        created_at_ms: u64::try_from(created_at_ms).unwrap_or_default(),
        delivery: Delivery::parse(&delivery)
            .ok_or_else(|| corrupt(format!("unknown delivery {delivery}")))?,
    })
}

fn parse_id(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text).map_err(|e| Error::corrupt(format!("{what} id {text}"), e))
}
