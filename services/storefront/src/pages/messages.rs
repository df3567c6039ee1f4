//! `/messages` (the signed-in shopper's messages, newest first) and `/messages/{id}` (one
//! message). The messages are written by the notifications service from its own templates,
//! which escape everything that came from elsewhere: the page shows a message's HTML body as
//! it is, and escapes its subject like any other text.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Error as ClientError;
use notifications_api::{ListMessages, Message, MessageKind};
use uuid::Uuid;

use crate::layout::Layout;
use crate::session::SessionHandle;
use crate::{failure, Storefront};

const PAGE_SIZE: u32 = 20;

/// A message in the list: what it is about, and when.
pub struct MessageSummary {
    id: Uuid,
    subject: String,
    about: &'static str,
    sent_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    messages: Vec<MessageSummary>,
    previous: Option<String>,
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    message: MessageSummary,
    /// The notifications service's own rendering (its values escaped there).
    html_body: String,
}

impl MessageSummary {
    fn of(message: &Message) -> MessageSummary {
        MessageSummary {
            id: message.id,
            subject: message.subject.clone(),
            about: match message.kind {
                MessageKind::OrderConfirmed => "Order confirmed",
                MessageKind::OrderCancelled => "Order cancelled",
                MessageKind::PaymentRefunded => "Refund",
                MessageKind::ShipmentCreated => "Shipment",
            },
            sent_at: super::when(message.created_at_ms),
        }
    }
}

fn messages_failed(session: &SessionHandle, error: &ClientError, back: &str) -> Response {
    super::own_call_failed(session, error, back, "message", "Your messages")
}

/// The shopper's messages, newest first, a page at a time.
pub async fn list(
    session: SessionHandle,
    RawQuery(raw): RawQuery,
    State(shop): State<Storefront>,
) -> Response {
    let Some(shopper) = session.shopper() else {
        return super::to_log_in(&session, "/messages", "Log in to see your messages.")
            .into_response();
    };
    let page = super::page_number(raw.as_deref());
    let asked = ListMessages {
        page: Some(page),
        page_size: Some(PAGE_SIZE),
    };
    match shop.notifications.messages(&shopper.token, &asked).await {
        Ok(found) => {
            MessagesPage::of(Layout::new(&session, "Your messages"), &found).into_response()
        }
        Err(error) => messages_failed(&session, &error, "/messages"),
    }
}

impl MessagesPage {
    fn of(layout: Layout, found: &notifications_api::MessagePage) -> MessagesPage {
        let (previous, next) = super::pager("/messages", found.page, found.page_size, found.total);
        MessagesPage {
            layout,
            messages: found.items.iter().map(MessageSummary::of).collect(),
            previous,
            next,
        }
    }
}

/// One of the shopper's messages, with its body.
pub async fn show(
    session: SessionHandle,
    Path(id): Path<String>,
    State(shop): State<Storefront>,
) -> Response {
    let back = format!("/messages/{id}");
    let Some(shopper) = session.shopper() else {
        return super::to_log_in(&session, &back, "Log in to see your messages.").into_response();
    };
    let Some(id) = super::parse_id(&id) else {
        return failure::not_found(&session, "message");
    };
    match shop.notifications.message(&shopper.token, id).await {
        Ok(message) => MessagePage {
            layout: Layout::new(&session, "Your message"),
            message: MessageSummary::of(&message),
            html_body: message.html_body,
        }
        .into_response(),
        Err(error) => messages_failed(&session, &error, &back),
    }
}
