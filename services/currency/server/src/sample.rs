//! The sample table of reference rates, compiled into the service (`data/sample_rates.csv`).
//!
//! It is loaded at first start, when the store has no rates; a store that has rates keeps them,
//! whether they are the sample's or were put since. Its currencies (codes, names, minor-unit
//! exponents) are also the ones the service knows: a table put through `PUT /v1/rates` may list
//! only these.

use currency_api::{Currency, CurrencyList, Rate, BASE};

/// The data file, as compiled in.
const SAMPLE: &str = include_str!("../data/sample_rates.csv");

/// The most decimal places of a minor unit (ISO 4217 has none above 4).
pub const MAX_EXPONENT: u32 = 4;

/// A line of the data file that cannot be read: the file is broken, and the service must not
/// start with it.
#[derive(Debug, thiserror::Error)]
#[error("line {line} of the sample rates is not valid: {reason}")]
pub struct Error {
    line: usize,
    reason: String,
}

/// The sample table, read from the compiled data file.
pub fn table() -> Result<CurrencyList, Error> {
    parse(SAMPLE)
}

/// A table from `text`: comment lines (`#`), then `date,YYYY-MM-DD`, a header line
/// `code,exponent,rate,name`, and one line per currency, by code.
fn parse(text: &str) -> Result<CurrencyList, Error> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
    let fail = |line: usize, reason: &str| Error {
        line,
        reason: reason.to_owned(),
    };
    let date = match lines.next() {
        Some((_, line)) if line.starts_with("date,") => line["date,".len()..].to_owned(),
        other => return Err(fail(other.map_or(0, |l| l.0), "expected `date,YYYY-MM-DD`")),
    };
    match lines.next() {
        Some((_, "code,exponent,rate,name")) => {}
        other => return Err(fail(other.map_or(0, |l| l.0), "expected the header line")),
    }
    let mut items = lines
        .map(|(n, line)| currency(line).map_err(|reason| fail(n, &reason)))
        .collect::<Result<Vec<Currency>, Error>>()?;
    items.sort_by(|a, b| a.code.cmp(&b.code));
    if items.windows(2).any(|w| w[0].code == w[1].code) {
        return Err(fail(0, "a currency is listed twice"));
    }
    if !items.iter().any(|c| c.code == BASE && c.rate == Rate::ONE) {
        return Err(fail(0, "the base currency must be listed at 1"));
    }
    Ok(CurrencyList {
        base: BASE.to_owned(),
        date,
        items,
    })
}

fn currency(line: &str) -> Result<Currency, String> {
    let mut fields = line.splitn(4, ',');
    let mut next = |what: &str| fields.next().ok_or_else(|| format!("no {what}"));
    let code = currency_api::parse_code("code", next("code")?).map_err(|e| e.detail)?;
    let exponent = next("exponent")?
        .parse::<u32>()
        .ok()
        .filter(|e| *e <= MAX_EXPONENT)
        .ok_or_else(|| format!("{code}'s exponent is not 0 to {MAX_EXPONENT}"))?;
    let rate = next("rate")?
        .parse::<Rate>()
        .map_err(|e| format!("{code}'s rate: {e}"))?;
    let name = next("name")?.to_owned();
    Ok(Currency {
        code,
        name,
        exponent,
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_table_reads_with_about_30_currencies_and_their_exponents() {
        let table = table().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            (30..=40).contains(&table.items.len()),
            "{}",
            table.items.len()
        );
        assert_eq!(table.base, "EUR");
        let exponent = |code: &str| {
            table
                .items
                .iter()
                .find(|c| c.code == code)
                .map(|c| c.exponent)
        };
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("USD"), Some(2));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("EUR"), Some(2));
        assert!(time_like(&table.date), "{}", table.date);
    }

    fn time_like(date: &str) -> bool {
        let parts: Vec<&str> = date.split('-').collect();
        parts.len() == 3 && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let error = |text: &str| parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error("code,exponent,rate,name\n").contains("line 1"));
        assert!(error("date,2026-01-01\nEUR,2,1,Euro\n").contains("header"));
        let head = "# c\ndate,2026-01-01\ncode,exponent,rate,name\n";
        assert!(error(&format!("{head}EUR,2,1,Euro\nUSD,x,1.1,US dollar\n")).contains("line 5"));
        assert!(error(&format!("{head}EUR,2,1,Euro\nUSD,2,-1,US dollar\n")).contains("rate"));
        assert!(error(&format!("{head}EUR,9,1,Euro\n")).contains("exponent"));
        assert!(error(&format!("{head}USD,2,1.1,US dollar\n")).contains("base"));
        assert!(error(&format!("{head}EUR,2,1,Euro\nEUR,2,1,Euro\n")).contains("twice"));
    }
}
