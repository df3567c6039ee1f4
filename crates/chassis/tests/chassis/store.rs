//! The store's statements, which on a SQLite file run in the calling task (`db::lite`) rather
//! than on sqlx's connection threads: reads see what other instances committed, never wait for
//! a writer, read every type as sqlx does and fail as sqlx fails; write transactions wait for
//! each other in and across instances without blocking the runtime, roll back when dropped or
//! cancelled, and report constraint failures as sqlx does.

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

/// A transaction dropped without commit (an early return, a cancelled request) leaves nothing;
/// a savepoint rolled back or dropped takes back only what was written inside it.
async fn what_is_not_committed_leaves_no_trace(db: Db) {
    store(&db).await;
    {
        let mut tx = db.begin_write().await.expect("begin");
        Query::new("INSERT INTO things (id, n) VALUES ('dropped', 1)")
            .execute(&mut tx)
            .await
            .expect("insert");
    }
    let mut tx = db.begin_write().await.expect("begin after a dropped one");
    Query::new("INSERT INTO things (id, n) VALUES ('kept', 1)")
        .execute(&mut tx)
        .await
        .expect("insert");
    for (id, end) in [
        ("undone", "rollback"),
        ("released", "commit"),
        ("gone", "drop"),
    ] {
        let mut savepoint = tx.savepoint().await.expect("savepoint");
        Query::new("INSERT INTO things (id, n) VALUES (?, 2)")
            .bind(id)
            .execute(savepoint.conn())
            .await
            .expect("insert in savepoint");
        match end {
            "rollback" => savepoint.rollback().await.expect("rollback"),
            "commit" => savepoint.commit().await.expect("release"),
            _ => drop(savepoint),
        }
    }
    tx.commit().await.expect("commit");
    let ids: Vec<(String,)> = Query::new("SELECT id FROM things ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("read");
    assert_eq!(ids, vec![("kept".to_owned(),), ("released".to_owned(),)]);
}

/// A unique key broken inside a transaction or by a write on its own is reported as sqlx
/// reports it, so stores that turn it into a conflict still do.
async fn a_broken_unique_key_reads_as_a_unique_violation(db: Db) {
    store(&db).await;
    insert(&db, "taken", 1).await;
    let mut tx = db.begin_write().await.expect("begin");
    let inside = Query::new("INSERT INTO things (id, n) VALUES ('taken', 2)")
        .execute(&mut tx)
        .await
        .expect_err("duplicate in a transaction");
    drop(tx);
    let alone = Query::new("INSERT INTO things (id, n) VALUES ('taken', 3)")
        .execute(&db)
        .await
        .expect_err("duplicate alone");
    for error in [inside, alone] {
        match &error {
            sqlx::Error::Database(e) => assert!(e.is_unique_violation(), "{error}"),
            other => panic!("not a database error: {other:?}"),
        }
    }
    let (n,): (i64,) = Query::new("SELECT n FROM things WHERE id = 'taken'")
        .fetch_one(&db)
        .await
        .expect("read");
    assert_eq!(n, 1);
}

/// Read-modify-write transactions from many tasks of two instances at once lose no update:
/// each waits for the write lock (in its instance, then across them) and none gives up.
async fn concurrent_writers_of_two_instances_lose_no_update(db: Db) {
    store(&db).await;
    insert(&db, "counter", 0).await;
    let other = db.another_pool(4).await.expect("pool");
    let mut tasks = tokio::task::JoinSet::new();
    for instance in [db.clone(), other] {
        for _ in 0..10 {
            let db = instance.clone();
            tasks.spawn(async move {
                for _ in 0..5 {
                    let mut tx = db.begin_write().await.expect("begin");
                    let mut read = Query::new("SELECT t.n FROM things t WHERE t.id = 'counter'");
                    read.push_lock_rows_of("t");
                    let (n,): (i64,) = read.fetch_one(&mut tx).await.expect("read");
                    tokio::task::yield_now().await;
                    Query::new("UPDATE things SET n = ? WHERE id = 'counter'")
                        .bind(n + 1)
                        .execute(&mut tx)
                        .await
                        .expect("write");
                    tx.commit().await.expect("commit");
                }
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("writer");
    }
    let (n,): (i64,) = Query::new("SELECT n FROM things WHERE id = 'counter'")
        .fetch_one(&db)
        .await
        .expect("read");
    assert_eq!(n, 100);
}

/// A task cancelled while it holds a write transaction (a request whose client went away)
/// leaves nothing written, and the next writer gets the store at once.
async fn a_cancelled_writer_releases_the_store(db: Db) {
    store(&db).await;
    let (began, mut began_rx) = tokio::sync::mpsc::channel(1);
    let holder = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.expect("begin");
            Query::new("INSERT INTO things (id, n) VALUES ('cancelled', 1)")
                .execute(&mut tx)
                .await
                .expect("insert");
            began.send(()).await.expect("tell");
            std::future::pending::<()>().await;
        }
    });
    began_rx.recv().await.expect("began");
    holder.abort();
    assert!(holder.await.expect_err("aborted").is_cancelled());
    let next = tokio::time::timeout(Duration::from_secs(2), db.begin_write())
        .await
        .expect("the store is free")
        .expect("begin");
    next.commit().await.expect("commit");
    let ids: Vec<(String,)> = Query::new("SELECT id FROM things")
        .fetch_all(&db)
        .await
        .expect("read");
    assert!(ids.is_empty(), "{ids:?}");
}

brigade_chassis::store_suite!(
    reads_see_what_another_instance_committed,
    rows_read_the_same_in_and_out_of_transactions,
    a_write_that_returns_rows_writes,
    reads_fail_as_they_fail_in_a_transaction,
    what_is_not_committed_leaves_no_trace,
    a_broken_unique_key_reads_as_a_unique_violation,
    concurrent_writers_of_two_instances_lose_no_update,
    a_cancelled_writer_releases_the_store,
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

/// On SQLite a statement needs none of sqlx's pooled connections (it runs in the calling
/// task): while this instance's only one is inside a read transaction, and while another
/// instance's write transaction holds the store's write lock with rows not yet committed,
/// reads answer at once from the last committed state, and a write waits for the other
/// instance's commit without blocking the runtime (one thread here), then goes through.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_statements_need_no_pooled_connection_and_never_block_the_runtime() {
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
    let write = tokio::spawn({
        let db = db.clone();
        async move { Query::new("UPDATE things SET n = 5").execute(&db).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!write.is_finished(), "the write waits for their lock");
    // The runtime's one thread is free while the write waits.
    let seen: Vec<(String,)> = Query::new("SELECT id FROM things ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("read while a write waits");
    assert_eq!(seen, vec![("committed".to_owned(),)]);
    ours.rollback().await.expect("rollback");
    theirs.commit().await.expect("their commit");
    let changed = write
        .await
        .expect("task")
        .expect("write after their commit");
    assert_eq!(changed, 2);
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

/// A pooled PostgreSQL connection is handed out without a ping while it was in use a moment ago
/// (the ping was a round trip before every statement); one idle for longer is checked first,
/// so connections a server restart (here: `pg_terminate_backend`) broke while idle are replaced
/// before a statement is sent on them, and no caller sees the break.
#[tokio::test]
async fn postgres_connections_the_server_dropped_while_idle_are_replaced_unseen() {
    let Some(db) = brigade_chassis::testing::postgres_db().await else {
        return;
    };
    let Db::Postgres(pool) = &db else {
        panic!("postgres_db gives a PostgreSQL store");
    };
    // Several connections in the pool, all idle afterwards.
    let busy: Vec<_> = futures_util::future::join_all((0..3).map(|_| pool.acquire())).await;
    assert!(busy.iter().all(Result::is_ok));
    drop(busy);
    // (A connection goes back to the pool in a task of its own.)
    for _ in 0..100 {
        if pool.num_idle() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pool.num_idle() >= 3, "{} idle", pool.num_idle());

    // Another session ends every one of them, as a restarted server would.
    let admin = sqlx::PgPool::connect(&brigade_chassis::testing::postgres_admin_url())
        .await
        .unwrap();
    let ended: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(
        sqlx::query_scalar::<_, String>("SELECT current_database()")
            .fetch_one(pool)
            .await
            .unwrap(),
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(!ended.is_empty());

    // Idle past the window: each is pinged, found dead and replaced; every statement succeeds.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    for _ in 0..5 {
        let one: Vec<(i64,)> = Query::new("SELECT CAST(1 AS BIGINT)")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(one, vec![(1,)]);
    }
}
