//! Exact decimal rates. A rate is an integer count of 10⁻⁸ units, so that arithmetic on it is
//! exact; on the wire it is a decimal string (`"1.0575"`), never a JSON number, which most
//! clients would read as a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most decimal places a rate has.
pub const RATE_DECIMALS: u32 = 8;
/// One unit, in the rate's integer representation (10^[`RATE_DECIMALS`]).
pub const RATE_SCALE: i64 = 100_000_000;
/// The largest rate accepted, in units: far above any currency's rate against the euro (the
/// largest are in the tens of thousands), and small enough that every conversion of an accepted
/// amount is exact in 128-bit integers.
const MAX_RATE_UNITS: i64 = 1_000_000_000;

/// How many units of a currency one unit of the base buys, exactly, to [`RATE_DECIMALS`] places.
/// Always positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(i64);

impl Rate {
    /// The base's own rate.
    pub const ONE: Rate = Rate(RATE_SCALE);

    /// The rate of `scaled` 10⁻⁸ units, when positive and not above the largest rate.
    pub fn from_scaled(scaled: i64) -> Option<Rate> {
        (scaled > 0 && scaled <= MAX_RATE_UNITS * RATE_SCALE).then_some(Rate(scaled))
    }

    /// The rate in 10⁻⁸ units.
    pub fn scaled(self) -> i64 {
        self.0
    }
}

/// Why a text is not a rate, said for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a rate is a positive decimal number such as 1.0575, with at most {RATE_DECIMALS} decimal \
     places and at most {MAX_RATE_UNITS}"
)]
pub struct NotARate;

impl FromStr for Rate {
    type Err = NotARate;

    /// Digits, then optionally a point and 1 to 8 digits: no sign, exponent or spaces.
    fn from_str(text: &str) -> Result<Rate, NotARate> {
        let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(units)
            || (text.contains('.') && !digits(fraction))
            || fraction.len() > RATE_DECIMALS as usize
            || units.len() > 10
        {
            return Err(NotARate);
        }
        let units: i64 = units.parse().map_err(|_| NotARate)?;
        let padded = format!("{fraction:0<width$}", width = RATE_DECIMALS as usize);
        let fraction: i64 = padded.parse().map_err(|_| NotARate)?;
        units
            .checked_mul(RATE_SCALE)
            .and_then(|u| u.checked_add(fraction))
            .and_then(Rate::from_scaled)
            .ok_or(NotARate)
    }
}

/// `scaled` 10⁻⁸ units as a decimal without trailing zeros (`108750000` is `1.0875`, `RATE_SCALE`
/// is `1`).
pub fn format_scaled(scaled: i128) -> String {
    let scale = i128::from(RATE_SCALE);
    let sign = if scaled < 0 { "-" } else { "" };
    let (units, fraction) = (scaled.abs() / scale, scaled.abs() % scale);
    if fraction == 0 {
        return format!("{sign}{units}");
    }
    let fraction = format!("{fraction:0width$}", width = RATE_DECIMALS as usize);
    format!("{sign}{units}.{}", fraction.trim_end_matches('0'))
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0)))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_and_written_exactly() {
        for (text, scaled, shown) in [
            ("1", RATE_SCALE, "1"),
            ("1.0575", 105_750_000, "1.0575"),
            ("180.520", 18_052_000_000, "180.52"),
            ("0.00000001", 1, "0.00000001"),
            ("19289.43", 1_928_943_000_000, "19289.43"),
            ("1000000000", MAX_RATE_UNITS * RATE_SCALE, "1000000000"),
        ] {
            let rate: Rate = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(rate.scaled(), scaled, "{text}");
            assert_eq!(rate.to_string(), shown, "{text}");
            let json = serde_json::to_value(rate).ok();
            assert_eq!(json, Some(serde_json::Value::String(shown.to_owned())));
            assert_eq!(
                serde_json::from_value::<Rate>(json.unwrap_or_default()).ok(),
                Some(rate)
            );
        }
    }

    #[test]
    fn anything_else_is_not_a_rate() {
        for text in [
            "",
            "0",
            "0.0",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1.",
            ".5",
            "1.123456789",
            "abc",
            "1,5",
            "1000000000.5",
            "99999999999",
            "NaN",
        ] {
            assert_eq!(text.parse::<Rate>(), Err(NotARate), "{text}");
        }
        assert!(
            serde_json::from_str::<Rate>("1.5").is_err(),
            "a JSON number"
        );
    }

    #[test]
    fn scaled_values_format_with_their_sign() {
        assert_eq!(format_scaled(-150_000_000), "-1.5");
        assert_eq!(format_scaled(0), "0");
        assert_eq!(format_scaled(12), "0.00000012");
    }
}
