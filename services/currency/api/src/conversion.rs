//! The arithmetic of converting, exact in 128-bit integers. It lives in the contract so that the
//! service (`GET /v1/convert`) and callers that convert many amounts locally from one
//! `GET /v1/currencies` (the storefront's prices) compute the same minor unit for every amount.
//!
//! An amount `a` in minor units of `from` is `a ÷ 10^e_from` units, which is worth
//! `a ÷ 10^e_from ÷ r_from` euros, which buy `a ÷ 10^e_from × r_to ÷ r_from` units of `to`, that
//! is `a × r_to × 10^e_to ÷ (r_from × 10^e_from)` minor units. The numerator and denominator are
//! integers (rates are counted in 10⁻⁸ units, which cancel), so the one division is done exactly
//! and rounded once, half to even (banker's rounding: a tie goes to the even neighbour, so ties
//! do not drift in one direction over many conversions). With amounts up to
//! `MAX_AMOUNT_MINOR` (10^15), rates up to 10^17 units of 10⁻⁸ and exponents up to 4, the
//! numerator stays below 10^37, within `i128`.

use catalog_api::Money;

use crate::rate::{format_scaled, RATE_SCALE};
use crate::types::{Currency, CurrencyList};

/// `amount_minor` minor units of `from` in minor units of `to`, rounded half to even; `None`
/// when the result does not fit an `i64` (only for absurd amounts between extreme rates).
pub fn convert(amount_minor: i64, from: &Currency, to: &Currency) -> Option<i64> {
    let numerator = i128::from(amount_minor)
        .checked_mul(i128::from(to.rate.scaled()))?
        .checked_mul(10_i128.checked_pow(to.exponent)?)?;
    let denominator =
        i128::from(from.rate.scaled()).checked_mul(10_i128.checked_pow(from.exponent)?)?;
    i64::try_from(divide_half_even(numerator, denominator)?).ok()
}

impl CurrencyList {
    /// The currency `code`, if the table has it.
    pub fn currency(&self, code: &str) -> Option<&Currency> {
        self.items.iter().find(|c| c.code == code)
    }

    /// `money` in `to`, converted exactly as the service converts it; `None` when the table
    /// lacks either currency or the result does not fit an `i64`.
    pub fn convert(&self, money: &Money, to: &str) -> Option<Money> {
        let from = self.currency(&money.currency)?;
        let to = self.currency(to)?;
        Some(Money {
            amount_minor: convert(money.amount_minor, from, to)?,
            currency: to.code.clone(),
        })
    }
}

/// Units of `to` one unit of `from` buys, rounded half to even to 8 decimal places, for showing.
pub fn cross_rate(from: &Currency, to: &Currency) -> String {
    let numerator = i128::from(to.rate.scaled()) * i128::from(RATE_SCALE);
    let scaled = divide_half_even(numerator, i128::from(from.rate.scaled())).unwrap_or_default();
    format_scaled(scaled)
}

/// `numerator ÷ denominator` rounded to the nearest integer, a tie to the even one. `None` for a
/// denominator that is not positive.
pub fn divide_half_even(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator <= 0 {
        return None;
    }
    let quotient = numerator.div_euclid(denominator);
    let twice_remainder = 2 * numerator.rem_euclid(denominator);
    let up = twice_remainder > denominator
        || (twice_remainder == denominator && quotient.rem_euclid(2) == 1);
    Some(quotient + i128::from(up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::Rate;

    fn currency(code: &str, exponent: u32, rate: &str) -> Currency {
        Currency {
            code: code.into(),
            name: code.into(),
            exponent,
            rate: rate.parse::<Rate>().unwrap_or(Rate::ONE),
        }
    }

    #[test]
    fn halves_go_to_the_even_neighbour_and_the_rest_to_the_nearest() {
        for (n, d, q) in [
            (5, 2, 2),
            (7, 2, 4),
            (1, 2, 0),
            (3, 2, 2),
            (-5, 2, -2),
            (-7, 2, -4),
            (10, 4, 2),
            (11, 4, 3),
            (9, 4, 2),
            (1, 3, 0),
            (2, 3, 1),
            (0, 7, 0),
        ] {
            assert_eq!(divide_half_even(n, d), Some(q), "{n} / {d}");
        }
        assert_eq!(divide_half_even(1, 0), None);
    }

    #[test]
    fn amounts_scale_between_minor_units_and_ties_round_to_even() {
        let eur = currency("EUR", 2, "1");
        let jpy = currency("JPY", 0, "160");
        let kwd = currency("KWD", 3, "0.35");
        let half = currency("XHF", 2, "0.5");
        let yen150 = currency("JPY", 0, "150");
        for (amount, from, to, expected, why) in [
            (1234, &eur, &jpy, 1974, "12.34 EUR = 1974.4 yen"),
            (1974, &jpy, &eur, 1234, "1974 yen = 1233.75 cents"),
            (100, &eur, &kwd, 350, "1 EUR = 0.350 KWD, 350 fils"),
            (1, &kwd, &eur, 0, "1 fils = 0.2857 cents"),
            (1, &eur, &half, 0, "0.5 cent: a tie, to even 0"),
            (3, &eur, &half, 2, "1.5 cents: a tie, to even 2"),
            (5, &eur, &half, 2, "2.5 cents: a tie, to even 2"),
            (7, &eur, &half, 4, "3.5 cents: a tie, to even 4"),
            (1, &eur, &yen150, 2, "1.5 yen: a tie, to even 2"),
            (3, &eur, &yen150, 4, "4.5 yen: a tie, to even 4"),
            (2, &half, &yen150, 6, "0.04 EUR = 6 yen exactly"),
        ] {
            assert_eq!(convert(amount, from, to), Some(expected), "{why}");
        }
    }

    #[test]
    fn the_same_currency_converts_to_itself_exactly() {
        for c in [currency("USD", 2, "1.1645"), currency("IDR", 2, "19412.35")] {
            for amount in [0, 1, 999, 123_456_789, crate::MAX_AMOUNT_MINOR] {
                assert_eq!(convert(amount, &c, &c), Some(amount));
            }
        }
    }

    #[test]
    fn the_largest_amounts_between_extreme_rates_never_overflow_silently() {
        let max = crate::MAX_AMOUNT_MINOR;
        let tiny = currency("XTI", 0, "0.00000001");
        let huge = currency("XHU", 4, "1000000000");
        assert_eq!(convert(max, &tiny, &huge), None, "too large for i64");
        assert_eq!(convert(max, &huge, &tiny), Some(0));
        assert_eq!(
            convert(1, &currency("EUR", 2, "1"), &huge),
            Some(100_000_000_000)
        );
    }

    #[test]
    fn a_table_converts_money_between_the_currencies_it_has() {
        let table = CurrencyList {
            base: "EUR".into(),
            date: "2026-12-04".into(),
            items: vec![currency("EUR", 2, "1"), currency("JPY", 0, "160")],
        };
        let euros = Money {
            amount_minor: 1234,
            currency: "EUR".into(),
        };
        let yen = table.convert(&euros, "JPY");
        assert_eq!(yen.as_ref().map(|m| m.amount_minor), Some(1974));
        assert_eq!(yen.map(|m| m.currency), Some("JPY".to_owned()));
        assert_eq!(table.convert(&euros, "EUR"), Some(euros.clone()));
        assert_eq!(table.convert(&euros, "USD"), None, "no rate for USD");
    }

    #[test]
    fn cross_rates_are_shown_to_8_places() {
        let usd = currency("USD", 2, "1.1645");
        let jpy = currency("JPY", 0, "180.87");
        assert_eq!(cross_rate(&usd, &jpy), "155.31987978");
        assert_eq!(cross_rate(&usd, &usd), "1");
        assert_eq!(cross_rate(&jpy, &usd), "0.00643833");
    }
}
