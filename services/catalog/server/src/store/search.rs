//! Turning what a shopper typed into a full-text query that cannot fail.
//!
//! Both engines have a query syntax (FTS5's `"…"`, `NEAR`, `*`, `-`; PostgreSQL's `&`, `|`,
//! `!`) in which stray punctuation is a syntax error, which would answer a shopper's typo with a
//! 500. So the text is reduced to its words, and every word must match: the same meaning on both
//! backends.

/// The most words a search uses; the rest are ignored. The text is already limited to
/// `MAX_QUERY_CHARS`, this bounds the work per query further.
const MAX_TERMS: usize = 16;

/// The words of a search, lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms(Vec<String>);

impl Terms {
    pub(crate) fn parse(text: &str) -> Terms {
        Terms(
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_lowercase)
                .take(MAX_TERMS)
                .collect(),
        )
    }

    /// True when the text had no word in it (only punctuation): nothing can match it.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An FTS5 query: every word quoted, so none can be read as an operator; all must match.
    pub(crate) fn fts5(&self) -> String {
        self.0
            .iter()
            .map(|word| format!("\"{word}\""))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Text for PostgreSQL's `plainto_tsquery`, which ANDs the words and knows no operators.
    pub(crate) fn plain(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_and_operators_are_dropped() {
        let terms = Terms::parse(r#"  "Copper" KETTLE* -(NEAR) & a|b "#);
        assert_eq!(terms.fts5(), r#""copper" "kettle" "near" "a" "b""#);
        assert_eq!(terms.plain(), "copper kettle near a b");
    }

    #[test]
    fn text_without_words_is_empty() {
        assert!(Terms::parse(" !!! ** \" ").is_empty());
        assert!(!Terms::parse("café").is_empty());
    }

    #[test]
    fn long_searches_are_cut_to_a_bounded_number_of_words() {
        let terms = Terms::parse(&"word ".repeat(100));
        assert_eq!(terms.plain().split(' ').count(), MAX_TERMS);
    }
}
