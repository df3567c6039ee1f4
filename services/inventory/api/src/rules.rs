//! The rules a request must follow, shared by the inventory and by callers that check early.
//!
//! Each `validate` turns what was sent into a value that can only exist when every rule holds,
//! with defaults applied, so that the server never re-checks or guesses.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::types::{ReservationLine, ReserveRequest, SetStock};
use brigade_chassis::problem::quoted;
pub use brigade_chassis::validation::ValidationError;

/// The longest SKU, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The most SKUs one stock query may name.
pub const MAX_STOCK_SKUS: usize = 100;
/// The most lines one reservation may have.
pub const MAX_LINES: usize = 100;
/// The most units of one SKU one reservation may hold.
pub const MAX_QUANTITY: u32 = 1000;
/// The largest total stock of a SKU: far above any real shelf, far below overflow.
pub const MAX_STOCK: u64 = 1_000_000_000;
/// How long a reservation is held when the request does not say.
pub const DEFAULT_TTL_MS: u64 = 10 * 60 * 1000;
/// The shortest hold: less would expire before a checkout could commit it.
pub const MIN_TTL_MS: u64 = 1000;
/// The longest hold: units held longer are units nobody can buy.
pub const MAX_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// Checks that `sku` has the shape of a SKU: 1 to [`MAX_SKU_CHARS`] ASCII letters, digits, `-`,
/// `_` or `.` (so that it is safe in a path and in a comma-separated list as it is).
pub fn validate_sku(parameter: &str, sku: &str) -> Result<(), ValidationError> {
    let well_formed = !sku.is_empty()
        && sku.len() <= MAX_SKU_CHARS
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if well_formed {
        Ok(())
    } else {
        Err(ValidationError::new(
            parameter,
            format!(
                "{} is not a SKU: SKUs are 1 to {MAX_SKU_CHARS} ASCII letters, digits, `-`, `_` or `.`, such as KIT-0001",
                quoted(sku)
            ),
        ))
    }
}

/// `GET /v1/stock` query string. Unknown parameters are refused rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    /// Comma-separated SKUs, at most [`MAX_STOCK_SKUS`] (a SKU named twice counts once); each
    /// 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(required = true, value_type = String, pattern = r"^[A-Za-z0-9._-]{1,64}(,[A-Za-z0-9._-]{1,64})*$")]
    pub skus: Option<String>,
}

impl StockQuery {
    /// The SKUs asked for, each once, in the order first named.
    pub fn validate(&self) -> Result<Vec<String>, ValidationError> {
        let Some(list) = self.skus.as_deref() else {
            return Err(ValidationError::new(
                "skus",
                "name the SKUs to look up, comma-separated: ?skus=KIT-0001,KIT-0002".to_owned(),
            ));
        };
        let mut seen = HashSet::new();
        let mut skus = Vec::new();
        for sku in list.split(',') {
            validate_sku("skus", sku)?;
            if seen.insert(sku) {
                skus.push(sku.to_owned());
            }
        }
        if skus.len() > MAX_STOCK_SKUS {
            return Err(ValidationError::new(
                "skus",
                format!(
                    "at most {MAX_STOCK_SKUS} SKUs per request, got {}",
                    skus.len()
                ),
            ));
        }
        Ok(skus)
    }
}

impl SetStock {
    /// The new total stock, checked against [`MAX_STOCK`].
    pub fn validate(&self) -> Result<u64, ValidationError> {
        if self.stock > MAX_STOCK {
            return Err(ValidationError::new(
                "stock",
                format!(
                    "stock must be between 0 and {MAX_STOCK}, got {}",
                    self.stock
                ),
            ));
        }
        Ok(self.stock)
    }
}

/// A reservation request that follows every rule, with its time-to-live defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedReservation {
    lines: Vec<ReservationLine>,
    ttl_ms: u64,
}

impl CheckedReservation {
    /// 1 to [`MAX_LINES`] lines, each SKU once, in the order asked.
    pub fn lines(&self) -> &[ReservationLine] {
        &self.lines
    }

    /// How long the units stay held, [`MIN_TTL_MS`] to [`MAX_TTL_MS`].
    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }
}

impl ReserveRequest {
    pub fn validate(&self) -> Result<CheckedReservation, ValidationError> {
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(ValidationError::new(
                "lines",
                format!(
                    "a reservation has 1 to {MAX_LINES} lines, got {}",
                    self.lines.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (index, line) in self.lines.iter().enumerate() {
            validate_sku(&format!("lines[{index}].sku"), &line.sku)?;
            if !(1..=MAX_QUANTITY).contains(&line.quantity) {
                return Err(ValidationError::new(
                    format!("lines[{index}].quantity"),
                    format!(
                        "quantity must be between 1 and {MAX_QUANTITY}, got {} for {}",
                        line.quantity, line.sku
                    ),
                ));
            }
            if !seen.insert(line.sku.as_str()) {
                return Err(ValidationError::new(
                    format!("lines[{index}].sku"),
                    format!(
                        "{} appears on more than one line; put its whole quantity on one line",
                        line.sku
                    ),
                ));
            }
        }
        let ttl_ms = self.ttl_ms.unwrap_or(DEFAULT_TTL_MS);
        if !(MIN_TTL_MS..=MAX_TTL_MS).contains(&ttl_ms) {
            return Err(ValidationError::new(
                "ttl_ms",
                format!(
                    "ttl_ms must be between {MIN_TTL_MS} (1 s) and {MAX_TTL_MS} (24 h), got {ttl_ms}"
                ),
            ));
        }
        Ok(CheckedReservation {
            lines: self.lines.clone(),
            ttl_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: u32) -> ReservationLine {
        ReservationLine {
            sku: sku.to_owned(),
            quantity,
        }
    }

    fn reserve(lines: Vec<ReservationLine>, ttl_ms: Option<u64>) -> ReserveRequest {
        ReserveRequest { lines, ttl_ms }
    }

    #[test]
    fn a_good_reservation_gets_the_default_ttl() {
        let checked = reserve(vec![line("KIT-0001", 2), line("BAG-0003", 1)], None)
            .validate()
            .unwrap();
        assert_eq!(checked.ttl_ms(), DEFAULT_TTL_MS);
        assert_eq!(checked.lines().len(), 2);
    }

    #[test]
    fn every_broken_rule_names_its_parameter() {
        let refused = |r: ReserveRequest| r.validate().unwrap_err().parameter;
        assert_eq!(refused(reserve(vec![], None)), "lines");
        assert_eq!(
            refused(reserve(vec![line("A", 1); MAX_LINES + 1], None)),
            "lines"
        );
        assert_eq!(
            refused(reserve(vec![line("A", 1), line("B", 0)], None)),
            "lines[1].quantity"
        );
        assert_eq!(
            refused(reserve(vec![line("A", MAX_QUANTITY + 1)], None)),
            "lines[0].quantity"
        );
        assert_eq!(
            refused(reserve(vec![line("A", 1), line("A", 2)], None)),
            "lines[1].sku"
        );
        assert_eq!(refused(reserve(vec![line("a b", 1)], None)), "lines[0].sku");
        assert_eq!(refused(reserve(vec![line("", 1)], None)), "lines[0].sku");
        assert_eq!(refused(reserve(vec![line("A", 1)], Some(999))), "ttl_ms");
        assert_eq!(
            refused(reserve(vec![line("A", 1)], Some(MAX_TTL_MS + 1))),
            "ttl_ms"
        );
        assert!(reserve(vec![line("A", 1)], Some(MIN_TTL_MS))
            .validate()
            .is_ok());
    }

    #[test]
    fn stock_queries_dedupe_and_refuse_bad_lists() {
        let query = |skus: Option<&str>| StockQuery {
            skus: skus.map(str::to_owned),
        };
        assert_eq!(
            query(Some("A,B,A")).validate().unwrap(),
            vec!["A".to_owned(), "B".to_owned()]
        );
        assert!(query(None).validate().is_err());
        assert!(query(Some("")).validate().is_err());
        assert!(query(Some("A,,B")).validate().is_err());
        let many: Vec<String> = (0..=MAX_STOCK_SKUS).map(|n| format!("S{n}")).collect();
        assert!(query(Some(&many.join(","))).validate().is_err());
        let exactly: Vec<String> = (0..MAX_STOCK_SKUS).map(|n| format!("S{n}")).collect();
        assert!(query(Some(&exactly.join(","))).validate().is_ok());
    }

    #[test]
    fn stock_is_bounded() {
        assert!(SetStock { stock: 0 }.validate().is_ok());
        assert!(SetStock { stock: MAX_STOCK }.validate().is_ok());
        assert!(SetStock {
            stock: MAX_STOCK + 1
        }
        .validate()
        .is_err());
    }
}
