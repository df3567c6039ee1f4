//! The arithmetic over the whole sample table: what a shopper's money becomes, and back.

use currency_api::conversion::convert;
use currency_api::{Currency, MAX_AMOUNT_MINOR};

use crate::support::sample;

/// How many minor units of `c` one euro buys, times 10⁸ (`rate × 10^exponent`): an amount of
/// `a` is worth `amount × weight(b) / weight(a)` minor units of `b`.
fn weight(c: &Currency) -> i128 {
    i128::from(c.rate.scaled()) * 10_i128.pow(c.exponent)
}

#[test]
fn every_round_trip_comes_back_within_the_rounding_of_the_coarser_unit() {
    let table = sample();
    for a in &table.items {
        for b in &table.items {
            for amount in [0, 1, 7, 99, 1234, 100_000, 987_654_321] {
                let there = convert(amount, a, b).unwrap();
                let back = convert(there, b, a).unwrap();
                // Going there rounds by at most half a unit of `b`, which is worth
                // weight(a) / weight(b) units of `a`; coming back rounds by half a unit of `a`:
                // |back − amount| ≤ weight(a) / (2 weight(b)) + 1/2.
                let error = i128::from((back - amount).abs());
                assert!(
                    2 * error * weight(b) <= weight(a) + weight(b),
                    "{amount} {} → {there} {} → {back}",
                    a.code,
                    b.code
                );
                if a.code == b.code {
                    assert_eq!((there, back), (amount, amount));
                }
            }
        }
    }
}

#[test]
fn amounts_in_the_sample_convert_as_worked_out_by_hand() {
    let table = sample();
    let get = |code: &str| table.items.iter().find(|c| c.code == code).unwrap();
    for (amount, from, to, expected) in [
        // 12.34 USD × 180.87 / 1.1645 = 1916.647… yen.
        (1234, "USD", "JPY", 1917),
        // 10 EUR = 3.573 KWD: three decimal places.
        (1000, "EUR", "KWD", 3573),
        // 100 EUR = 171,243 won.
        (10_000, "EUR", "KRW", 171_243),
        // 2.50 EUR = 2.182875 GBP → 2.18.
        (250, "EUR", "GBP", 218),
    ] {
        assert_eq!(
            convert(amount, get(from), get(to)),
            Some(expected),
            "{from} → {to}"
        );
    }
    // The largest amount accepted converts exactly unless the result does not fit in 64 bits,
    // which takes a pair more than 9,223 minor units apart (an Australian cent is some 11,000 rupiah cents):
    // then the conversion is refused, never wrapped.
    let (aud, idr) = (get("AUD"), get("IDR"));
    assert_eq!(convert(MAX_AMOUNT_MINOR, aud, idr), None);
    assert_eq!(
        convert(MAX_AMOUNT_MINOR / 10, aud, idr),
        Some(1_103_099_784_066_371_179)
    );
    assert_eq!(convert(MAX_AMOUNT_MINOR, idr, aud), Some(90_653_630_292));
}
