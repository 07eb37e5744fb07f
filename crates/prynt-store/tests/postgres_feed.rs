//! The change feed as only PostgreSQL shows it: two nodes (stores) on one database wake each
//! other and tell each other's changes apart, and a change committed behind a transaction still
//! running elsewhere comes ahead of the cursor at once, then below it once that transaction
//! ends. Each test runs on a fresh database of the server named by `PRYNT_TEST_DATABASE_URL`.

use std::time::{Duration, Instant};

use prynt_core::{Environment, Scope};
use prynt_store::postgres::PostgresStore;
use prynt_store::prelude::*;
use prynt_store::{Change, ChangeCursor, ChangedResource, NewRule};

mod pg_support;
use pg_support::FreshDatabase;

async fn default_scope(store: &PostgresStore) -> Scope {
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    Scope {
        workspace_id: ws.id,
        env: Environment::Test,
    }
}

fn rule(id: &str) -> NewRule {
    NewRule {
        id: id.into(),
        name: "r".into(),
        status: "live".into(),
        priority: None,
        conditions: r#"{"operator":"AND","rules":[]}"#.into(),
        action: r#"{"verdict":"block"}"#.into(),
    }
}

fn is_rules_marker(change: &Change) -> bool {
    matches!(
        change,
        Change::Marker {
            resource: ChangedResource::Rules,
            ..
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_woken_by_another_nodes_change_and_tells_it_from_its_own() {
    let db = FreshDatabase::new().await;
    let (a, b) = (db.store().await, db.store().await);
    assert_ne!(
        a.writer_id(),
        b.writer_id(),
        "each node tags its own writes"
    );
    let scope = default_scope(&a).await;
    let head = b.change_head().await.unwrap();
    // B starts listening and uses up the wake-up of its first connection.
    while b.wait_for_change(Duration::from_millis(300)).await.unwrap() {}

    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let woken = b.wait_for_change(Duration::from_secs(5)).await.unwrap();
        (b, woken)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.create_rule(&scope, rule("rul_000000000001"), 1)
        .await
        .unwrap();
    let (b, woken) = waiting.await.unwrap();
    assert!(woken, "NOTIFY woke the other node");
    assert!(started.elapsed() < Duration::from_secs(2));

    let page = b.changes_after(head, 100).await.unwrap();
    let mut items = page.items;
    items.extend(page.ahead);
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(is_rules_marker(&items[0].change));
    assert_eq!(items[0].writer_id, a.writer_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_behind_an_open_transaction_comes_ahead_then_below_the_cursor() {
    let db = FreshDatabase::new().await;
    let store = db.store().await;
    let scope = default_scope(&store).await;
    let head = store.change_head().await.unwrap();

    // Another session holds a write transaction open (on this database; any database of the
    // server would do).
    let config: tokio_postgres::Config = db.url.parse().unwrap();
    let (other, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    other.batch_execute("BEGIN").await.unwrap();
    other
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .unwrap();

    store
        .create_rule(&scope, rule("rul_000000000002"), 1)
        .await
        .unwrap();
    let page = store.changes_after(head, 100).await.unwrap();
    assert!(
        page.items.is_empty(),
        "the cursor cannot pass the open transaction"
    );
    assert_eq!(page.cursor, head);
    assert_eq!(
        page.ahead.len(),
        1,
        "but the committed change is handed out"
    );
    assert!(is_rules_marker(&page.ahead[0].change));
    let early: ChangeCursor = page.ahead[0].cursor;
    assert!(early > head);

    other.batch_execute("ROLLBACK").await.unwrap();
    // Other tests' transactions on the same server may hold the cursor back a little longer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = store.changes_after(head, 100).await.unwrap();
        if !page.items.is_empty() || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(page.ahead.is_empty());
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].cursor, early,
        "the same item, now below the cursor"
    );
    assert_eq!(page.cursor, early);
    drop(other);
    let _ = driver.await;
}
