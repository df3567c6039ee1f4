//! Real instances on real sockets, started the way `main` starts them, called through the typed
//! client that the orders service uses.

use std::time::Duration;

use brigade_chassis::db::{Db, PoolOptions};
use brigade_chassis::events::{FeedPage, Outbox, OUTBOX_MIGRATION};
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{addresses, static_client, Instance};
use inventory::Inventory;
use inventory_api::events::StockChanged;
use inventory_api::{
    problems, short_lines, InventoryClient, ReservationStatus, ReserveRequest, ShortLine,
};
use orders_api::events::OrderCancelled;
use orders_api::CancelReason;
use tokio::time::Instant;
use uuid::Uuid;

use crate::support::lines;

async fn start(database_url: &str) -> Instance {
    Instance::start::<Inventory>(&["--database-url", database_url]).await
}

fn client(instances: &[&Instance]) -> InventoryClient {
    InventoryClient::new(static_client("inventory", addresses(instances)))
}

/// The problem code of a refused call.
fn code(error: &brigade_chassis::client::Error) -> String {
    match error {
        brigade_chassis::client::Error::Status { problem, .. } => problem.code().to_owned(),
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_one_fresh_store_share_stock_and_reservations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inventory.db").display());
    // Both start in the same moment, racing to migrate and stock the same new file.
    let (a, b) = tokio::join!(start(&url), start(&url));

    // Each instance, asked directly, has the sample stock.
    let sample = inventory::seed::sample_stock();
    let (sku, units) = sample[7].clone();
    for instance in [&a, &b] {
        let level = client(&[instance])
            .stock(std::slice::from_ref(&sku))
            .await
            .unwrap();
        assert_eq!(level.items.len(), 1, "{level:?}");
        assert_eq!(level.items[0].stock, u64::from(units));
        assert_eq!(level.items[0].available, u64::from(units));
    }

    let inventory = client(&[&a, &b]);
    let level = inventory.set_stock("TEST-0001", 3).await.unwrap();
    assert_eq!(level.available, 3);
    assert_eq!(inventory.stock_level("TEST-0001").await.unwrap(), level);

    // Reserve, repeat, read, commit, and the refusals the saga branches on.
    let order = Uuid::new_v4();
    let request = ReserveRequest {
        lines: lines(&[("TEST-0001", 2), (sku.as_str(), 1)]),
        ttl_ms: None,
    };
    let reserved = inventory.reserve(order, &request).await.unwrap();
    assert_eq!(reserved.status, ReservationStatus::Held);
    assert_eq!(inventory.reserve(order, &request).await.unwrap(), reserved);
    assert_eq!(inventory.reservation(order).await.unwrap(), reserved);
    let mismatch = ReserveRequest {
        lines: lines(&[("TEST-0001", 1)]),
        ttl_ms: None,
    };
    let refused = inventory.reserve(order, &mismatch).await.unwrap_err();
    assert_eq!(code(&refused), problems::RESERVATION_MISMATCH);

    let too_many = ReserveRequest {
        lines: lines(&[("TEST-0001", 2)]),
        ttl_ms: None,
    };
    let refused = inventory
        .reserve(Uuid::new_v4(), &too_many)
        .await
        .unwrap_err();
    assert_eq!(code(&refused), problems::OUT_OF_STOCK);
    assert_eq!(
        short_lines(&refused),
        Some(vec![ShortLine {
            sku: "TEST-0001".to_owned(),
            requested: 2,
            available: 1
        }])
    );

    let committed = inventory.commit(order).await.unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed);
    assert_eq!(inventory.commit(order).await.unwrap(), committed);
    let refused = inventory.release(order).await.unwrap_err();
    assert_eq!(code(&refused), problems::ALREADY_COMMITTED);
    assert!(inventory
        .reservation(Uuid::new_v4())
        .await
        .unwrap_err()
        .is_not_found());
    assert!(inventory
        .commit(Uuid::new_v4())
        .await
        .unwrap_err()
        .is_not_found());
    let refused = inventory.set_stock("TEST-0001", 1).await.unwrap_err();
    assert_eq!(code(&refused), problems::STOCK_BELOW_RESERVED);

    // The instances' own sweeps expire a reservation past its time and return its units.
    let brief = Uuid::new_v4();
    let request = ReserveRequest {
        lines: lines(&[("TEST-0001", 1)]),
        ttl_ms: Some(1000),
    };
    inventory.reserve(brief, &request).await.unwrap();
    assert_eq!(
        inventory.stock_level("TEST-0001").await.unwrap().available,
        0
    );
    let mut status = ReservationStatus::Held;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = inventory.reservation(brief).await.unwrap().status;
        if status != ReservationStatus::Held {
            break;
        }
    }
    assert_eq!(status, ReservationStatus::Expired);
    let level = inventory.stock_level("TEST-0001").await.unwrap();
    assert_eq!((level.held, level.committed, level.available), (0, 2, 1));
    assert_eq!(
        inventory.release(brief).await.unwrap().status,
        ReservationStatus::Expired
    );

    assert!(inventory.audit().await.unwrap().violations.is_empty());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// A stand-in for the orders service: a chassis instance named `orders` that publishes the
/// events of its outbox, so that the inventory reads them exactly as it would read orders'.
struct OrdersFeed {
    instance: Instance,
    db: Db,
}

impl OrdersFeed {
    async fn start(dir: &std::path::Path) -> OrdersFeed {
        let url = format!("sqlite://{}", dir.join("orders.db").display());
        let info = ServiceInfo {
            name: "orders",
            version: "test",
            depends_on: brigade_chassis::service::Dependencies {
                publishes: true,
                read_by: &["inventory"],
                ..brigade_chassis::service::Dependencies::NONE
            },
        };
        let instance =
            Instance::start_custom(info, &["--database-url", &url], |mut ctx| async move {
                let db = ctx.open_store(&[OUTBOX_MIGRATION]).await?;
                ctx.publish_events(&db).await?;
                Ok(axum::Router::new())
            })
            .await;
        let db = Db::connect(&url, &PoolOptions::default()).await.unwrap();
        OrdersFeed { instance, db }
    }

    /// Commits `event` into the outbox, as orders does with the change it announces.
    async fn publish(&self, event: &OrderCancelled) {
        let mut tx = self.db.begin_write().await.unwrap();
        Outbox::new().append(tx.conn(), event).await.unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_cancelled_on_orders_feed_releases_its_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let orders = OrdersFeed::start(dir.path()).await;
    let url = format!("sqlite://{}", dir.path().join("inventory.db").display());
    let peers = format!("orders={}", orders.instance.address);
    let instance =
        Instance::start::<Inventory>(&["--database-url", &url, "--peers", &peers, "--no-seed"])
            .await;
    let inventory = client(&[&instance]);
    inventory.set_stock("TEST-0001", 5).await.unwrap();
    let order = Uuid::new_v4();
    let request = ReserveRequest {
        lines: lines(&[("TEST-0001", 2)]),
        ttl_ms: None,
    };
    inventory.reserve(order, &request).await.unwrap();

    orders
        .publish(&OrderCancelled {
            order_id: order,
            user_id: Uuid::new_v4(),
            reason: CancelReason::PaymentDeclined,
            lines: Vec::new(),
        })
        .await;
    let started = Instant::now();
    loop {
        let status = inventory.reservation(order).await.unwrap().status;
        if status == ReservationStatus::Released {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the inventory did not apply OrderCancelled: the reservation is {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let level = inventory.stock_level("TEST-0001").await.unwrap();
    assert_eq!((level.held, level.available), (0, 5));

    // The inventory's own feed announces the SKU's counters after each change: created, held,
    // given back.
    let feed_url = |after: i64| {
        format!(
            "{}/v1/events/feed?after={after}&wait_ms=2000",
            instance.url()
        )
    };
    let mut announced = Vec::new();
    let mut after = 0;
    while announced.len() < 3 {
        let page: FeedPage =
            brigade_chassis::testing::harness_get_json("inventory", &feed_url(after))
                .await
                .unwrap();
        assert!(!page.events.is_empty(), "the feed stopped at {announced:?}");
        for item in page.events {
            after = item.position;
            announced.push(item.event.decode::<StockChanged>().unwrap());
        }
    }
    let available: Vec<(u64, u64)> = announced.iter().map(|e| (e.held, e.available)).collect();
    assert_eq!(available, [(0, 5), (2, 3), (0, 5)]);

    instance.stop().await.unwrap();
    orders.instance.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its relay, its consumer and the expiry sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<inventory::Inventory>(&[]).await;
}
