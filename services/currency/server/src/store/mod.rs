//! The table of rates in force, on SQLite or PostgreSQL.
//!
//! The table is one dated row (`rate_tables`) and a row per currency (`rates`). It is only ever
//! written whole: loading the sample into an empty store ([`Store::ensure_sample`]) and
//! replacing it ([`Store::replace`]) each run in one transaction under the store's write lock,
//! so a reader sees one table or the other, never a mix, and a failed replacement leaves the
//! old table as it was. Every read is one statement that joins the date to the rates, so it
//! sees one committed table too.

mod sql;

use brigade_chassis::db::Db;
use currency_api::{Currency, CurrencyList, Rate, BASE};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// Who wrote the table in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The sample table, loaded at first start.
    Sample,
    /// A table put through `PUT /v1/rates`.
    Operator,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Sample => "sample",
            Source::Operator => "operator",
        }
    }
}

/// What [`Store::ensure_sample`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The store had no rates: the sample is in force now.
    Now,
    /// The store had rates (perhaps loaded by another instance a moment ago): kept.
    Before,
}

/// The rates of two currencies, as one read found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The day the rates in force are for.
    pub date: String,
    /// Those of the two asked about that are supported.
    pub found: Vec<Currency>,
}

impl Pair {
    /// The currency `code`, if supported.
    pub fn get(&self, code: &str) -> Option<&Currency> {
        self.found.iter().find(|c| c.code == code)
    }
}

/// The store (`db` must have [`crate::MIGRATIONS`] applied). Cheap to clone: it is a pool
/// handle.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
}

impl Store {
    /// Puts `sample` in force unless the store has a table already. Safe to call concurrently,
    /// from any number of processes: loaders queue on the write lock, and the second finds the
    /// first's table.
    pub async fn ensure_sample(&self, sample: &CurrencyList) -> Result<Loaded, Error> {
        if sql::table_date()
            .fetch_optional::<(String,)>(&self.db)
            .await?
            .is_some()
        {
            return Ok(Loaded::Before);
        }
        let mut tx = self.db.begin_write().await?;
        tx.serialize_on(sql::WRITE_LOCK_KEY).await?;
        if sql::table_date()
            .fetch_optional::<(String,)>(&mut tx)
            .await?
            .is_some()
        {
            return Ok(Loaded::Before);
        }
        sql::write_table(
            &mut tx,
            &sample.date,
            &sample.items,
            Source::Sample.as_str(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            date = %sample.date,
            currencies = sample.items.len(),
            "loaded the sample rates"
        );
        Ok(Loaded::Now)
    }

    /// Replaces the table in force with `currencies` (which must include the base at 1) dated
    /// `date`, all at once: on any failure nothing changes.
    pub async fn replace(&self, date: &str, currencies: &[Currency]) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        tx.serialize_on(sql::WRITE_LOCK_KEY).await?;
        sql::write_table(&mut tx, date, currencies, Source::Operator.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The table in force: every supported currency, by code, and the table's date.
    pub async fn in_force(&self) -> Result<CurrencyList, Error> {
        let rows: Vec<sql::Row> = sql::every_rate().fetch_all(&self.db).await?;
        let (date, items) = read(rows)?;
        Ok(CurrencyList {
            base: BASE.to_owned(),
            date,
            items,
        })
    }

    /// The rates of `from` and `to` in the table in force (one read, so both from the same
    /// table), and its date.
    pub async fn pair(&self, from: &str, to: &str) -> Result<Pair, Error> {
        let rows: Vec<sql::Row> = sql::rates_of(from, to).fetch_all(&self.db).await?;
        let (date, found) = read(rows)?;
        Ok(Pair { date, found })
    }
}

/// The date and the currencies of rows that all carry the table's date (a row without a
/// currency is the date alone: no currency matched).
fn read(rows: Vec<sql::Row>) -> Result<(String, Vec<Currency>), Error> {
    let date = rows
        .first()
        .map(|r| r.0.clone())
        .ok_or_else(|| Error::corrupt("the table of rates", "there is none"))?;
    let currencies = rows
        .into_iter()
        .filter_map(|(_, code, name, exponent, rate)| Some((code?, name?, exponent?, rate?)))
        .map(|(code, name, exponent, rate)| {
            let corrupt = |reason: &str| Error::corrupt(format!("the rate of {code}"), reason);
            let exponent = u32::try_from(exponent).map_err(|_| corrupt("negative exponent"))?;
            let rate = Rate::from_scaled(rate).ok_or_else(|| corrupt("rate out of range"))?;
            Ok(Currency {
                code,
                name,
                exponent,
                rate,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok((date, currencies))
}
