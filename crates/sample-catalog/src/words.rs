//! The word lists the sample catalog is made from. Each category has its own kinds of product,
//! and each kind lists only the materials it is really made of, so that every generated name is
//! one a shop could sell ("Heritage Copper Kettle", never "Olive Wood Kettle").
//!
//! Percentages scale a kind's base price: a professional style or a costly material costs more.
//!
//! The words themselves are data, in `words.txt`: compiled in, and read once on first use.

use std::sync::LazyLock;

/// A kind of product: its noun, its base price in cents, and the materials it comes in (names
/// from its category's `materials`).
pub(crate) struct Kind {
    pub noun: &'static str,
    pub base_minor: i64,
    pub materials: Vec<&'static str>,
}

pub(crate) struct CategoryWords {
    pub slug: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The first part of every SKU in the category.
    pub sku_prefix: &'static str,
    /// Style words and their price percentage.
    pub styles: Vec<(&'static str, i64)>,
    /// Materials and their price percentage.
    pub materials: Vec<(&'static str, i64)>,
    pub kinds: Vec<Kind>,
    /// Sentences that fit every kind in the category.
    pub features: Vec<&'static str>,
    pub care: Vec<&'static str>,
}

#[derive(Default)]
pub(crate) struct Words {
    /// Makers, shared by every category.
    pub brands: Vec<&'static str>,
    /// Tags some products carry besides their kind, material and style.
    pub extra_tags: Vec<&'static str>,
    pub categories: Vec<CategoryWords>,
}

/// The word lists, in the order of `words.txt` (the order is part of what the seed generates).
pub(crate) static WORDS: LazyLock<Words> = LazyLock::new(|| parse(include_str!("words.txt")));

/// Reads `words.txt`: one `key: value` a line, `#` comments, a `category:` line starting each
/// category. The file is compiled in and every test reads it, so a mistake in it is a bug that
/// fails the build's tests, not something to recover from: it panics naming the line.
fn parse(text: &'static str) -> Words {
    let mut words = Words::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| -> ! { panic!("words.txt:{}: {why}: {line}", index + 1) };
        let Some((key, value)) = line.split_once(": ") else {
            bad("not `key: value`")
        };
        match key {
            "brand" => words.brands.push(value),
            "extra tag" => words.extra_tags.push(value),
            "category" => words.categories.push(CategoryWords::named(value)),
            _ => match words.categories.last_mut() {
                Some(category) => category.add(key, value).unwrap_or_else(|why| bad(why)),
                None => bad("before the first `category:`"),
            },
        }
    }
    words
}

impl CategoryWords {
    fn named(slug: &'static str) -> CategoryWords {
        CategoryWords {
            slug,
            name: "",
            description: "",
            sku_prefix: "",
            styles: Vec::new(),
            materials: Vec::new(),
            kinds: Vec::new(),
            features: Vec::new(),
            care: Vec::new(),
        }
    }

    /// Adds one line of the category's words, or says why it cannot.
    fn add(&mut self, key: &str, value: &'static str) -> Result<(), &'static str> {
        match key {
            "name" => self.name = value,
            "description" => self.description = value,
            "sku prefix" => self.sku_prefix = value,
            "style" => self.styles.push(priced(value)?),
            "material" => self.materials.push(priced(value)?),
            "kind" => {
                let mut columns = value.split(" | ");
                let (Some(noun), Some(price), Some(materials), None) = (
                    columns.next(),
                    columns.next(),
                    columns.next(),
                    columns.next(),
                ) else {
                    return Err("not `noun | base price | materials, …`");
                };
                self.kinds.push(Kind {
                    noun,
                    base_minor: price
                        .parse()
                        .map_err(|_| "the base price is not a number")?,
                    materials: materials.split(", ").collect(),
                });
            }
            "feature" => self.features.push(value),
            "care" => self.care.push(value),
            _ => return Err("unknown key"),
        }
        Ok(())
    }
}

/// `Copper | 160`: a word and its price percentage.
fn priced(value: &'static str) -> Result<(&'static str, i64), &'static str> {
    let (word, percent) = value.split_once(" | ").ok_or("not `word | percent`")?;
    let percent = percent
        .parse()
        .map_err(|_| "the percentage is not a number")?;
    Ok((word, percent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_reads_into_twelve_categories_of_complete_words() {
        assert_eq!(WORDS.brands.len(), 12);
        assert_eq!(WORDS.extra_tags.len(), 6);
        assert_eq!(WORDS.categories.len(), 12);
        for c in &WORDS.categories {
            let texts = [c.name, c.description, c.sku_prefix];
            let lists = [
                c.styles.len(),
                c.materials.len(),
                c.kinds.len(),
                c.features.len(),
                c.care.len(),
            ];
            let complete = texts.iter().all(|t| !t.is_empty()) && lists.iter().all(|n| *n > 0);
            assert!(complete, "{}", c.slug);
        }
        let kettle = &WORDS.categories[0].kinds[0];
        assert_eq!((kettle.noun, kettle.base_minor), ("Kettle", 4500));
        assert_eq!(
            kettle.materials,
            ["Copper", "Stainless Steel", "Enamelled Steel"]
        );
    }

    #[test]
    #[should_panic(expected = "words.txt:2: unknown key: colour: red")]
    fn a_mistake_names_its_line() {
        parse("category: x\ncolour: red\n");
    }
}
