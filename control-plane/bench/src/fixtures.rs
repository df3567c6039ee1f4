//! What the benchmarks that drive a whole system prepare before the clock starts.

use brigade_chassis::client::plain::PlainClient;

/// A product as the gateway lists it, with what the benchmarks use of it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub sku: String,
}

/// The first `count` products the gateway lists (at most 100, one page); an error when there
/// are none, since every benchmark that asks needs some.
pub async fn listed_products(
    client: &PlainClient,
    gateway: &str,
    count: usize,
) -> anyhow::Result<Vec<Listed>> {
    let answer = client
        .get_json::<serde_json::Value>(&format!(
            "{gateway}/api/v1/products?page_size={}",
            count.clamp(1, 100)
        ))
        .await?;
    let products: Vec<Listed> = answer["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| {
                    Some(Listed {
                        id: p["id"].as_str()?.to_owned(),
                        sku: p["sku"].as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(!products.is_empty(), "the catalog listed no products");
    Ok(products)
}
