//! Shipments on SQLite or PostgreSQL: one per order, made in the transaction that applies the
//! order's `OrderConfirmed`, with its `ShipmentCreated` appended to the outbox in that same
//! transaction only when the row was really inserted, so that a repeat announces nothing.

use brigade_chassis::db::{Db, Query, Tx};
use brigade_chassis::events::Outbox;
use shipping_api::events::ShipmentCreated;
use shipping_api::{Shipment, ShipmentStatus};
use uuid::Uuid;

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// What making a shipment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// The shipment was made now, and announced.
    Now,
    /// The order had its shipment already: nothing changed, nothing announced.
    Before,
}

/// The columns of a shipment, in [`ShipmentRow`]'s order.
const COLUMNS: &str = "order_id, user_id, status, tracking_number, carrier, country, \
     estimated_delivery, created_at_ms";

type ShipmentRow = (String, String, String, String, String, String, String, i64);

/// The shipping store. Cheap to clone: a pool handle and the outbox's.
#[derive(Debug, Clone)]
pub struct Store {
    /// With [`crate::MIGRATIONS`] applied.
    pub db: Db,
    /// Woken after each commit that wrote an event.
    pub outbox: Outbox,
}

impl Store {
    /// The order's shipment, if it has one.
    pub async fn shipment(&self, order_id: Uuid) -> Result<Option<Shipment>, Error> {
        let rows: Vec<ShipmentRow> = Query::new(&format!(
            "SELECT {COLUMNS} FROM shipments WHERE order_id = ?"
        ))
        .bind(order_id)
        .fetch_all(&self.db)
        .await?;
        rows.into_iter().next().map(shipment).transpose()
    }

    /// Makes `shipment` in its own transaction (what the event handler does inside the inbox's).
    pub async fn make(&self, shipment: &Shipment) -> Result<Made, Error> {
        let mut tx = self.db.begin_write().await?;
        let made = make_in(&mut tx, &self.outbox, shipment).await?;
        tx.commit().await?;
        if made == Made::Now {
            self.outbox.wake();
        }
        Ok(made)
    }
}

/// Inserts `shipment` unless its order has one, and announces it when inserted, in `tx`.
pub async fn make_in(tx: &mut Tx, outbox: &Outbox, shipment: &Shipment) -> Result<Made, Error> {
    let inserted = Query::new(&format!(
        "INSERT INTO shipments ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (order_id) DO NOTHING"
    ))
    .bind(shipment.order_id)
    .bind(shipment.user_id)
    .bind(shipment.status.as_str())
    .bind(shipment.tracking_number.clone())
    .bind(shipment.carrier.clone())
    .bind(shipment.country.clone())
    .bind(shipment.estimated_delivery.clone())
    .bind(i64::try_from(shipment.created_at_ms).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    if inserted == 0 {
        return Ok(Made::Before);
    }
    let event = ShipmentCreated {
        order_id: shipment.order_id,
        user_id: shipment.user_id,
        tracking_number: shipment.tracking_number.clone(),
        carrier: shipment.carrier.clone(),
        estimated_delivery: shipment.estimated_delivery.clone(),
    };
    outbox.append(tx.conn(), &event).await?;
    Ok(Made::Now)
}

fn uuid(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text).map_err(|_| Error::corrupt(what, format!("`{text}` is not a UUID")))
}

fn shipment(row: ShipmentRow) -> Result<Shipment, Error> {
    let (order_id, user_id, status, tracking_number, carrier, country, estimated, created) = row;
    Ok(Shipment {
        order_id: uuid(&order_id, "order id")?,
        user_id: uuid(&user_id, "user id")?,
        status: ShipmentStatus::parse(&status)
            .ok_or_else(|| Error::corrupt("shipment status", format!("`{status}` is unknown")))?,
        tracking_number,
        carrier,
        country,
        estimated_delivery: estimated,
        created_at_ms: u64::try_from(created).unwrap_or(0),
    })
}
