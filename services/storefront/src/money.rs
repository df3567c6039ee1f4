//! Money as a shopper reads it: the amount in the currency's own number of decimals, grouped
//! by thousands, with the currency's symbol (English conventions: `€1,234.50`, `¥1,200`).

use catalog_api::Money;

/// `money` for people: `€12.50`, `-$3.00`, `CHF 7.10`, `1,000 XYZ` for a code without a symbol.
pub fn format_money(money: &Money) -> String {
    let code = money.currency.to_ascii_uppercase();
    let decimals = minor_unit_digits(&code);
    let scale = 10u64.pow(decimals);
    let magnitude = money.amount_minor.unsigned_abs();
    let whole = group_thousands(magnitude / scale);
    let number = if decimals == 0 {
        whole
    } else {
        let fraction = magnitude % scale;
        format!("{whole}.{fraction:0width$}", width = decimals as usize)
    };
    let sign = if money.amount_minor < 0 { "-" } else { "" };
    match symbol(&code) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{number} {code}"),
    }
}

/// ISO 4217's minor unit of the currencies that do not have two.
fn minor_unit_digits(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "HUF" => 0,
        "BHD" | "KWD" | "JOD" | "OMR" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "CHF" => "CHF\u{a0}",
        "SEK" => "SEK\u{a0}",
        _ => return None,
    })
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount_minor,
            currency: currency.to_owned(),
        }
    }

    #[test]
    fn amounts_take_their_currencys_decimals_and_symbol() {
        for (amount, currency, shown) in [
            (1250, "EUR", "€12.50"),
            (5, "EUR", "€0.05"),
            (0, "USD", "$0.00"),
            (123_456_789, "GBP", "£1,234,567.89"),
            (1200, "JPY", "¥1,200"),
            (1500, "KWD", "1.500 KWD"),
            (710, "CHF", "CHF\u{a0}7.10"),
            (-300, "USD", "-$3.00"),
            (100_000, "xyz", "1,000.00 XYZ"),
        ] {
            assert_eq!(format_money(&money(amount, currency)), shown);
        }
    }
}
