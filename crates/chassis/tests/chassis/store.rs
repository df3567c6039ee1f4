//! The store's reads outside a transaction, which on SQLite run in the calling task
//! (`db::lite`) rather than on sqlx's connection threads: they see what other instances
//! committed, never wait for a writer, read every type as sqlx does and fail as sqlx fails.

use std::time::Duration;

use brigade_chassis::db::{migrate, Db, Migration, PoolOptions, Query};

const TABLE: Migration = Migration {
    version: 1,
    name: "things",
    sqlite: "CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL, price REAL, \
             flag INTEGER NOT NULL DEFAULT 0, data BLOB, note TEXT)",
    postgres:
        "CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL, price DOUBLE PRECISION, \
               flag BOOLEAN NOT NULL DEFAULT FALSE, data BYTEA, note TEXT)",
};

type Thing = (
    String,
    i64,
    Option<f64>,
    bool,
    Option<Vec<u8>>,
    Option<String>,
);

async fn store(db: &Db) {
    migrate(db, &[TABLE]).await.expect("migrate");
}

async fn insert(db: &Db, id: &str, n: i64) {
    let mut tx = db.begin_write().await.expect("begin");
    Query::new("INSERT INTO things (id, n, price, flag, data, note) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(id)
        .bind(n)
        .bind(2.5)
        .bind(n % 2 == 0)
        .bind(vec![0_u8, 1, 255])
        .bind(None::<String>)
        .execute(&mut tx)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
}

fn all() -> Query {
    Query::new("SELECT id, n, price, flag, data, note FROM things ORDER BY id")
}

async fn reads_see_what_another_instance_committed(db: Db) {
    store(&db).await;
    let other = db.another_pool(2).await.expect("pool");
    for n in 0..5 {
        insert(&other, &format!("t{n}"), n).await;
        let seen: Vec<Thing> = all().fetch_all(&db).await.expect("read");
        assert_eq!(
            seen.len(),
            usize::try_from(n + 1).unwrap(),
            "after write {n}"
        );
    }
    // A write outside a transaction, by this instance, is seen by its next read.
    Query::new("UPDATE things SET n = n + 100 WHERE id = ?")
        .bind("t3")
        .execute(&db)
        .await
        .expect("update");
    let (n,): (i64,) = Query::new("SELECT n FROM things WHERE id = ?")
        .bind("t3")
        .fetch_one(&other)
        .await
        .expect("read");
    assert_eq!(n, 103);
}

/// Every column type reads the same outside a transaction (in the calling task on SQLite) as
/// inside one (sqlx), and the values bound (lists, booleans, bytes, NULL) select the same rows.
async fn rows_read_the_same_in_and_out_of_transactions(db: Db) {
    store(&db).await;
    for n in 0..4 {
        insert(&db, &format!("t{n}"), n).await;
    }
    Query::new("UPDATE things SET note = 'x?y', price = NULL WHERE id = 't1'")
        .execute(&db)
        .await
        .expect("update");
    let mut query = Query::new("SELECT id, n, price, flag, data, note FROM things WHERE ");
    query
        .push_in_list("id", vec!["t1".to_owned(), "t2".to_owned()], "text")
        .push(" AND flag IN (?, ?) AND data = ? AND (note IS NULL OR note <> ?) ORDER BY id");
    let query = query
        .bind(true)
        .bind(false)
        .bind(vec![0_u8, 1, 255])
        .bind(None::<String>);
    let outside: Vec<Thing> = query.fetch_all(&db).await.expect("outside");
    let mut tx = db.begin_read().await.expect("begin");
    let inside: Vec<Thing> = query.fetch_all(&mut tx).await.expect("inside");
    tx.commit().await.expect("commit");
    // `note <> NULL` is never true: only the rows whose note is NULL.
    assert_eq!(
        outside,
        vec![(
            "t2".to_owned(),
            2,
            Some(2.5),
            true,
            Some(vec![0, 1, 255]),
            None
        )]
    );
    assert_eq!(outside, inside);
    let counted: Option<(i64, Option<f64>)> =
        Query::new("SELECT COUNT(*), SUM(price) FROM things WHERE n >= ?")
            .bind(1)
            .fetch_optional(&db)
            .await
            .expect("count");
    assert_eq!(counted, Some((3, Some(5.0))));
    let none: Option<(String,)> = Query::new("SELECT id FROM things WHERE id = ?")
        .bind("nothing")
        .fetch_optional(&db)
        .await
        .expect("none");
    assert_eq!(none, None);
}

/// A statement on the store that writes and returns rows still writes.
async fn a_write_that_returns_rows_writes(db: Db) {
    store(&db).await;
    let (id,): (String,) = Query::new("INSERT INTO things (id, n) VALUES (?, ?) RETURNING id")
        .bind("r")
        .bind(7)
        .fetch_one(&db)
        .await
        .expect("insert returning");
    assert_eq!(id, "r");
    let (n,): (i64,) = Query::new("SELECT n FROM things WHERE id = 'r'")
        .fetch_one(&db.another_pool(1).await.expect("pool"))
        .await
        .expect("read");
    assert_eq!(n, 7);
}

/// A read that fails, fails with the same error outside a transaction as inside one.
async fn reads_fail_as_they_fail_in_a_transaction(db: Db) {
    store(&db).await;
    insert(&db, "t", 1).await;
    let failing = [
        // A column read as a type it does not hold.
        Query::new("SELECT id FROM things"),
        // A column the row does not have.
        Query::new("SELECT n FROM things"),
        // SQL the store refuses.
        Query::new("SELECT nope FROM things"),
        Query::new("SELECT id FROM nowhere"),
    ];
    for query in failing {
        let outside = query
            .fetch_all::<(i64, i64)>(&db)
            .await
            .expect_err("outside");
        let mut tx = db.begin_read().await.expect("begin");
        let inside = query
            .fetch_all::<(i64, i64)>(&mut tx)
            .await
            .expect_err("inside");
        drop(tx);
        assert_eq!(
            outside.to_string(),
            inside.to_string(),
            "{}",
            query.sql(db.backend())
        );
        assert_eq!(
            std::mem::discriminant(&outside),
            std::mem::discriminant(&inside)
        );
    }
}

brigade_chassis::store_suite!(
    reads_see_what_another_instance_committed,
    rows_read_the_same_in_and_out_of_transactions,
    a_write_that_returns_rows_writes,
    reads_fail_as_they_fail_in_a_transaction,
);

/// A SQLite store with one pooled connection, which a write transaction then holds.
async fn one_connection_store() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let options = PoolOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
    };
    let db = Db::connect(&url, &options).await.expect("connect");
    store(&db).await;
    (db, dir)
}

/// On SQLite a read outside a transaction needs none of sqlx's pooled connections (it runs
/// in the calling task): while this instance's only one is inside a write transaction, and
/// while another instance's write transaction holds the store's write lock with rows not yet
/// committed, reads answer at once from the last committed state.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_reads_wait_for_no_writer_and_no_pooled_connection() {
    let (db, _dir) = one_connection_store().await;
    insert(&db, "committed", 1).await;
    let other = db.another_pool(1).await.expect("pool");
    let mut theirs = other.begin_write().await.expect("their begin");
    Query::new("INSERT INTO things (id, n) VALUES ('theirs', 2)")
        .execute(&mut theirs)
        .await
        .expect("their insert");
    let ours = db.begin_read().await.expect("our begin");
    // sqlx would wait for the pool's only connection here, and time out.
    let seen: Vec<(String,)> = Query::new("SELECT id FROM things ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("read beside two transactions");
    assert_eq!(seen, vec![("committed".to_owned(),)]);
    // Writes still go through the pool, and so still wait for it.
    let write = Query::new("UPDATE things SET n = 5").execute(&db).await;
    assert!(matches!(write, Err(sqlx::Error::PoolTimedOut)), "{write:?}");
    ours.rollback().await.expect("rollback");
    theirs.commit().await.expect("their commit");
    let seen: Vec<(String,)> = Query::new("SELECT id FROM things ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("read after their commit");
    assert_eq!(
        seen,
        vec![("committed".to_owned(),), ("theirs".to_owned(),)]
    );
}

/// A closed store refuses reads as it refuses everything else.
#[tokio::test]
async fn a_closed_sqlite_store_refuses_reads() {
    let (db, _dir) = brigade_chassis::testing::sqlite_db().await;
    store(&db).await;
    db.close().await;
    let read = Query::new("SELECT id FROM things")
        .fetch_all::<(String,)>(&db)
        .await;
    assert!(matches!(read, Err(sqlx::Error::PoolClosed)), "{read:?}");
}

/// An in-memory store (one database per connection) reads through sqlx, as before.
#[tokio::test]
async fn an_in_memory_sqlite_store_reads() {
    let db = Db::connect("sqlite::memory:", &PoolOptions::default())
        .await
        .expect("connect");
    store(&db).await;
    Query::new("INSERT INTO things (id, n) VALUES ('m', 1)")
        .execute(&db)
        .await
        .expect("insert");
    let seen: Vec<(String, i64)> = Query::new("SELECT id, n FROM things")
        .fetch_all(&db)
        .await
        .expect("read");
    assert_eq!(seen, vec![("m".to_owned(), 1)]);
}
