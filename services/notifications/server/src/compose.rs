//! What each event says to the shopper: a [`Letter`] (subject, paragraphs, the order's lines)
//! made from the event, rendered by two askama templates checked at compile time
//! (`templates/letter.txt` and `templates/letter.html`, where askama escapes every value: product
//! names and whatever else came from other services cannot inject markup).

use askama::Template;
use notifications_api::MessageKind;
use orders_api::events::{OrderCancelled, OrderConfirmed};
use orders_api::{CancelReason, Money, OrderLine};
use payments_api::events::PaymentRefunded;
use uuid::Uuid;

/// A message ready to be stored: who it is for, what it tells, and its `origin` (the fact it
/// tells: the same fact announced twice is written once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub user_id: Uuid,
    pub kind: MessageKind,
    pub origin: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

impl Composed {
    /// The message's id: derived from its origin, so that it is the same on every instance.
    pub fn id(&self) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, self.origin.as_bytes())
    }
}

/// A template failed to render (a bug: the templates take only strings and numbers).
#[derive(Debug, thiserror::Error)]
#[error("rendering a {kind} message failed: {source}")]
pub struct RenderError {
    kind: &'static str,
    source: askama::Error,
}

/// What both templates show.
#[derive(Debug, Clone)]
struct Letter {
    subject: String,
    intro: String,
    lines: Vec<LetterLine>,
    total: Option<String>,
    outro: String,
    order_id: Uuid,
}

#[derive(Debug, Clone)]
struct LetterLine {
    name: String,
    quantity: u32,
    amount: String,
}

#[derive(Template)]
#[template(path = "letter.txt")]
struct TextLetter<'a> {
    letter: &'a Letter,
}

#[derive(Template)]
#[template(path = "letter.html")]
struct HtmlLetter<'a> {
    letter: &'a Letter,
}

/// "Your order is confirmed", with what was bought and paid.
pub fn order_confirmed(event: &OrderConfirmed) -> Result<Composed, RenderError> {
    let letter = Letter {
        subject: format!("Your order {} is confirmed", short(event.order_id)),
        intro: format!(
            "Thank you for your order. We received your payment of {} and are preparing it \
             for shipping.",
            money(&event.total)
        ),
        lines: lines(&event.lines),
        total: Some(money(&event.total)),
        outro: "We will write again when it ships.".to_owned(),
        order_id: event.order_id,
    };
    render(
        event.user_id,
        MessageKind::OrderConfirmed,
        event.order_id,
        &letter,
    )
}

/// "Your order was cancelled", with why and what that means for the shopper's money.
pub fn order_cancelled(event: &OrderCancelled) -> Result<Composed, RenderError> {
    let letter = Letter {
        subject: format!("Your order {} was cancelled", short(event.order_id)),
        intro: cancel_reason(event.reason).to_owned(),
        lines: lines(&event.lines),
        total: None,
        outro: "You can place the order again at any time.".to_owned(),
        order_id: event.order_id,
    };
    render(
        event.user_id,
        MessageKind::OrderCancelled,
        event.order_id,
        &letter,
    )
}

/// "We refunded you", for the owner of the refunded order (payments' event names the order only).
pub fn payment_refunded(user_id: Uuid, event: &PaymentRefunded) -> Result<Composed, RenderError> {
    let amount = minor_units(event.amount.amount_minor, &event.amount.currency);
    let letter = Letter {
        subject: format!("A refund of {amount} for order {}", short(event.order_id)),
        intro: format!(
            "We refunded {amount} to the card you paid order {} with.",
            event.order_id
        ),
        lines: Vec::new(),
        total: None,
        outro: "Refunds usually show on a card statement within a few days.".to_owned(),
        order_id: event.order_id,
    };
    render(
        user_id,
        MessageKind::PaymentRefunded,
        event.refund_id,
        &letter,
    )
}

/// "Your order has shipped", with its tracking number, from shipping's `ShipmentCreated`.
pub fn shipment_created(
    user_id: Uuid,
    shipment_id: Uuid,
    order_id: Uuid,
    tracking_number: &str,
) -> Result<Composed, RenderError> {
    let letter = Letter {
        subject: format!("Your order {} has shipped", short(order_id)),
        intro: format!("Your parcel is on its way: its tracking number is {tracking_number}."),
        lines: Vec::new(),
        total: None,
        outro: "Thank you for shopping with us.".to_owned(),
        order_id,
    };
    render(user_id, MessageKind::ShipmentCreated, shipment_id, &letter)
}

fn render(
    user_id: Uuid,
    kind: MessageKind,
    fact: Uuid,
    letter: &Letter,
) -> Result<Composed, RenderError> {
    let failed = |source| RenderError {
        kind: kind.as_str(),
        source,
    };
    Ok(Composed {
        user_id,
        kind,
        origin: format!("{}:{fact}", kind.as_str()),
        subject: letter.subject.clone(),
        text_body: TextLetter { letter }.render().map_err(failed)?,
        html_body: HtmlLetter { letter }.render().map_err(failed)?,
    })
}

fn cancel_reason(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::OutOfStock => {
            "We are sorry: an item of your order ran out of stock before we could reserve it. \
             Nothing was charged."
        }
        CancelReason::PaymentDeclined => {
            "Your card was declined, so the order could not be completed. Nothing was charged."
        }
        CancelReason::PaymentFailed => {
            "We could not complete the payment. Nothing stayed charged to your card."
        }
        CancelReason::ReservationExpired => {
            "An item of your order was no longer in stock when your payment arrived. Your \
             payment was refunded in full."
        }
        CancelReason::PaymentUnavailable => {
            "Our payment service could not be reached, so the order could not be completed. \
             Nothing was charged."
        }
    }
}

fn lines(lines: &[OrderLine]) -> Vec<LetterLine> {
    lines
        .iter()
        .map(|l| LetterLine {
            name: l.name.clone(),
            quantity: l.quantity,
            amount: money(&l.line_total),
        })
        .collect()
}

fn money(money: &Money) -> String {
    minor_units(money.amount_minor, &money.currency)
}

/// `1234`, `EUR` → `12.34 EUR`. Every currency Brigade sells in has cents.
fn minor_units(amount_minor: i64, currency: &str) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let cents = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", cents / 100, cents % 100)
}

/// The first block of an id: enough for a subject line, the body has the whole id.
fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_units_and_cents() {
        assert_eq!(minor_units(1234, "EUR"), "12.34 EUR");
        assert_eq!(minor_units(5, "USD"), "0.05 USD");
        assert_eq!(minor_units(-150, "EUR"), "-1.50 EUR");
    }

    #[test]
    fn a_shipment_says_its_tracking_number_and_is_one_message_per_shipment() {
        let (user, shipment, order) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let composed = shipment_created(user, shipment, order, "BRG<123>").ok();
        let composed = composed.as_ref();
        assert_eq!(composed.map(|c| c.kind), Some(MessageKind::ShipmentCreated));
        assert_eq!(
            composed.map(|c| c.origin.clone()),
            Some(format!("shipment_created:{shipment}"))
        );
        assert!(composed.is_some_and(|c| c.text_body.contains("tracking number is BRG<123>")));
        assert!(composed.is_some_and(|c| !c.html_body.contains("BRG<123>")));
    }

    #[test]
    fn names_from_other_services_are_escaped_in_html_only() {
        let letter = Letter {
            subject: "s".to_owned(),
            intro: "i".to_owned(),
            lines: vec![LetterLine {
                name: "<script>alert(1)</script>".to_owned(),
                quantity: 2,
                amount: "1.00 EUR".to_owned(),
            }],
            total: Some("2.00 EUR".to_owned()),
            outro: "o".to_owned(),
            order_id: Uuid::from_u128(1),
        };
        let composed = render(
            Uuid::from_u128(2),
            MessageKind::OrderConfirmed,
            Uuid::from_u128(1),
            &letter,
        );
        let Ok(composed) = composed else {
            panic!("the templates render");
        };
        assert!(
            !composed.html_body.contains("<script>"),
            "{}",
            composed.html_body
        );
        assert!(
            composed.html_body.contains("&#60;script&#62;")
                || composed.html_body.contains("&lt;script&gt;")
        );
        assert!(
            composed
                .text_body
                .contains("2 x <script>alert(1)</script>: 1.00 EUR"),
            "{}",
            composed.text_body
        );
        assert!(composed.text_body.contains("Total: 2.00 EUR"));
        assert_eq!(
            composed.origin,
            format!("order_confirmed:{}", Uuid::from_u128(1))
        );
    }
}
