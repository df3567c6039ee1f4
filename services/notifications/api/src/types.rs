//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One message written to a shopper: what happened, as a subject line and a body in plain text
/// and in HTML (both made by the service from its own templates; whatever came from other
/// services in them is escaped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub user_id: Uuid,
    #[schema(inline)]
    pub kind: MessageKind,
    pub subject: String,
    pub text_body: String,
    /// A fragment of HTML (no `<html>` or `<body>`), safe to show as it is.
    pub html_body: String,
    pub created_at_ms: u64,
    #[schema(inline)]
    pub delivery: Delivery,
}

/// What a message is about: one kind per event the service turns into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Orders' `OrderConfirmed`: the order is paid and will be shipped.
    OrderConfirmed,
    /// Orders' `OrderCancelled`: the order will not be shipped, and why.
    OrderCancelled,
    /// Payments' `PaymentRefunded`: money went back to the card.
    PaymentRefunded,
    /// Shipping's `ShipmentCreated`: the parcel's tracking number.
    ShipmentCreated,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] = [
        MessageKind::OrderConfirmed,
        MessageKind::OrderCancelled,
        MessageKind::PaymentRefunded,
        MessageKind::ShipmentCreated,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::OrderConfirmed => "order_confirmed",
            MessageKind::OrderCancelled => "order_cancelled",
            MessageKind::PaymentRefunded => "payment_refunded",
            MessageKind::ShipmentCreated => "shipment_created",
        }
    }

    /// The kind named `name` on the wire, if any.
    pub fn parse(name: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How far a message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Waiting to be sent by email (SMTP is configured); retried until it is.
    Pending,
    /// Handed to the SMTP server.
    Sent,
    /// No email is sent (SMTP is not configured): the mailbox is the delivery.
    Stored,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Delivery::Pending, Delivery::Sent, Delivery::Stored];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Stored => "stored",
        }
    }

    /// The status named `name` on the wire, if any.
    pub fn parse(name: &str) -> Option<Delivery> {
        Delivery::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// `GET /v1/messages`: one page of the shopper's messages, newest first. `page` counts from 1;
/// `total` is the number of the shopper's messages on all pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub items: Vec<Message>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_travel_as_their_names() {
        for kind in MessageKind::ALL {
            let json = serde_json::to_value(kind).ok();
            assert_eq!(json, Some(serde_json::Value::from(kind.as_str())));
            assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
        }
        for status in Delivery::ALL {
            let json = serde_json::to_value(status).ok();
            assert_eq!(json, Some(serde_json::Value::from(status.as_str())));
            assert_eq!(Delivery::parse(status.as_str()), Some(status));
        }
        assert_eq!(MessageKind::parse("parcel"), None);
    }
}
