//! The SQL of a product listing: filters, full-text match, order and page, per dialect.

use brigade_chassis::db::{Backend, Query};
use catalog_api::{ProductQuery, Sort};

use super::rows;
use super::search::Terms;

/// One listing request, ready to be turned into SQL.
pub(crate) struct Listing<'a> {
    pub(crate) query: &'a ProductQuery,
    /// The search words; `None` without a search. Never empty: a search without words is
    /// answered before any SQL is built.
    pub(crate) terms: Option<&'a Terms>,
}

impl Listing<'_> {
    /// One page of matching products, each row carrying the total number of matches.
    ///
    /// The total is a scalar subquery, computed once, rather than `COUNT(*) OVER ()`: a window
    /// function makes the engine copy every matching row, with all its columns, into a
    /// temporary table and sort it before the first row of the page comes out (on SQLite, 1.7 ms
    /// for the 1,200 sample products against 0.06 ms, and most of the catalog's CPU under the
    /// boutique mix). Without it, the page is read in order from an index and stops at `LIMIT`.
    pub(crate) fn page(&self, backend: Backend) -> Query {
        let mut sql = Query::default();
        self.push_matches(&mut sql, backend);
        sql.push("SELECT ")
            .push(rows::COLUMNS)
            .push(", (SELECT COUNT(*)");
        self.push_filters(&mut sql, backend);
        sql.push(") AS total");
        self.push_filters(&mut sql, backend);
        sql.push(" ORDER BY ").push(self.order(backend));
        sql.push(" LIMIT ")
            .push_bind(i64::from(self.query.page_size()))
            .push(" OFFSET ")
            // A u32 page times a page size of at most 100 fits an i64 with room to spare.
            .push_bind(i64::try_from(self.query.offset()).unwrap_or(i64::MAX));
        sql
    }

    /// The number of matching products, for a page past the end (which has no row to carry it).
    pub(crate) fn count(&self, backend: Backend) -> Query {
        let mut sql = Query::default();
        self.push_matches(&mut sql, backend);
        sql.push("SELECT COUNT(*)");
        self.push_filters(&mut sql, backend);
        sql
    }

    /// On SQLite, the full-text matches and their scores, as a table named `matches`: computed
    /// once, on their own, and joined, both by the page and by its count.
    fn push_matches(&self, sql: &mut Query, backend: Backend) {
        if let (Backend::Sqlite, Some(terms)) = (backend, self.terms) {
            // bm25 is lower for a better match. Its weights follow the index's columns (name,
            // description, tags): a word in a name says more than the same word in a description.
            sql.push(
                "WITH matches AS MATERIALIZED (\
                 SELECT rowid AS pk, bm25(products_fts, 10.0, 1.0, 4.0) AS score \
                 FROM products_fts WHERE products_fts MATCH ",
            )
            .push_bind(terms.fts5())
            .push(") ");
        }
    }

    fn push_filters(&self, sql: &mut Query, backend: Backend) {
        match (backend, self.terms) {
            (_, None) => {
                sql.push(" FROM products p WHERE 1 = 1");
            }
            (Backend::Sqlite, Some(_)) => {
                sql.push(" FROM matches JOIN products p ON p.pk = matches.pk WHERE 1 = 1");
            }
            (Backend::Postgres, Some(terms)) => {
                sql.push(" FROM products p, plainto_tsquery('english', ")
                    .push_bind(terms.plain())
                    .push(") AS query WHERE p.search @@ query");
            }
        }
        if let Some(category) = self.query.category() {
            sql.push(" AND p.category = ").push_bind(category);
        }
    }

    /// Every order ends in a unique column, so that pages never overlap or skip.
    fn order(&self, backend: Backend) -> &'static str {
        match (self.query.sort(), backend, self.terms.is_some()) {
            (Sort::Relevance, Backend::Sqlite, true) => "matches.score, p.name, p.sku",
            (Sort::Relevance, Backend::Postgres, true) => {
                "ts_rank(p.search, query) DESC, p.name, p.sku"
            }
            (Sort::Relevance | Sort::Name, ..) => "p.name, p.sku",
            (Sort::PriceAsc, ..) => "p.price_minor, p.name, p.sku",
            (Sort::PriceDesc, ..) => "p.price_minor DESC, p.name, p.sku",
            (Sort::Newest, ..) => "p.created_at_ms DESC, p.sku",
        }
    }
}
