//! What only the PostgreSQL store has to show: several nodes (each its own store and pool) on
//! one database at once — migrations, the first keys, the delivery queue, idempotency claims —
//! and how an unreachable server surfaces. Each test runs on a fresh database of the server
//! named by `PRYNT_TEST_DATABASE_URL`.

use std::collections::HashSet;
use std::sync::Arc;

use prynt_core::{keys, Environment, KeyType, Scope};
use prynt_store::postgres::{admin, PostgresStore};
use prynt_store::prelude::*;
use prynt_store::{
    IdempotencyClaim, NewApiKey, NewIdentification, OutboxItem, StoreError, WebhookRecord,
};

mod pg_support;
use pg_support::FreshDatabase;

/// An identification of `visitor_id` with nothing else to record.
fn identification(
    scope: &Scope,
    request_id: &str,
    visitor_id: &str,
    ts_ms: i64,
) -> NewIdentification {
    NewIdentification {
        scope: scope.clone(),
        request_id: request_id.into(),
        visitor_id: visitor_id.into(),
        ts_ms,
        profile: vec![1],
        matched: false,
        linked_id: None,
        verdict: None,
        bot: None,
        event_type: None,
        country: None,
        ip: None,
        body: "{}".into(),
        list_effects: vec![],
        rule_matches: vec![],
        outbox: vec![],
    }
}

async fn default_scope(store: &PostgresStore) -> Scope {
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    Scope {
        workspace_id: ws.id,
        env: Environment::Test,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_migrating_at_once_apply_each_migration_once() {
    let db = FreshDatabase::new().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PostgresStore::migrate(&url).await })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().unwrap().applied.len();
    }
    let again = PostgresStore::migrate(&db.url).await.unwrap();
    assert_eq!(applied, again.to_version as usize);
    assert!(again.applied.is_empty());
    assert_eq!(again.from_version, again.to_version);
    // One default workspace and one token key, whoever got there first.
    let (a, b) = (db.store().await, db.store().await);
    assert_eq!(a.list_workspaces().await.unwrap().len(), 1);
    assert_eq!(a.token_key().await.unwrap(), b.token_key().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_keys_are_made_once_when_nodes_start_together() {
    let db = FreshDatabase::new().await;
    let ws = db
        .store()
        .await
        .workspace_by_name("default")
        .await
        .unwrap()
        .unwrap();
    let mut nodes = Vec::new();
    for _ in 0..6 {
        let store = db.store().await;
        let ws_id = ws.id.clone();
        nodes.push(tokio::spawn(async move {
            let secret = keys::generate_key(KeyType::Secret, Environment::Test);
            let key = NewApiKey {
                id: prynt_core::ids::prefixed_hex_id("key"),
                workspace_id: ws_id,
                env: Environment::Test,
                key_type: KeyType::Secret,
                key_hash: keys::hash_key(&secret),
                display_prefix: keys::display_prefix(&secret),
            };
            store.create_initial_keys(vec![key]).await.unwrap()
        }));
    }
    let mut made = 0;
    for node in nodes {
        made += usize::from(node.await.unwrap());
    }
    assert_eq!(made, 1);
    assert_eq!(db.store().await.list_api_keys(None).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_on_several_nodes_never_take_the_same_delivery() {
    let db = FreshDatabase::new().await;
    let first = db.store().await;
    let scope = default_scope(&first).await;
    let now = prynt_core::timefmt::now_unix_ms();
    let webhook = first
        .create_webhook(WebhookRecord {
            id: "wh_000000000001".into(),
            scope: scope.clone(),
            url: "https://hooks.example/in".into(),
            description: None,
            events: r#"["test"]"#.into(),
            filters: "{}".into(),
            status: "active".into(),
            secret: "sealed".into(),
            old_secret: None,
            old_secret_until_ms: None,
            created_ms: now,
            updated_ms: now,
            success_rate: None,
            last_delivery_ms: None,
        })
        .await
        .unwrap();
    const PAYLOADS: usize = 60;
    for i in 0..PAYLOADS {
        first
            .enqueue(
                &scope,
                OutboxItem {
                    id: format!("evt_{i:04}"),
                    kind: "test".into(),
                    payload: format!(r#"{{"id":"evt_{i:04}"}}"#),
                    request_id: None,
                    created_ms: now - 1_000,
                    webhook_ids: vec![webhook.id.clone()],
                },
            )
            .await
            .unwrap();
    }
    let nodes: Vec<Arc<PostgresStore>> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(Arc::new(db.store().await));
        }
        v
    };
    // Fan-out from every node at once, a few payloads at a time.
    let fan: Vec<_> = nodes
        .iter()
        .map(|n| {
            let n = n.clone();
            tokio::spawn(async move {
                let mut taken = 0;
                loop {
                    let k = n.fan_out(7).await.unwrap();
                    if k == 0 {
                        break taken;
                    }
                    taken += k;
                }
            })
        })
        .collect();
    let mut fanned = 0;
    for f in fan {
        fanned += f.await.unwrap();
    }
    assert_eq!(fanned, PAYLOADS);
    // Claims from every node at once.
    let claims: Vec<_> = nodes
        .iter()
        .map(|n| {
            let (n, id) = (n.clone(), webhook.id.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = n.claim_deliveries(&id, now, 5, 60_000).await.unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|d| (d.id, d.payload)));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut per_node = Vec::new();
    for c in claims {
        let got = c.await.unwrap();
        per_node.push(got.len());
        for (id, payload) in got {
            assert!(seen.insert(id), "delivery {id} claimed twice");
            assert!(payload.is_some_and(|p| p.starts_with(r#"{"id":"evt_"#)));
        }
    }
    assert_eq!(seen.len(), PAYLOADS);
    // A node starting now frees none of the live nodes' leases...
    let late = db.store().await;
    assert_eq!(late.release_leases().await.unwrap(), 0);
    assert!(late
        .claim_deliveries(&webhook.id, now, 100, 60_000)
        .await
        .unwrap()
        .is_empty());
    // ...but frees at once those of a node that is gone (its lock went with its connection).
    nodes[0].close().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let freed = loop {
        let freed = late.release_leases().await.unwrap();
        if freed > 0 || std::time::Instant::now() > deadline {
            break freed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(freed, per_node[0]);
    assert_eq!(
        late.claim_deliveries(&webhook.id, now, 100, 60_000)
            .await
            .unwrap()
            .len(),
        per_node[0]
    );
    // Every lease, the live nodes' included, ends in time.
    assert_eq!(
        nodes[2]
            .claim_deliveries(&webhook.id, now + 60_001, 100, 60_000)
            .await
            .unwrap()
            .len(),
        PAYLOADS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_several_requests_racing_with_one_idempotency_key_runs() {
    let db = FreshDatabase::new().await;
    let mut racers = Vec::new();
    for _ in 0..8 {
        let store = db.store().await;
        racers.push(tokio::spawn(async move {
            store
                .claim_idempotency_key([7; 32], "order-1", [9; 32], 1_000, 86_400_000, 60_000)
                .await
                .unwrap()
        }));
    }
    let mut claimed = 0;
    for r in racers {
        match r.await.unwrap() {
            IdempotencyClaim::Claimed => claimed += 1,
            IdempotencyClaim::InFlight => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_a_closed_store_closed() {
    // A port nobody listens on (the discard port, closed on loopback).
    let err = PostgresStore::open(
        "postgres://prynt@127.0.0.1:9/prynt",
        prynt_store::postgres::PostgresOptions::default(),
    )
    .await
    .err()
    .expect("no server there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    let db = FreshDatabase::new().await;
    let store = db.store().await;
    store.ping().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(store.ping().await, Err(StoreError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identifications_changing_the_same_lists_in_opposite_orders_never_deadlock() {
    use prynt_store::{EntryChange, ListEffect, NewList};
    let db = FreshDatabase::new().await;
    let first = db.store().await;
    let scope = default_scope(&first).await;
    for id in ["lst_000000000001", "lst_000000000002"] {
        first
            .create_list(
                &scope,
                NewList {
                    id: id.into(),
                    name: id.into(),
                    list_type: "ip".into(),
                    description: None,
                    ttl_s: None,
                    purpose: None,
                },
                1,
            )
            .await
            .unwrap();
    }
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = Arc::new(db.store().await);
        let scope = scope.clone();
        writers.push(tokio::spawn(async move {
            let (a, b) = if w % 2 == 0 {
                ("lst_000000000001", "lst_000000000002")
            } else {
                ("lst_000000000002", "lst_000000000001")
            };
            for i in 0..25 {
                let add = |list: &str| ListEffect::Add {
                    list_id: list.into(),
                    value: format!("198.51.100.{i}"),
                    expires_s: None,
                };
                let change = if i % 5 == 0 {
                    // A change through the API now and then, on one list.
                    store
                        .change_list_entries(
                            &scope,
                            a,
                            EntryChange {
                                add: vec![(format!("203.0.113.{i}"), None)],
                                remove: vec![],
                            },
                            None,
                            2,
                        )
                        .await
                        .map(|_| ())
                } else {
                    Ok(())
                };
                change.unwrap();
                store
                    .record_identification(NewIdentification {
                        list_effects: vec![add(a), add(b)],
                        ..identification(
                            &scope,
                            &format!("req_{w}_{i}"),
                            &format!("pv_{w}_{i}"),
                            1_000 + i,
                        )
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let (_, total) = first
        .list_entries(&scope, "lst_000000000001", None, 1, 0)
        .await
        .unwrap();
    assert_eq!(total, 25 + 5);
}

/// Visitors stored before their returns recognised by fingerprint were counted get the count
/// from their retained events when the migration that adds it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_visitors_count_their_returns_recognised_by_fingerprint() {
    let db = FreshDatabase::new().await;
    let store = db.store().await;
    let scope = default_scope(&store).await;
    let visits = [
        ("req_1", "pv_a", "new"),
        ("req_2", "pv_a", "fingerprint"),
        ("req_3", "pv_a", "token"),
        ("req_4", "pv_a", "fingerprint"),
        ("req_5", "pv_b", "new"),
        ("req_6", "pv_b", "token"),
    ];
    for (i, (request_id, visitor_id, how)) in visits.into_iter().enumerate() {
        let body = serde_json::json!({"requestId": request_id, "identifiedBy": how});
        store
            .record_identification(NewIdentification {
                matched: how == "fingerprint",
                body: body.to_string(),
                ..identification(&scope, request_id, visitor_id, 1_000 + i as i64)
            })
            .await
            .unwrap();
    }
    let counts = || async {
        admin::query_text(
            &db.url,
            "SELECT visitor_id, matched_visits::text FROM visitors ORDER BY visitor_id",
        )
        .await
        .unwrap()
    };
    let counted = counts().await;
    let expected = vec![
        vec![Some("pv_a".to_owned()), Some("2".to_owned())],
        vec![Some("pv_b".to_owned()), Some("0".to_owned())],
    ];
    assert_eq!(counted, expected, "counted as they were recorded");
    // The schema as it was before: no count. Migrating again counts from the events.
    admin::execute(
        &db.url,
        "ALTER TABLE visitors DROP COLUMN matched_visits;
         DELETE FROM schema_migrations WHERE version = 4",
    )
    .await
    .unwrap();
    let report = PostgresStore::migrate(&db.url).await.unwrap();
    assert_eq!(report.applied.len(), 1, "{report:?}");
    assert_eq!(counts().await, expected, "counted from the events");
}

/// A purge deletes in batches (a single long delete would hold the change feed back on every
/// node); every expired row goes however many batches it takes, and none that is not expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_take_every_expired_row_over_several_batches() {
    let db = FreshDatabase::new().await;
    let store = db.store().await;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO idempotency_keys (owner, idem_key, request_hash, created_ms)
             SELECT '\\x01'::bytea, 'k' || n, '\\x00'::bytea, n FROM generate_series(1, 2600) n",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store.purge_idempotency_keys_before(2_501).await.unwrap(),
        2_500
    );
    let left: i64 = client
        .query_one("SELECT count(*) FROM idempotency_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 100);
    assert_eq!(store.purge_idempotency_keys_before(2_501).await.unwrap(), 0);
}
