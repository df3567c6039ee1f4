//! The store suite: each test is written once, as a function of a fresh store, and run against
//! SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI).

use std::collections::{HashMap, HashSet};

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::{stored_events, Event, Outbox};
use catalog::seed::{self, Loaded, SampleCatalog, SampleCategory, SampleProduct};
use catalog::store::ListError;
use catalog::MIGRATIONS;
use catalog_api::events::ProductChanged;
use catalog_api::{Money, Product, ProductPage};
use uuid::Uuid;

use crate::support::{query, second_pool, seeded};

brigade_chassis::store_suite!(
    the_sample_catalog_is_loaded_on_a_fresh_store,
    loading_announces_each_product_it_creates_once,
    starting_twice_and_concurrently_loads_it_once,
    pages_do_not_overlap_and_together_cover_every_match,
    every_sort_orders_the_whole_listing,
    the_category_filter_keeps_to_its_category_and_refuses_unknown_ones,
    search_finds_products_by_name_description_and_word_forms,
    search_ranks_a_match_in_the_name_above_one_in_the_description,
    search_survives_any_text,
    a_product_is_found_by_its_id,
    a_batch_keeps_the_order_asked_and_reports_missing_ids,
);

/// Every product of the listing, walking all pages.
async fn walk(store: &catalog::Store, filters: &str) -> Vec<Product> {
    let mut all = Vec::new();
    for page in 1.. {
        let answer = store
            .list_products(&query(&format!("{filters}&page_size=100&page={page}")))
            .await
            .unwrap();
        let done = answer.items.len() < 100;
        all.extend(answer.items);
        if done {
            return all;
        }
    }
    unreachable!()
}

async fn list(store: &catalog::Store, query_string: &str) -> ProductPage {
    store.list_products(&query(query_string)).await.unwrap()
}

async fn the_sample_catalog_is_loaded_on_a_fresh_store(db: Db) {
    let store = seeded(db).await;
    let categories = store.categories().await.unwrap();
    assert!(categories.len() >= 10, "{categories:?}");
    assert!(
        categories.iter().all(|c| c.product_count > 0),
        "{categories:?}"
    );
    let all = walk(&store, "").await;
    assert!(all.len() >= 1000, "{}", all.len());
    assert_eq!(
        all.len() as u64,
        categories.iter().map(|c| c.product_count).sum::<u64>()
    );
    assert!(all
        .iter()
        .all(|p| p.price.amount_minor > 0 && p.price.currency == "EUR"));
    // What is stored is exactly what was generated: nothing lost or changed on the way.
    let generated = seed::sample_catalog();
    let stored: HashMap<&str, &Product> = all.iter().map(|p| (p.sku.as_str(), p)).collect();
    for sample in &generated.products {
        assert_eq!(
            stored.get(sample.product.sku.as_str()),
            Some(&&sample.product)
        );
    }
}

async fn loading_announces_each_product_it_creates_once(db: Db) {
    migrate(&db, MIGRATIONS).await.unwrap();
    let outbox = Outbox::new();
    seed::ensure_sample_catalog(&db, &outbox).await.unwrap();
    // One ProductChanged per product, in the data set's order, each the product as stored.
    let generated = seed::sample_catalog();
    let events = stored_events(&db).await.unwrap();
    assert_eq!(events.len(), generated.products.len());
    for (event, sample) in events.iter().zip(&generated.products) {
        assert_eq!(event.event_type, ProductChanged::type_name());
        assert_eq!((event.source.as_str(), event.schemaversion), ("catalog", 1));
        assert_eq!(event.subject, sample.product.id.to_string());
        assert_eq!(event.subjectseq, 1);
        assert_eq!(
            event.decode::<ProductChanged>().unwrap().product,
            sample.product
        );
    }
    let store = catalog::Store::new(db.clone());
    let first = &generated.products[0].product;
    assert_eq!(
        store.product(first.id).await.unwrap().as_ref(),
        events[0]
            .decode::<ProductChanged>()
            .ok()
            .map(|e| e.product)
            .as_ref()
    );

    // Loading again, or a data set whose products all exist, announces nothing.
    assert_eq!(
        seed::ensure_sample_catalog(&db, &outbox).await.unwrap(),
        Loaded::Before
    );
    let mut renamed = seed::sample_catalog();
    renamed.name = "same-rows-other-name".into();
    renamed.products.truncate(3);
    assert_eq!(
        seed::load(&db, &outbox, &renamed).await.unwrap(),
        Loaded::Now { products: 0 }
    );
    assert_eq!(stored_events(&db).await.unwrap().len(), events.len());

    // A data set with one new product among existing ones announces only the new one.
    let mut mixed = seed::sample_catalog();
    mixed.name = "one-new-product".into();
    mixed.products.truncate(2);
    mixed
        .products
        .push(test_product("TST-0100", "Copper Ladle", "A ladle."));
    mixed.categories = vec![test_category()];
    assert_eq!(
        seed::load(&db, &outbox, &mixed).await.unwrap(),
        Loaded::Now { products: 1 }
    );
    let after = stored_events(&db).await.unwrap();
    assert_eq!(after.len(), events.len() + 1);
    let last = after.last().unwrap();
    assert_eq!(last.subject, seed::product_id("TST-0100").to_string());
    assert_eq!(
        last.decode::<ProductChanged>().unwrap().product,
        mixed.products[2].product
    );
}

async fn starting_twice_and_concurrently_loads_it_once(db: Db) {
    let other = second_pool(&db).await;
    // Two instances starting in the same moment on a fresh store, each with its own pool:
    // migrate, then load, both at once.
    let start = |db: Db| async move {
        migrate(&db, MIGRATIONS).await.unwrap();
        seed::ensure_sample_catalog(&db, &Outbox::new())
            .await
            .unwrap()
    };
    let (first, second) = tokio::join!(start(db.clone()), start(other.clone()));
    let mut outcomes = [first, second];
    outcomes.sort_by_key(|o| matches!(o, Loaded::Before));
    let expected = seed::sample_catalog().products.len() as u64;
    assert_eq!(
        outcomes,
        [Loaded::Now { products: expected }, Loaded::Before]
    );

    // A restart finds it loaded; a data set of another name whose rows exist adds nothing.
    assert_eq!(
        seed::ensure_sample_catalog(&other, &Outbox::new())
            .await
            .unwrap(),
        Loaded::Before
    );
    let mut renamed = seed::sample_catalog();
    renamed.name = "same-rows-other-name".into();
    assert_eq!(
        seed::load(&db, &Outbox::new(), &renamed).await.unwrap(),
        Loaded::Now { products: 0 }
    );
    // Each product was announced once, by the instance that loaded it.
    assert_eq!(stored_events(&db).await.unwrap().len() as u64, expected);

    let store = catalog::Store::new(db);
    assert_eq!(list(&store, "").await.total, expected);
    other.close().await;
}

async fn pages_do_not_overlap_and_together_cover_every_match(db: Db) {
    let store = seeded(db).await;
    let first = list(&store, "page=1").await;
    let second = list(&store, "page=2").await;
    assert_eq!((first.page, first.page_size, second.page), (1, 20, 2));
    assert_eq!(first.items.len(), 20);
    assert_eq!(first.total, second.total);
    let ids = |page: &ProductPage| page.items.iter().map(|p| p.id).collect::<HashSet<_>>();
    assert!(ids(&first).is_disjoint(&ids(&second)));

    for filters in [
        "sort=name",
        "sort=price_asc",
        "sort=newest",
        "category=garden",
        "q=oak",
    ] {
        let all = walk(&store, filters).await;
        let unique: HashSet<Uuid> = all.iter().map(|p| p.id).collect();
        assert_eq!(
            unique.len(),
            all.len(),
            "{filters}: a product appeared on two pages"
        );
        assert_eq!(
            all.len() as u64,
            list(&store, filters).await.total,
            "{filters}"
        );
    }

    let past_the_end = list(&store, "page=1000").await;
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total, first.total);
}

async fn every_sort_orders_the_whole_listing(db: Db) {
    let store = seeded(db).await;
    let prices = |products: &[Product]| {
        products
            .iter()
            .map(|p| p.price.amount_minor)
            .collect::<Vec<_>>()
    };

    let ascending = prices(&walk(&store, "sort=price_asc").await);
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]));
    assert!(ascending[0] > 0);
    let descending = prices(&walk(&store, "sort=price_desc").await);
    assert!(descending.windows(2).all(|w| w[0] >= w[1]));

    let names: Vec<String> = walk(&store, "sort=name")
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    // Relevance means nothing without a search, so it falls back to names.
    assert_eq!(
        list(&store, "sort=relevance").await,
        list(&store, "sort=name").await
    );

    let newest = list(&store, "sort=newest&page_size=1").await.items;
    let generated = seed::sample_catalog();
    let latest = generated
        .products
        .iter()
        .max_by_key(|s| s.created_at_ms)
        .unwrap();
    assert_eq!(newest[0].sku, latest.product.sku);
}

async fn the_category_filter_keeps_to_its_category_and_refuses_unknown_ones(db: Db) {
    let store = seeded(db).await;
    for category in store.categories().await.unwrap() {
        let products = walk(&store, &format!("category={}", category.slug)).await;
        assert_eq!(
            products.len() as u64,
            category.product_count,
            "{}",
            category.slug
        );
        assert!(products.iter().all(|p| p.category == category.slug));
    }
    // A known category with no match is an empty page, not an error.
    let none = list(&store, "category=kitchen&q=tent").await;
    assert_eq!((none.items.len(), none.total), (0, 0));

    match store.list_products(&query("category=spaceships")).await {
        Err(ListError::UnknownCategory { slug, known }) => {
            assert_eq!(slug, "spaceships");
            assert!(known.contains(&"kitchen".to_owned()), "{known:?}");
        }
        other => panic!("expected an unknown category, got {other:?}"),
    }
}

async fn search_finds_products_by_name_description_and_word_forms(db: Db) {
    let store = seeded(db).await;
    let copper_kettles = walk(&store, "q=copper+kettle").await;
    assert!(!copper_kettles.is_empty());
    assert!(
        copper_kettles
            .iter()
            .all(|p| p.name.contains("Copper") && p.name.contains("Kettle")),
        "{copper_kettles:?}"
    );
    // English word forms: the plural finds the singular.
    assert_eq!(walk(&store, "q=copper+kettles").await, copper_kettles);

    // A word only in descriptions.
    let pyrenees = walk(&store, "q=pyrenees").await;
    assert!(!pyrenees.is_empty());
    assert!(pyrenees.iter().all(|p| p.description.contains("Pyrenees")));

    // With a category, only that category.
    let kitchen_copper = walk(&store, "q=copper&category=kitchen").await;
    assert!(!kitchen_copper.is_empty());
    assert!(kitchen_copper.iter().all(|p| p.category == "kitchen"));
}

async fn search_ranks_a_match_in_the_name_above_one_in_the_description(db: Db) {
    let store = seeded(db.clone()).await;
    let in_description = test_product(
        "TST-0001",
        "Plain Teapot",
        "Glazed the colour of a zephyr sky.",
    );
    let in_name = test_product("TST-0002", "Zephyr Teapot", "A teapot for two.");
    let extra = SampleCatalog {
        name: "ranking-test".into(),
        categories: vec![test_category()],
        // The description match first, so that insertion order cannot explain the result.
        products: vec![in_description.clone(), in_name.clone()],
    };
    assert_eq!(
        seed::load(&db, &Outbox::new(), &extra).await.unwrap(),
        Loaded::Now { products: 2 }
    );
    let found = list(&store, "q=zephyr").await;
    assert_eq!(found.items, vec![in_name.product, in_description.product]);
}

fn test_category() -> SampleCategory {
    SampleCategory {
        slug: "test".into(),
        name: "Test".into(),
        description: "Products made by a test.".into(),
        position: 99,
    }
}

fn test_product(sku: &str, name: &str, description: &str) -> SampleProduct {
    SampleProduct {
        product: Product {
            id: seed::product_id(sku),
            sku: sku.into(),
            name: name.into(),
            description: description.into(),
            category: "test".into(),
            price: Money {
                amount_minor: 1999,
                currency: "EUR".into(),
            },
            image_url: "/images/test.jpg".into(),
            tags: vec!["test".into()],
        },
        created_at_ms: 0,
    }
}

async fn search_survives_any_text(db: Db) {
    let store = seeded(db).await;
    // Operators and quotes of both engines' query languages are only punctuation here.
    for text in [
        "\"copper",
        "copper\" OR (kettle",
        "NEAR(copper kettle)",
        "copper*",
        "-copper",
        "a & b | !c",
        "'; DROP TABLE products; --",
        "\u{0}copper",
        "ünïcödé",
    ] {
        let encoded = serde_urlencoded::to_string([("q", text)]).unwrap();
        let result = store.list_products(&query(&encoded)).await;
        assert!(result.is_ok(), "{text:?}: {result:?}");
    }
    let punctuation = list(&store, "q=%21%21%21").await;
    assert_eq!((punctuation.items.len(), punctuation.total), (0, 0));
    let quoted = list(&store, "q=%22copper%22").await;
    assert_eq!(quoted.total, list(&store, "q=copper").await.total);
}

async fn a_product_is_found_by_its_id(db: Db) {
    let store = seeded(db).await;
    let generated = seed::sample_catalog();
    let wanted = &generated.products[123].product;
    assert_eq!(
        store.product(wanted.id).await.unwrap().as_ref(),
        Some(wanted)
    );
    assert_eq!(store.product(Uuid::new_v4()).await.unwrap(), None);
}

async fn a_batch_keeps_the_order_asked_and_reports_missing_ids(db: Db) {
    let store = seeded(db).await;
    let generated = seed::sample_catalog();
    let [a, b, c] = [7, 700, 70].map(|i| generated.products[i].product.clone());
    let (unknown1, unknown2) = (Uuid::new_v4(), Uuid::new_v4());
    let batch = store
        .products_by_ids(&[c.id, unknown1, a.id, c.id, b.id, unknown2])
        .await
        .unwrap();
    assert_eq!(batch.items, vec![c, a, b]);
    assert_eq!(batch.missing, vec![unknown1, unknown2]);

    let empty = store.products_by_ids(&[]).await.unwrap();
    assert!(empty.items.is_empty() && empty.missing.is_empty());
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines,
/// but for full-text search, which each engine does its own way.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::Parity::new(catalog::MIGRATIONS)
        .ignore_table(
            "products_fts",
            "SQLite's FTS5 index and its shadow tables; PostgreSQL searches `products.search`",
        )
        .ignore_column(
            "products",
            "search",
            "PostgreSQL's tsvector (and its GIN index); SQLite searches `products_fts`",
        )
        .ignore_column(
            "products",
            "pk",
            "SQLite's explicit rowid, which the FTS5 index refers to rows by (a VACUUM could \
             renumber an implicit one); `id` is the key on both engines",
        )
        .assert()
        .await;
}
