//! The model's ranking, each test written once as a function of a fresh store and run against
//! SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI).
//! The model is fed through the inbox, as the running service feeds it.

use brigade_chassis::db::Db;
use recommendations_api::Reason::{BoughtTogether as Together, Popular};
use uuid::Uuid;

use crate::support::{id, ranked, Model};

brigade_chassis::store_suite!(
    co_purchases_rank_first_by_count_then_popularity,
    ties_go_to_the_more_popular_then_to_the_smaller_id,
    the_popular_fill_tops_up_to_the_limit_and_no_further,
    the_product_itself_and_unknown_or_unbought_products_are_never_recommended,
    a_product_never_heard_of_gets_popular_products_as_a_fallback,
    users_get_what_goes_with_their_purchases_never_what_they_bought,
    a_users_scores_add_up_over_their_purchases,
    a_user_without_co_purchases_gets_popular_products_they_did_not_buy,
    a_bulk_order_counts_as_popularity_but_not_as_co_purchases,
);

/// Users 1 to 5.
struct Users {
    u1: Uuid,
    u2: Uuid,
    u3: Uuid,
    u4: Uuid,
    u5: Uuid,
}

/// Products 1 to 6 announced (6 is never bought); 7 bought but never announced.
///
/// | user | order       |
/// |------|-------------|
/// | u1   | 1, 2, 3     |
/// | u2   | 1, 2        |
/// | u3   | 1, 4, 7 ×2  |
/// | u4   | 4 ×5        |
/// | u5   | 5           |
///
/// Popularity (orders, units): 1 (3, 3), 4 (2, 6), 2 (2, 2), 3 (1, 1), 5 (1, 1); 7 (1, 2) unknown.
async fn shop(db: Db) -> (Model, Users) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2, 3, 4, 5, 6]).await;
    let users = Users {
        u1: Uuid::new_v4(),
        u2: Uuid::new_v4(),
        u3: Uuid::new_v4(),
        u4: Uuid::new_v4(),
        u5: Uuid::new_v4(),
    };
    model.confirm(users.u1, &[(1, 1), (2, 1), (3, 1)]).await;
    model.confirm(users.u2, &[(1, 1), (2, 1)]).await;
    model.confirm(users.u3, &[(1, 1), (4, 1), (7, 2)]).await;
    model.confirm(users.u4, &[(4, 5)]).await;
    model.confirm(users.u5, &[(5, 1)]).await;
    (model, users)
}

async fn co_purchases_rank_first_by_count_then_popularity(db: Db) {
    let (model, _) = shop(db).await;
    // 2 was bought with 1 twice; 4 and 3 once each, and 4 is the more popular.
    let answer = model.for_product(1, 4).await;
    assert_eq!(
        ranked(&answer),
        [
            (2, Together, 2),
            (4, Together, 1),
            (3, Together, 1),
            (5, Popular, 1)
        ]
    );
    assert!(!answer.fallback);
    let answer = model.for_product(2, 4).await;
    assert_eq!(
        ranked(&answer),
        [
            (1, Together, 2),
            (3, Together, 1),
            (4, Popular, 2),
            (5, Popular, 1)
        ]
    );
    // What is shown is the catalog's facts.
    let first = &answer.items[0];
    assert_eq!(
        (
            first.sku.as_str(),
            first.name.as_str(),
            first.image_url.as_str()
        ),
        ("REC-0001", "Product 1", "/images/rec-1.jpg")
    );
    assert_eq!(
        (first.price.amount_minor, first.price.currency.as_str()),
        (100, "EUR")
    );
}

async fn ties_go_to_the_more_popular_then_to_the_smaller_id(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[10, 11, 12, 13]).await;
    // 11, 12 and 13 were each bought once with 10. Otherwise 13 is the most bought (3 orders);
    // 12 and 11 tie in orders (2), but 12 sold more units.
    model
        .confirm(Uuid::new_v4(), &[(11, 1), (12, 1), (13, 1), (10, 1)])
        .await;
    model.confirm(Uuid::new_v4(), &[(13, 1)]).await;
    model.confirm(Uuid::new_v4(), &[(13, 1)]).await;
    model.confirm(Uuid::new_v4(), &[(12, 3)]).await;
    model.confirm(Uuid::new_v4(), &[(11, 1)]).await;
    assert_eq!(
        ranked(&model.for_product(10, 3).await),
        [(13, Together, 1), (12, Together, 1), (11, Together, 1)]
    );
    // Equal in everything: the smaller id first, on both backends.
    model.announce(&[20, 21, 22]).await;
    model
        .confirm(Uuid::new_v4(), &[(22, 1), (20, 1), (21, 1)])
        .await;
    assert_eq!(
        ranked(&model.for_product(20, 2).await),
        [(21, Together, 1), (22, Together, 1)]
    );
}

async fn the_popular_fill_tops_up_to_the_limit_and_no_further(db: Db) {
    let (model, _) = shop(db).await;
    assert_eq!(ranked(&model.for_product(1, 1).await), [(2, Together, 2)]);
    assert_eq!(
        ranked(&model.for_product(1, 2).await),
        [(2, Together, 2), (4, Together, 1)]
    );
    // Five products are known and bought; asked for 20, product 1 gets the four others.
    let all = model.for_product(1, 20).await;
    assert_eq!(all.items.len(), 4, "{all:?}");
    let popular = model.for_product(5, 3).await;
    assert_eq!(
        ranked(&popular),
        [(1, Popular, 3), (4, Popular, 2), (2, Popular, 2)]
    );
}

async fn the_product_itself_and_unknown_or_unbought_products_are_never_recommended(db: Db) {
    let (model, users) = shop(db).await;
    for n in 1..=7 {
        let answer = model.for_product(n, 20).await;
        let shown: Vec<u128> = ranked(&answer).iter().map(|r| r.0).collect();
        assert!(
            !shown.contains(&n),
            "{n} recommended with itself: {shown:?}"
        );
        // 7's facts were never announced; 6 was never bought.
        assert!(!shown.contains(&7) && !shown.contains(&6), "{shown:?}");
        let mut unique = shown.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), shown.len(), "a product twice: {shown:?}");
    }
    // 7 was bought with 1 and 4, but without facts it cannot be shown: 4's only co-purchase
    // left is 1.
    assert_eq!(
        ranked(&model.for_product(4, 2).await),
        [(1, Together, 1), (2, Popular, 2)]
    );
    let shown = ranked(&model.for_user(users.u3, 20).await);
    assert!(shown.iter().all(|r| r.0 != 7), "{shown:?}");
}

async fn a_product_never_heard_of_gets_popular_products_as_a_fallback(db: Db) {
    let (model, _) = shop(db).await;
    let expected = [
        (1, Popular, 3),
        (4, Popular, 2),
        (2, Popular, 2),
        (3, Popular, 1),
    ];
    let stranger = model.store.for_product(Uuid::new_v4(), 4).await.unwrap();
    assert_eq!(ranked(&stranger), expected);
    assert!(stranger.fallback);
    // Known but never bought, or bought only alone: the same.
    for n in [6, 5] {
        let answer = model.for_product(n, 4).await;
        assert!(answer.fallback, "{n}: {answer:?}");
        assert!(answer
            .items
            .iter()
            .all(|i| i.reason == Popular && i.product_id != id(n)));
    }
    assert_eq!(ranked(&model.for_product(6, 4).await), expected);
}

async fn users_get_what_goes_with_their_purchases_never_what_they_bought(db: Db) {
    let (model, users) = shop(db).await;
    // u1 bought 1, 2 and 3; 4 was bought with 1; 5 is the only other popular product.
    let answer = model.for_user(users.u1, 4).await;
    assert_eq!(ranked(&answer), [(4, Together, 1), (5, Popular, 1)]);
    assert!(!answer.fallback);
    // u4 bought 4, bought with 1 (and with 7, unknown).
    assert_eq!(
        ranked(&model.for_user(users.u4, 4).await),
        [
            (1, Together, 1),
            (2, Popular, 2),
            (3, Popular, 1),
            (5, Popular, 1)
        ]
    );
    // u2 bought 1 and 2: 3 went with both, 4 with 1.
    assert_eq!(
        ranked(&model.for_user(users.u2, 1).await),
        [(3, Together, 2)]
    );
}

async fn a_users_scores_add_up_over_their_purchases(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2, 3, 4]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (3, 1)]).await;
    model.confirm(Uuid::new_v4(), &[(2, 1), (3, 1)]).await;
    model.confirm(Uuid::new_v4(), &[(2, 1), (4, 1)]).await;
    let user = Uuid::new_v4();
    // Two orders of one product each: the user's purchases, but no co-purchase of their own.
    model.confirm(user, &[(1, 1)]).await;
    model.confirm(user, &[(2, 1)]).await;
    assert_eq!(
        ranked(&model.for_user(user, 4).await),
        [(3, Together, 2), (4, Together, 1)]
    );
}

async fn a_user_without_co_purchases_gets_popular_products_they_did_not_buy(db: Db) {
    let (model, users) = shop(db).await;
    let newcomer = model.for_user(Uuid::new_v4(), 4).await;
    assert_eq!(
        ranked(&newcomer),
        [
            (1, Popular, 3),
            (4, Popular, 2),
            (2, Popular, 2),
            (3, Popular, 1)
        ]
    );
    assert!(newcomer.fallback);
    // u5 bought 5 alone: popular products, 5 left out.
    let answer = model.for_user(users.u5, 20).await;
    assert!(answer.fallback);
    assert_eq!(
        ranked(&answer),
        [
            (1, Popular, 3),
            (4, Popular, 2),
            (2, Popular, 2),
            (3, Popular, 1)
        ]
    );
}

async fn a_bulk_order_counts_as_popularity_but_not_as_co_purchases(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2, 3, 150, 599]).await;
    let limit = recommendations::store::MAX_PAIRED_PRODUCTS as u128;
    // As many products as may be paired: every pair counts.
    let largest: Vec<(u128, u32)> = (1..=limit).map(|n| (n, 1)).collect();
    model.confirm(Uuid::new_v4(), &largest).await;
    assert_eq!(
        ranked(&model.for_product(1, 2).await),
        [(2, Together, 1), (3, Together, 1)]
    );
    // A bulk order, over several statements' worth of rows: popularity and the user's
    // purchases count, co-purchases do not.
    let user = Uuid::new_v4();
    let bulk: Vec<(u128, u32)> = (1..=600).map(|n| (n, 1)).collect();
    model.confirm(user, &bulk).await;
    assert_eq!(
        ranked(&model.for_product(1, 2).await),
        [(2, Together, 1), (3, Together, 1)]
    );
    assert_eq!(
        ranked(&model.for_product(150, 3).await),
        [(1, Popular, 2), (2, Popular, 2), (3, Popular, 2)]
    );
    let popular = model.store.for_product(Uuid::new_v4(), 5).await.unwrap();
    assert_eq!(
        ranked(&popular),
        [
            (1, Popular, 2),
            (2, Popular, 2),
            (3, Popular, 2),
            (150, Popular, 1),
            (599, Popular, 1)
        ]
    );
    let theirs = model.for_user(user, 20).await;
    assert!(theirs.items.is_empty(), "{theirs:?}");
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(recommendations::MIGRATIONS).await;
}
