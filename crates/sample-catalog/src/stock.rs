//! How many units of each sample product the shop starts with.

/// The fewest units a sample SKU starts with.
pub const MIN_SAMPLE_STOCK: u32 = 5;
/// The most units a sample SKU starts with.
pub const MAX_SAMPLE_STOCK: u32 = 200;

/// The units the sample shop holds of `sku` at first start: between [`MIN_SAMPLE_STOCK`] and
/// [`MAX_SAMPLE_STOCK`], derived from the SKU alone so that every run, every instance and every
/// test that knows a SKU knows its stock.
pub fn sample_stock(sku: &str) -> u32 {
    let span = u64::from(MAX_SAMPLE_STOCK - MIN_SAMPLE_STOCK + 1);
    // The remainder is below `span`, so it fits.
    MIN_SAMPLE_STOCK + u32::try_from(fnv1a(sku.as_bytes()) % span).unwrap_or(0)
}

/// 64-bit FNV-1a: tiny, and fixed by its definition, unlike std's hasher, whose output may
/// change between Rust releases and would change the sample stock with it.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::sample_catalog;

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_sample_sku_has_stock_in_range_and_they_vary() {
        let catalog = sample_catalog();
        let levels: Vec<u32> = catalog
            .products
            .iter()
            .map(|p| sample_stock(&p.product.sku))
            .collect();
        assert!(levels
            .iter()
            .all(|n| (MIN_SAMPLE_STOCK..=MAX_SAMPLE_STOCK).contains(n)));
        assert!(levels.iter().collect::<HashSet<_>>().len() > 100);
        assert_eq!(sample_stock("KIT-0001"), sample_stock("KIT-0001"));
    }
}
