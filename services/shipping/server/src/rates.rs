//! The rules of a quote, the whole of them, so that a cost can be checked by hand:
//!
//! | zone             | countries                                   | carrier        | first kg | each further kg | days |
//! |------------------|---------------------------------------------|----------------|---------:|----------------:|-----:|
//! | `domestic`       | FR                                          | Brigade Post   |   4.90 € |          1.00 € |    2 |
//! | `european_union` | the other 26 EU member states               | EuroParcel     |   9.90 € |          2.00 € |    4 |
//! | `europe`         | GB, CH, NO, IS, LI, MC, AD, SM              | EuroParcel     |  14.90 € |          3.00 € |    6 |
//! | `world`          | US, CA, AU, NZ, JP, KR, SG, HK, IL, AE, BR, MX, ZA, IN | WorldFreight | 24.90 € | 6.00 € | 10 |
//!
//! The weight is the sum of each line's quantity times its unit weight (500 g when not given);
//! a started kilogram counts whole. There is no free-shipping threshold: a quote knows items and
//! weights, not prices, so the cost is the table's.
//!
//! The estimated delivery is today (UTC) plus the zone's days. Any other country, well formed
//! or not, is one the shop does not ship to.

use catalog_api::Money;
use shipping_api::{Quote, QuoteRequest, Zone, DEFAULT_UNIT_WEIGHT_GRAMS};

/// The currency of every cost: the catalog's.
pub const CURRENCY: &str = "EUR";

const EU: [&str; 26] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];
const EUROPE: [&str; 8] = ["GB", "CH", "NO", "IS", "LI", "MC", "AD", "SM"];
const WORLD: [&str; 14] = [
    "US", "CA", "AU", "NZ", "JP", "KR", "SG", "HK", "IL", "AE", "BR", "MX", "ZA", "IN",
];

/// What shipping to a zone costs and takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub carrier: &'static str,
    /// The first (started) kilogram, in cents.
    pub first_kg_minor: i64,
    /// Each further started kilogram, in cents.
    pub further_kg_minor: i64,
    pub days: u32,
}

/// The zone `country` is in, or `None` when the shop does not ship there.
pub fn zone_of(country: &str) -> Option<Zone> {
    if country == "FR" {
        Some(Zone::Domestic)
    } else if EU.contains(&country) {
        Some(Zone::EuropeanUnion)
    } else if EUROPE.contains(&country) {
        Some(Zone::Europe)
    } else if WORLD.contains(&country) {
        Some(Zone::World)
    } else {
        None
    }
}

/// The zone's rate (the table above).
pub fn rate(zone: Zone) -> Rate {
    let (carrier, first_kg_minor, further_kg_minor, days) = match zone {
        Zone::Domestic => ("Brigade Post", 490, 100, 2),
        Zone::EuropeanUnion => ("EuroParcel", 990, 200, 4),
        Zone::Europe => ("EuroParcel", 1490, 300, 6),
        Zone::World => ("WorldFreight", 2490, 600, 10),
    };
    Rate {
        carrier,
        first_kg_minor,
        further_kg_minor,
        days,
    }
}

/// A country the shop does not ship to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the shop does not ship to {0}")]
pub struct UnknownCountry(pub String);

/// The quote for a valid `request` ([`QuoteRequest::validate`]) made at `now_ms` (Unix ms).
pub fn quote(request: &QuoteRequest, now_ms: u64) -> Result<Quote, UnknownCountry> {
    let zone = zone_of(&request.country).ok_or_else(|| UnknownCountry(request.country.clone()))?;
    let rate = rate(zone);
    let weight_grams: u64 = request
        .items
        .iter()
        .map(|item| {
            u64::from(item.quantity)
                * u64::from(item.unit_weight_grams.unwrap_or(DEFAULT_UNIT_WEIGHT_GRAMS))
        })
        .sum();
    // Valid requests weigh at most 100 × 1000 × 50 kg: far from overflowing.
    let started_kg = i64::try_from(weight_grams.div_ceil(1000).max(1)).unwrap_or(i64::MAX / 1000);
    let cost = rate.first_kg_minor + rate.further_kg_minor * (started_kg - 1);
    Ok(Quote {
        country: request.country.clone(),
        zone,
        carrier: rate.carrier.to_owned(),
        cost: Money {
            amount_minor: cost,
            currency: CURRENCY.to_owned(),
        },
        weight_grams,
        delivery_days: rate.days,
        estimated_delivery: delivery_date(now_ms, rate.days),
    })
}

/// The UTC day `days` after the day of `now_ms`, as `YYYY-MM-DD`.
pub fn delivery_date(now_ms: u64, days: u32) -> String {
    let seconds = i64::try_from(now_ms / 1000).unwrap_or(0);
    let today = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let day = today
        .checked_add(time::Duration::days(i64::from(days)))
        .unwrap_or(today);
    day.to_string()
}

#[cfg(test)]
mod tests {
    use shipping_api::QuoteItem;

    use super::*;

    /// 2026-12-06T10:00:00Z.
    const NOW_MS: u64 = 1_796_551_200_000;

    fn request(country: &str, items: &[(u32, Option<u32>)]) -> QuoteRequest {
        QuoteRequest {
            country: country.to_owned(),
            items: items
                .iter()
                .enumerate()
                .map(|(i, &(quantity, unit_weight_grams))| QuoteItem {
                    sku: format!("SKU-{i}"),
                    quantity,
                    unit_weight_grams,
                })
                .collect(),
        }
    }

    fn cost(country: &str, items: &[(u32, Option<u32>)]) -> i64 {
        quote(&request(country, items), NOW_MS)
            .unwrap()
            .cost
            .amount_minor
    }

    #[test]
    fn every_zone_has_its_price_for_the_first_kilogram() {
        assert_eq!(cost("FR", &[(1, None)]), 490);
        assert_eq!(cost("DE", &[(2, None)]), 990);
        assert_eq!(cost("GB", &[(1, Some(1000))]), 1490);
        assert_eq!(cost("US", &[(1, Some(1))]), 2490);
    }

    #[test]
    fn each_further_started_kilogram_adds_the_zones_price() {
        // 3 × 500 g = 1.5 kg: two started kilograms.
        assert_eq!(cost("FR", &[(3, None)]), 590);
        // 2 × 1.2 kg + 1 × 600 g = 3 kg exactly.
        assert_eq!(
            cost("IT", &[(2, Some(1200)), (1, Some(600))]),
            990 + 2 * 200
        );
        assert_eq!(cost("JP", &[(1, Some(10_001))]), 2490 + 10 * 600);
    }

    #[test]
    fn the_quote_says_who_carries_it_and_when_it_arrives() {
        let q = quote(&request("FR", &[(3, None)]), NOW_MS).unwrap();
        assert_eq!(q.zone, Zone::Domestic);
        assert_eq!(q.carrier, "Brigade Post");
        assert_eq!(q.weight_grams, 1500);
        assert_eq!(q.cost.currency, "EUR");
        assert_eq!(
            (q.delivery_days, q.estimated_delivery.as_str()),
            (2, "2026-12-08")
        );
        let world = quote(&request("AU", &[(1, None)]), NOW_MS).unwrap();
        assert_eq!(world.estimated_delivery, "2026-12-16");
    }

    #[test]
    fn a_country_outside_the_table_is_unknown() {
        for country in ["XX", "RU", "CN"] {
            assert_eq!(
                quote(&request(country, &[(1, None)]), NOW_MS),
                Err(UnknownCountry(country.to_owned()))
            );
        }
    }
}
