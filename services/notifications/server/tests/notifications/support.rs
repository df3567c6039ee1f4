//! What the tests share: stores, events as the producers publish them, delivery through the
//! chassis' inbox, and an SMTP sink on a real socket.

use std::sync::{Arc, Mutex};

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::{ApplyOutcome, Envelope, Event, Inbox, Subscription};
use notifications::events::{self, Write};
use notifications::{Store, MIGRATIONS};
use notifications_api::Delivery;
use orders_api::events::{OrderCancelled, OrderConfirmed};
use orders_api::{CancelReason, Money, OrderLine};
use payments_api::events::{Amount, PaymentRefunded};
use shipping_api::events::ShipmentCreated;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use users_api::events::UserRegistered;
use uuid::Uuid;

/// `db` with the service's schema.
pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store::new(db)
}

/// One line of `quantity` × a product named `name` at 12.50 EUR each.
pub fn line(name: &str, quantity: u32) -> OrderLine {
    let eur = |amount_minor| Money {
        amount_minor,
        currency: "EUR".into(),
    };
    OrderLine {
        product_id: Uuid::new_v4(),
        sku: "TST-0001".into(),
        name: name.into(),
        unit_price: eur(1250),
        quantity,
        line_total: eur(1250 * i64::from(quantity)),
    }
}

pub fn confirmed(user_id: Uuid, order_id: Uuid) -> OrderConfirmed {
    let lines = vec![line("Kettle", 2)];
    OrderConfirmed {
        order_id,
        user_id,
        total: lines[0].line_total.clone(),
        lines,
        charge_id: Some(Uuid::new_v4()),
        shipping_country: Some("FR".into()),
        cart_version: None,
    }
}

pub fn shipped(user_id: Uuid, order_id: Uuid) -> ShipmentCreated {
    ShipmentCreated {
        order_id,
        user_id,
        tracking_number: shipping_api::tracking_number(order_id),
        carrier: "Brigade Post".into(),
        estimated_delivery: "2026-12-08".into(),
    }
}

/// A sign-up as users publishes it (version 2), with `email` or, as a version 1 event read
/// today, without.
pub fn registered(user_id: Uuid, email: Option<&str>) -> UserRegistered {
    UserRegistered {
        user_id,
        registered_at_ms: 1_700_000_000_000,
        email: email.map(str::to_owned),
    }
}

pub fn cancelled(user_id: Uuid, order_id: Uuid, reason: CancelReason) -> OrderCancelled {
    OrderCancelled {
        order_id,
        user_id,
        reason,
        lines: vec![line("Teapot", 1)],
    }
}

pub fn refunded(order_id: Uuid, amount_minor: i64) -> PaymentRefunded {
    PaymentRefunded {
        refund_id: Uuid::new_v4(),
        charge_id: Uuid::new_v4(),
        order_id,
        amount: Amount {
            amount_minor,
            currency: "EUR".into(),
        },
    }
}

/// What the service's subscriptions write with `delivery`, by source.
pub fn subscription(source: &str, delivery: Delivery) -> Subscription {
    let write = Write { delivery };
    match source {
        "users" => events::users(write),
        "orders" => events::orders(write),
        "shipping" => events::shipping(write),
        _ => events::payments(write),
    }
}

/// `event` as its producer publishes it (the first of its subject).
pub fn envelope<E: Event>(event: &E) -> Envelope {
    Envelope::of(event, 1).unwrap()
}

/// Applies `envelope` through the chassis' inbox, as a delivery from either transport would.
pub async fn deliver(db: &Db, envelope: &Envelope, delivery: Delivery) -> ApplyOutcome {
    Inbox::new(db.clone())
        .apply(&subscription(&envelope.source, delivery), envelope, None)
        .await
        .unwrap()
}

/// Applies `event` in an envelope of its own, messages `stored`.
pub async fn apply<E: Event>(db: &Db, event: &E) -> ApplyOutcome {
    deliver(db, &envelope(event), Delivery::Stored).await
}

/// An SMTP server on 127.0.0.1 that keeps the DATA of every message it accepts. It refuses the
/// first `failures` messages with a transient 451, as a busy server does.
#[derive(Clone)]
pub struct SmtpSink {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<usize>>,
}

impl SmtpSink {
    pub async fn start(failures: usize) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let sink = SmtpSink {
            url,
            received: Arc::default(),
            failures: Arc::new(Mutex::new(failures)),
        };
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().converse(stream));
            }
        });
        sink
    }

    /// The messages accepted so far, each as its DATA.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    async fn converse(self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await?;
        while let Some(line) = lines.next_line().await? {
            let verb = line
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "DATA" => {
                    write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let mut data = String::new();
                    while let Some(line) = lines.next_line().await? {
                        if line == "." {
                            break;
                        }
                        data.push_str(&line);
                        data.push('\n');
                    }
                    self.accept(data)
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 OK\r\n",
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }

    fn accept(&self, data: String) -> &'static [u8] {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return b"451 4.3.0 busy, try again later\r\n";
        }
        self.received.lock().unwrap().push(data);
        b"250 queued\r\n"
    }
}
