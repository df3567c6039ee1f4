//! The handlers, fed through the chassis' inbox as the running service feeds them: repeats,
//! product changes, orders that come before their products' facts, events the model ignores and
//! events it can never store. Each test runs on SQLite and on PostgreSQL.

use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyOutcome, Envelope};
use catalog_api::events::ProductChanged;
use orders_api::events::{OrderCancelled, OrderPlaced};
use orders_api::CancelReason;
use recommendations_api::Reason::{BoughtTogether as Together, Popular};
use uuid::Uuid;

use crate::support::{order, product, ranked, Model};

brigade_chassis::store_suite!(
    an_order_delivered_twice_counts_once,
    a_later_product_change_replaces_its_facts,
    an_order_counts_before_its_products_are_known_and_they_appear_once_announced,
    lines_of_one_product_count_as_one_order_with_all_their_units,
    only_confirmed_orders_count,
    facts_that_could_never_be_stored_are_refused_and_change_nothing,
);

async fn an_order_delivered_twice_counts_once(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2]).await;
    let user = Uuid::new_v4();
    let confirmed = model.envelope(&order(user, &[(1, 1), (2, 1)]));
    assert_eq!(model.deliver(&confirmed).await, ApplyOutcome::Applied);
    // The same envelope again, as an at-least-once transport delivers it after a crash.
    assert_eq!(model.deliver(&confirmed).await, ApplyOutcome::Duplicate);
    assert_eq!(ranked(&model.for_product(1, 4).await), [(2, Together, 1)]);
    let everyone = model.store.for_product(Uuid::new_v4(), 4).await.unwrap();
    assert_eq!(ranked(&everyone), [(1, Popular, 1), (2, Popular, 1)]);
    // Another order is another count.
    model.confirm(Uuid::new_v4(), &[(2, 1), (1, 1)]).await;
    assert_eq!(ranked(&model.for_product(1, 4).await), [(2, Together, 2)]);
    // The user bought both: nothing left to recommend to them.
    let mine = model.for_user(user, 4).await;
    assert!(mine.items.is_empty() && mine.fallback, "{mine:?}");
}

async fn a_later_product_change_replaces_its_facts(db: Db) {
    let mut model = Model::new(db).await;
    let mut kettle = product(1, 2500);
    kettle.name = "Kettle".into();
    let first = model.envelope(&ProductChanged {
        product: kettle.clone(),
    });
    assert_eq!(model.deliver(&first).await, ApplyOutcome::Applied);
    model.announce(&[2]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (2, 1)]).await;
    assert_eq!(model.for_product(2, 1).await.items[0].name, "Kettle");

    kettle.name = "Copper kettle".into();
    kettle.sku = "KIT-0042".into();
    kettle.price.amount_minor = 2900;
    kettle.image_url = "/images/copper-kettle.jpg".into();
    model.announce_product(&kettle).await;
    // A late repeat of the first change is recognised as such and does not bring it back.
    assert_eq!(model.deliver(&first).await, ApplyOutcome::Duplicate);
    let shown = &model.for_product(2, 1).await.items[0];
    assert_eq!(
        (
            shown.name.as_str(),
            shown.sku.as_str(),
            shown.price.amount_minor,
            shown.image_url.as_str()
        ),
        (
            "Copper kettle",
            "KIT-0042",
            2900,
            "/images/copper-kettle.jpg"
        )
    );
}

async fn an_order_counts_before_its_products_are_known_and_they_appear_once_announced(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1]).await;
    let user = Uuid::new_v4();
    model.confirm(user, &[(1, 2), (9, 1)]).await;
    // 9 cannot be shown yet: without it, 1 has nothing to go with.
    let before = model.for_product(1, 4).await;
    assert!(before.items.is_empty() && before.fallback, "{before:?}");
    assert_eq!(
        ranked(&model.store.for_product(Uuid::new_v4(), 4).await.unwrap()),
        [(1, Popular, 1)]
    );

    model.announce(&[9]).await;
    let after = model.for_product(1, 4).await;
    assert_eq!(ranked(&after), [(9, Together, 1)]);
    assert!(!after.fallback);
    assert_eq!(ranked(&model.for_product(9, 4).await), [(1, Together, 1)]);
    // The order counted in full all along: 1 sold more units than 9.
    assert_eq!(
        ranked(&model.store.for_product(Uuid::new_v4(), 4).await.unwrap()),
        [(1, Popular, 1), (9, Popular, 1)]
    );
    let mine = model.for_user(user, 4).await;
    assert!(mine.items.is_empty(), "{mine:?}");
}

async fn lines_of_one_product_count_as_one_order_with_all_their_units(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2, 3]).await;
    model
        .confirm(Uuid::new_v4(), &[(1, 2), (2, 1), (1, 3)])
        .await;
    model.confirm(Uuid::new_v4(), &[(3, 4)]).await;
    // One order each; 1's five units put it before 3's four and 2's one.
    assert_eq!(
        ranked(&model.store.for_product(Uuid::new_v4(), 4).await.unwrap()),
        [(1, Popular, 1), (3, Popular, 1), (2, Popular, 1)]
    );
    // 1 and 2 were bought together once, not twice.
    assert_eq!(ranked(&model.for_product(2, 1).await), [(1, Together, 1)]);
}

async fn only_confirmed_orders_count(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2]).await;
    let user = Uuid::new_v4();
    let confirmed = order(user, &[(1, 1), (2, 1)]);
    let placed = OrderPlaced {
        order_id: confirmed.order_id,
        user_id: user,
        lines: confirmed.lines.clone(),
        total: confirmed.total.clone(),
    };
    let cancelled = OrderCancelled {
        order_id: Uuid::new_v4(),
        user_id: user,
        reason: CancelReason::OutOfStock,
        lines: confirmed.lines.clone(),
    };
    let placed = model.envelope(&placed);
    assert_eq!(model.deliver(&placed).await, ApplyOutcome::Skipped);
    let cancelled = model.envelope(&cancelled);
    assert_eq!(model.deliver(&cancelled).await, ApplyOutcome::Skipped);
    let nothing = model.for_product(1, 4).await;
    assert!(nothing.items.is_empty(), "{nothing:?}");
    // The placed order's confirmation is its subject's second event, and counts.
    let confirmed = model.envelope(&confirmed);
    assert_eq!(confirmed.subjectseq, 2);
    assert_eq!(model.deliver(&confirmed).await, ApplyOutcome::Applied);
    assert_eq!(ranked(&model.for_product(1, 4).await), [(2, Together, 1)]);
}

async fn facts_that_could_never_be_stored_are_refused_and_change_nothing(db: Db) {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (2, 1)]).await;
    let mut negative = product(2, -5);
    negative.name = "Broken".into();
    let mut no_currency = product(2, 100);
    no_currency.price.currency = "euro".into();
    for (bad, reason) in [(negative, "negative price"), (no_currency, "`euro`")] {
        // Both as the subject's second event: a refused event is not recorded as applied.
        let envelope = Envelope::of(&ProductChanged { product: bad }, 2).unwrap();
        let refused = model
            .inbox
            .apply(&model.catalog, &envelope, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains(reason), "{refused}");
    }
    let shown = &model.for_product(1, 1).await.items[0];
    assert_eq!(
        (shown.name.as_str(), shown.price.amount_minor),
        ("Product 2", 200)
    );
}
