//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The units of one SKU. `available = stock - held - committed`, never negative: the inventory
/// never promises a unit twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockLevel {
    pub sku: String,
    /// Units the shop has had in total (sold ones included).
    pub stock: u64,
    /// Units in reservations that are held: promised to an order, not yet sold.
    pub held: u64,
    /// Units sold (in committed reservations).
    pub committed: u64,
    pub available: u64,
}

/// `GET /v1/stock?skus=…`: the levels found, in the order asked (each SKU once), and the SKUs
/// the inventory does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockLevels {
    pub items: Vec<StockLevel>,
    pub missing: Vec<String>,
}

/// `PUT /v1/stock/{sku}`: the SKU's total stock (creating the SKU when it is new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStock {
    /// 0 to 1,000,000,000, and at least the units held and sold.
    #[schema(maximum = 1_000_000_000)]
    #[serde(deserialize_with = "brigade_chassis::openapi::whole::number")]
    pub stock: u64,
}

/// Units of one SKU in a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationLine {
    /// 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "brigade_chassis::openapi::whole::number")]
    pub quantity: u32,
}

/// `PUT /v1/reservations/{order_id}`: hold every line for the order, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// 1 to 100 lines, each SKU on one line only (two lines of one SKU are a 400).
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<ReservationLine>,
    /// How long the units stay held unless committed, in milliseconds (default
    /// [`crate::DEFAULT_TTL_MS`]): 1 s to 24 h.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "brigade_chassis::openapi::whole::optional"
    )]
    #[schema(minimum = 1000, maximum = 86_400_000)]
    pub ttl_ms: Option<u64>,
}

/// Where a reservation is in its life. `held` is the only state that holds units apart from
/// `committed`; `released` and `expired` hold none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// The units are promised to the order until `expires_at_ms`.
    Held,
    /// The units are sold.
    Committed,
    /// The order gave the units back.
    Released,
    /// Nobody committed it in time; the expiry sweep gave the units back.
    Expired,
}

impl ReservationStatus {
    pub const ALL: [ReservationStatus; 4] = [
        ReservationStatus::Held,
        ReservationStatus::Committed,
        ReservationStatus::Released,
        ReservationStatus::Expired,
    ];

    /// The name used on the wire (and in the store).
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Released => "released",
            ReservationStatus::Expired => "expired",
        }
    }

    /// The status named `name` on the wire.
    pub fn parse(name: &str) -> Option<ReservationStatus> {
        ReservationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The units reserved for one order. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    /// In the order first asked.
    pub lines: Vec<ReservationLine>,
    /// When a `held` reservation expires (kept, for the record, after it changes state).
    pub expires_at_ms: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// A line that could not be reserved: the `short` member of an `out-of-stock` or
/// `reservation-expired` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShortLine {
    pub sku: String,
    pub requested: u32,
    pub available: u64,
}

/// `GET /v1/audit`: every SKU whose counters disagree with its reservations. Empty, always,
/// unless something is badly wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Audit {
    pub violations: Vec<Violation>,
}

/// One SKU whose counters break a promise. Signed, because a broken counter may be negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Violation {
    pub sku: String,
    pub stock: i64,
    pub held: i64,
    pub committed: i64,
    pub available: i64,
    /// The sum of the SKU's lines in `held` reservations, which `held` must equal.
    pub held_by_reservations: i64,
    /// The sum of the SKU's lines in `committed` reservations, which `committed` must equal.
    pub committed_by_reservations: i64,
    /// Which promises are broken, in words.
    pub detail: String,
}
