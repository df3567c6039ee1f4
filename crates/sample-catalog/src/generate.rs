//! Generating the sample catalog: every (style, material, kind) a category allows, shuffled by a
//! seeded generator and cut to a fixed number per category.
//!
//! Everything is a pure function of [`SEED`]: the same catalog on every run and every machine,
//! with ids derived from SKUs, so that links, carts and tests can name products across restarts
//! and across instances that generated it separately.

use catalog_api::{Money, Product};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::words::{CategoryWords, Kind, WORDS};
use crate::{SampleCatalog, SampleCategory, SampleProduct};

/// The generator's seed. Changing it (or the word lists) changes the catalog: give the result a
/// new [`NAME`], so that stores holding the old one are not mistaken for holding the new one.
const SEED: u64 = 0x00b1_6ade_ca7a_1060;

/// The name under which the sample catalog is recorded as loaded.
pub const NAME: &str = "sample-catalog-v1";

/// Products per category.
const PER_CATEGORY: usize = 100;

/// The namespace of product ids: `id = uuid_v5(NAMESPACE, sku)`.
pub const PRODUCT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1f_3c8e_9a4b_4e21_8f6a_2b7c_0e9d_41a3);

/// All sample products are dated within the year after this instant (2024-01-01T00:00:00Z).
const CREATED_FROM_MS: i64 = 1_704_067_200_000;
const YEAR_MS: i64 = 365 * 24 * 60 * 60 * 1000;

const CURRENCY: &str = "EUR";

/// The id of the product with `sku`.
pub fn product_id(sku: &str) -> Uuid {
    Uuid::new_v5(&PRODUCT_ID_NAMESPACE, sku.as_bytes())
}

/// The sample catalog: 12 categories of 100 products.
pub fn sample_catalog() -> SampleCatalog {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut catalog = SampleCatalog {
        name: NAME.to_owned(),
        categories: Vec::with_capacity(WORDS.categories.len()),
        products: Vec::with_capacity(WORDS.categories.len() * PER_CATEGORY),
    };
    for (position, words) in WORDS.categories.iter().enumerate() {
        catalog.categories.push(SampleCategory {
            slug: words.slug.to_owned(),
            name: words.name.to_owned(),
            description: words.description.to_owned(),
            position: i64::try_from(position).unwrap_or(i64::MAX),
        });
        let mut designs = designs(words);
        designs.shuffle(&mut rng);
        for (number, design) in designs.into_iter().take(PER_CATEGORY).enumerate() {
            let sku = format!("{}-{:04}", words.sku_prefix, number + 1);
            catalog
                .products
                .push(product(&mut rng, words, &design, sku));
        }
    }
    catalog
}

/// One possible product of a category.
struct Design {
    style: (&'static str, i64),
    material: (&'static str, i64),
    kind: &'static Kind,
}

/// Every combination a category allows, in a fixed order.
fn designs(words: &'static CategoryWords) -> Vec<Design> {
    let mut designs = Vec::new();
    for kind in &words.kinds {
        for material in &kind.materials {
            // A material missing from the category's table would be a typo in the word lists
            // (a test checks there is none); it costs the usual price rather than a failure.
            let material_percent = words
                .materials
                .iter()
                .find(|(name, _)| name == material)
                .map_or(100, |(_, percent)| *percent);
            for &style in &words.styles {
                designs.push(Design {
                    style,
                    material: (material, material_percent),
                    kind,
                });
            }
        }
    }
    designs
}

fn product(
    rng: &mut ChaCha8Rng,
    words: &CategoryWords,
    design: &Design,
    sku: String,
) -> SampleProduct {
    let (style, style_percent) = design.style;
    let (material, material_percent) = design.material;
    let noun = design.kind.noun;
    let brand = WORDS.brands.choose(rng).copied().unwrap_or("Brigade");
    let features: Vec<&str> = words.features.choose_multiple(rng, 2).copied().collect();
    let care = words.care.choose(rng).copied().unwrap_or_default();
    let description = format!(
        "{brand}'s {} {} in {}. {} {care}",
        style.to_lowercase(),
        noun.to_lowercase(),
        material.to_lowercase(),
        features.join(" "),
    );

    // Base price scaled by style and material, give or take a little, ending in .99.
    let jitter_percent = rng.random_range(90..=115);
    let raw = design.kind.base_minor * style_percent * material_percent * jitter_percent
        / (100 * 100 * 100);
    let amount_minor = (((raw + 50) / 100) * 100 - 1).max(99);

    let mut tags = vec![slug(noun), slug(material), slug(style)];
    let extra = rng.random_range(0..=2);
    tags.extend(
        WORDS
            .extra_tags
            .choose_multiple(rng, extra)
            .map(|t| (*t).to_owned()),
    );

    let created_at_ms = CREATED_FROM_MS + rng.random_range(0..YEAR_MS);
    SampleProduct {
        product: Product {
            id: product_id(&sku),
            name: format!("{style} {material} {noun}"),
            description,
            category: words.slug.to_owned(),
            price: Money {
                amount_minor,
                currency: CURRENCY.to_owned(),
            },
            image_url: format!("/images/{}/{}.jpg", words.slug, slug(noun)),
            tags,
            sku,
        },
        created_at_ms,
    }
}

/// `Chef's Knife` → `chefs-knife`.
fn slug(words: &str) -> String {
    words
        .to_lowercase()
        .replace('\'', "")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_catalog_is_the_same_on_every_run() {
        assert_eq!(sample_catalog(), sample_catalog());
    }

    #[test]
    fn it_is_large_enough_to_browse_and_every_key_is_unique() {
        let catalog = sample_catalog();
        assert!(catalog.categories.len() >= 10);
        assert!(catalog.products.len() >= 1000);
        let unique = |key: fn(&SampleProduct) -> String| {
            catalog
                .products
                .iter()
                .map(key)
                .collect::<HashSet<_>>()
                .len()
        };
        assert_eq!(unique(|p| p.product.sku.clone()), catalog.products.len());
        assert_eq!(unique(|p| p.product.id.to_string()), catalog.products.len());
        assert_eq!(unique(|p| p.product.name.clone()), catalog.products.len());
        for category in &catalog.categories {
            let count = catalog
                .products
                .iter()
                .filter(|p| p.product.category == category.slug)
                .count();
            assert_eq!(count, PER_CATEGORY, "{}", category.slug);
        }
    }

    #[test]
    fn every_product_is_plausible() {
        for sample in sample_catalog().products {
            let p = &sample.product;
            assert!(
                p.price.amount_minor >= 99 && p.price.amount_minor % 100 == 99,
                "{p:?}"
            );
            assert!(p.price.amount_minor < 200_000, "{p:?}");
            assert_eq!(p.price.currency, "EUR");
            assert_eq!(p.id, product_id(&p.sku));
            assert!(p.description.len() > 60, "{p:?}");
            assert!(
                p.tags.len() >= 3 && p.tags.iter().all(|t| !t.is_empty()),
                "{p:?}"
            );
            assert!((CREATED_FROM_MS..CREATED_FROM_MS + YEAR_MS).contains(&sample.created_at_ms));
        }
    }

    #[test]
    fn every_material_a_kind_names_is_priced_by_its_category() {
        for words in &WORDS.categories {
            for kind in &words.kinds {
                for material in &kind.materials {
                    assert!(
                        words.materials.iter().any(|(name, _)| name == material),
                        "{}: {} names unknown material {material}",
                        words.slug,
                        kind.noun
                    );
                }
            }
        }
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        assert_eq!(slug("Chef's Knife"), "chefs-knife");
        assert_eq!(slug("Full-Grain Leather"), "full-grain-leather");
        assert_eq!(slug("T-Shirt"), "t-shirt");
    }
}
