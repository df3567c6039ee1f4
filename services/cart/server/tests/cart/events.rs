//! The cart's reaction to orders' `OrderConfirmed`, applied through the chassis' inbox as a
//! delivery would be, on SQLite and PostgreSQL: the ordered quantities leave the cart, what the
//! shopper added since stays, a repeated delivery changes nothing more.

use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyError, ApplyOutcome, Envelope, HandlerError, Inbox};
use cart::lines::StoredCart;
use catalog_api::Money;
use orders_api::events::{OrderConfirmed, OrderPlaced};
use orders_api::OrderLine;
use uuid::Uuid;

use crate::support::{clear, migrated, product, quantities, set};

brigade_chassis::store_suite!(
    a_confirmed_order_takes_exactly_its_quantities_out_of_the_cart,
    what_the_shopper_set_after_checking_out_stays,
    a_second_delivery_is_a_duplicate_and_takes_nothing_more,
    a_buyer_without_a_cart_or_its_products_is_fine,
    other_order_events_and_unreadable_ones_leave_the_cart_alone,
);

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

/// An order of `user` for `(n, quantity)` of products as the tests' catalog prices them.
fn confirmed(user: Uuid, items: &[(u128, u32)]) -> OrderConfirmed {
    let lines: Vec<OrderLine> = items
        .iter()
        .map(|&(n, quantity)| {
            let p = product(n, 100 * n as i64, "EUR");
            OrderLine {
                product_id: p.id,
                sku: p.sku,
                name: p.name,
                line_total: eur(p.price.amount_minor * i64::from(quantity)),
                unit_price: p.price,
                quantity,
            }
        })
        .collect();
    OrderConfirmed {
        order_id: Uuid::new_v4(),
        user_id: user,
        total: eur(lines.iter().map(|l| l.line_total.amount_minor).sum()),
        lines,
        charge_id: Some(Uuid::new_v4()),
        shipping_country: None,
        cart_version: None,
    }
}

async fn deliver(db: &Db, envelope: &Envelope) -> Result<ApplyOutcome, ApplyError> {
    Inbox::new(db.clone())
        .apply(&cart::events::orders(), envelope, None)
        .await
}

/// Delivers, once, the confirmation of `user`'s order of `items` (`(product number, quantity)`)
/// and asserts that it was applied.
async fn apply_confirmed(db: &Db, user: Uuid, items: &[(u128, u32)]) {
    let envelope = Envelope::of(&confirmed(user, items), 1).unwrap();
    let outcome = deliver(db, &envelope).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied);
}

async fn a_confirmed_order_takes_exactly_its_quantities_out_of_the_cart(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    // Checked out with 3 × product 1 and 1 × product 2; then added product 3.
    set(&store, ada, 1, 3).await;
    set(&store, ada, 2, 1).await;
    set(&store, ada, 3, 2).await;
    set(&store, bob, 1, 3).await;
    let before = store.load(ada).await.unwrap();
    let bobs = store.load(bob).await.unwrap();

    // The order took 2 of product 1 (one more was added after checking out) and product 2.
    let order = confirmed(ada, &[(1, 2), (2, 1)]);
    let outcome = deliver(&db, &Envelope::of(&order, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied);

    let after = store.load(ada).await.unwrap();
    assert_eq!(
        quantities(&after),
        [("TST-0001".into(), 1), ("TST-0003".into(), 2)]
    );
    // One change, counted once; the kept lines keep their place and price.
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.lines[0], {
        let mut line = before.lines[0].clone();
        line.quantity = 1;
        line
    });
    assert_eq!(after.lines[1], before.lines[2]);
    // Another shopper's cart with the same product is not touched.
    assert_eq!(store.load(bob).await.unwrap(), bobs);
}

async fn what_the_shopper_set_after_checking_out_stays(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Each checks out 1 × product 1 and 2 × product 2, priced from the cart as it is then.
    let mut priced = Vec::new();
    for user in [ada, bob, cy] {
        set(&store, user, 1, 1).await;
        priced.push(set(&store, user, 2, 2).await.version);
    }
    // Before the confirmation arrives, ada empties her cart and adds product 1 again; bob asks
    // for 3 × product 2 instead; cy asks for 1 × product 1 again, which changes nothing.
    clear(&store, ada).await;
    set(&store, ada, 1, 1).await;
    set(&store, bob, 2, 3).await;
    set(&store, cy, 1, 1).await;

    for (user, version) in [ada, bob, cy].into_iter().zip(priced) {
        let order = OrderConfirmed {
            cart_version: Some(u64::try_from(version).unwrap()),
            ..confirmed(user, &[(1, 1), (2, 2)])
        };
        let outcome = deliver(&db, &Envelope::of(&order, 1).unwrap())
            .await
            .unwrap();
        assert_eq!(outcome, ApplyOutcome::Applied);
    }
    // What was set after the checkout is what the shopper asked for: it stays, whole.
    let ada_left = store.load(ada).await.unwrap();
    assert_eq!(quantities(&ada_left), [("TST-0001".into(), 1)]);
    let bob_left = store.load(bob).await.unwrap();
    assert_eq!(quantities(&bob_left), [("TST-0002".into(), 3)]);
    assert_eq!(store.load(cy).await.unwrap().lines, []);
}

async fn a_second_delivery_is_a_duplicate_and_takes_nothing_more(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    set(&store, user, 1, 5).await;
    let envelope = Envelope::of(&confirmed(user, &[(1, 2)]), 1).unwrap();
    assert_eq!(
        deliver(&db, &envelope).await.unwrap(),
        ApplyOutcome::Applied
    );
    let once = store.load(user).await.unwrap();
    assert_eq!(quantities(&once), [("TST-0001".into(), 3)]);

    // Delivered again (a relay that re-published, a consumer that died before acknowledging).
    assert_eq!(
        deliver(&db, &envelope).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(store.load(user).await.unwrap(), once);
}

async fn a_buyer_without_a_cart_or_its_products_is_fine(db: Db) {
    let store = migrated(db.clone()).await;
    // No cart at all (emptied by hand meanwhile, or never stored here): still none.
    let stranger = Uuid::new_v4();
    apply_confirmed(&db, stranger, &[(1, 1)]).await;
    assert_eq!(store.load(stranger).await.unwrap(), StoredCart::empty());

    // A cart without the ordered products: not changed, not even counted.
    let shopper = Uuid::new_v4();
    let cart = set(&store, shopper, 4, 1).await;
    apply_confirmed(&db, shopper, &[(1, 1)]).await;
    assert_eq!(store.load(shopper).await.unwrap(), cart);

    // Fewer units left than ordered (the shopper lowered the quantity after checking out): the
    // line goes, and the cart still changes through its own path afterwards.
    set(&store, shopper, 1, 1).await;
    apply_confirmed(&db, shopper, &[(1, 3)]).await;
    let left = store.load(shopper).await.unwrap();
    assert_eq!(quantities(&left), [("TST-0004".into(), 1)]);
    let removed = clear(&store, shopper).await;
    assert_eq!(removed.cart.version, left.version + 1);
}

async fn other_order_events_and_unreadable_ones_leave_the_cart_alone(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let cart = set(&store, user, 1, 2).await;
    let order = confirmed(user, &[(1, 2)]);

    // A placed order may still fail: the cart keeps its lines.
    let placed = OrderPlaced {
        order_id: order.order_id,
        user_id: user,
        lines: order.lines.clone(),
        total: order.total.clone(),
    };
    assert_eq!(
        deliver(&db, &Envelope::of(&placed, 1).unwrap())
            .await
            .unwrap(),
        ApplyOutcome::Skipped
    );
    assert_eq!(store.load(user).await.unwrap(), cart);

    // A payload of a schema version this build does not read is refused for good (parked by
    // the consumer), and changes nothing.
    let mut unreadable = Envelope::of(&order, 2).unwrap();
    unreadable.schemaversion = 2;
    match deliver(&db, &unreadable).await {
        Err(ApplyError::Handler(HandlerError::Permanent(reason))) => {
            assert!(reason.contains("schema version 2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load(user).await.unwrap(), cart);
}
