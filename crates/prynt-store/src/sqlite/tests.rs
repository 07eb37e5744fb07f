//! Tests of SQLite specifics: group commit durability and the existing behaviour checks that
//! predate the backend conformance suite.

use prynt_core::{EnvSettings, Environment, KeyType, Plan, PlanLimits, Scope};

use super::SqliteStore;
use crate::prelude::*;
use crate::{
    EntryChange, EventQuery, NewApiKey, NewIdentification, NewList, NewRule, RuleChange,
    StoreError, Workspace,
};
use prynt_core::keys;

fn new_key(ws: &str, env: Environment, kt: KeyType) -> (String, NewApiKey) {
    let secret = keys::generate_key(kt, env);
    let key = NewApiKey {
        id: prynt_core::ids::prefixed_hex_id("key"),
        workspace_id: ws.to_owned(),
        env,
        key_type: kt,
        key_hash: keys::hash_key(&secret),
        display_prefix: keys::display_prefix(&secret),
    };
    (secret, key)
}

/// A fresh store, its `default` workspace and that workspace's test scope.
async fn default_test_store() -> (tempfile::TempDir, SqliteStore, Workspace, Scope) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    let scope = Scope {
        workspace_id: ws.id.clone(),
        env: Environment::Test,
    };
    (dir, store, ws, scope)
}

#[tokio::test]
async fn keys_authenticate_until_revoked_and_initial_keys_come_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    let (secret, key) = new_key(&ws.id, Environment::Test, KeyType::Secret);
    assert!(store.create_initial_keys(vec![key.clone()]).await.unwrap());
    let (_, other) = new_key(&ws.id, Environment::Test, KeyType::Public);
    assert!(!store.create_initial_keys(vec![other]).await.unwrap());
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), 1);

    let found = store
        .authenticate(keys::hash_key(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.id, key.id);
    assert_eq!(found.workspace.name, "default");
    store.revoke_api_key(&key.id).await.unwrap();
    assert!(store
        .authenticate(keys::hash_key(&secret))
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.revoke_api_key("key_000000000000").await,
        Err(StoreError::NotFound)
    ));
    store.close().await.unwrap();
    assert!(matches!(
        store.create_workspace("late", Plan::Pro).await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn settings_are_isolated_per_environment_and_workspaces_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let ws = store.create_workspace("acme", Plan::Starter).await.unwrap();
    assert!(matches!(
        store.create_workspace("acme", Plan::Pro).await,
        Err(StoreError::Conflict(_))
    ));
    let test = Scope {
        workspace_id: ws.id.clone(),
        env: Environment::Test,
    };
    let live = Scope {
        workspace_id: ws.id.clone(),
        env: Environment::Live,
    };
    let s = EnvSettings {
        allowed_origins: vec!["https://shop.example".into()],
        mask_ip: true,
        suspect_weights: prynt_core::scope::SuspectWeights {
            tor: 40,
            ..Default::default()
        },
    };
    store.put_env_settings(&test, &s).await.unwrap();
    assert_eq!(store.env_settings(&test).await.unwrap(), s);
    assert_eq!(
        store.env_settings(&live).await.unwrap(),
        EnvSettings::default()
    );

    let limits = PlanLimits {
        server_per_min: 5,
        mgmt_per_min: 6,
        burst_per_sec: 7,
        identify_per_sec: 8,
    };
    let up = store
        .update_workspace_plan("acme", Plan::Enterprise, Some(limits))
        .await
        .unwrap();
    assert_eq!(up.limits(), limits);
    assert!(matches!(
        store.update_workspace_plan("nope", Plan::Pro, None).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn concurrent_writes_are_grouped_and_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.create_workspace("taken", Plan::Pro).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        let name = if i == 100 {
            "taken".to_owned()
        } else {
            format!("ws{i}")
        };
        tasks.push(tokio::spawn(async move {
            s.create_workspace(&name, Plan::Pro).await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        // One failing write in the middle of a group must not spoil the others.
        if t.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 1);
    store.close().await.unwrap();
    let reopened = SqliteStore::open(dir.path()).unwrap();
    // default + taken + 199 new ones
    assert_eq!(reopened.list_workspaces().await.unwrap().len(), 201);
}

#[tokio::test]
async fn linked_uses_come_oldest_first_per_environment_without_unlinked_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    let scope = |env| Scope {
        workspace_id: ws.id.clone(),
        env,
    };
    let events = [
        ("req_1", "pv_a", Environment::Test, 1_000, Some("u1")),
        ("req_2", "pv_b", Environment::Test, 3_000, Some("u1")),
        ("req_3", "pv_a", Environment::Test, 2_000, None),
        ("req_4", "pv_c", Environment::Live, 2_500, Some("u1")),
        ("req_5", "pv_a", Environment::Test, 4_000, Some("u2")),
        ("req_6", "pv_a", Environment::Test, 500, Some("u0")),
    ];
    for (request_id, visitor_id, env, ts_ms, linked) in events {
        let body = serde_json::json!({"requestId": request_id, "visitorId": visitor_id,
            "linkedId": linked, "tag": {"linkedId": "not this one"}});
        store
            .record_identification(NewIdentification {
                scope: scope(env),
                request_id: request_id.into(),
                visitor_id: visitor_id.into(),
                ts_ms,
                profile: vec![1],
                linked_id: linked.map(str::to_owned),
                verdict: None,
                bot: None,
                event_type: None,
                country: None,
                ip: None,
                body: body.to_string(),
                list_effects: vec![],
                rule_matches: vec![],
                outbox: vec![],
            })
            .await
            .unwrap();
    }
    let test = scope(Environment::Test);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .linked_uses_ascending(&test, 1_000, after, 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.ts_ms, last.request_id.clone()));
        seen.extend(page);
    }
    let got: Vec<_> = seen
        .iter()
        .map(|u| {
            (
                u.request_id.as_str(),
                u.ts_ms,
                u.visitor_id.as_str(),
                u.linked_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("req_1", 1_000, "pv_a", "u1"),
            ("req_2", 3_000, "pv_b", "u1"),
            ("req_5", 4_000, "pv_a", "u2"),
        ]
    );
    let live = store
        .linked_uses_ascending(&scope(Environment::Live), 0, None, 10)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].visitor_id, "pv_c");
}

#[tokio::test]
async fn events_filter_on_type_and_country_with_the_other_filters() {
    let (_dir, store, _, scope) = default_test_store().await;
    let events = [
        ("req_1_aaaaaa", 1_000, Some("login"), Some("us"), Some(true)),
        (
            "req_2_aaaaaa",
            2_000,
            Some("login"),
            Some("DE"),
            Some(false),
        ),
        (
            "req_3_aaaaaa",
            3_000,
            Some("payment"),
            Some("US"),
            Some(false),
        ),
        ("req_4_aaaaaa", 4_000, None, None, None),
    ];
    for (request_id, ts_ms, ty, country, bot) in events {
        store
            .record_identification(NewIdentification {
                scope: scope.clone(),
                request_id: request_id.into(),
                visitor_id: "pv_a".into(),
                ts_ms,
                profile: vec![1],
                linked_id: None,
                verdict: None,
                bot,
                event_type: ty.map(str::to_owned),
                country: country.map(str::to_owned),
                ip: Some("192.0.2.0".into()),
                body: serde_json::json!({"requestId": request_id}).to_string(),
                list_effects: vec![],
                rule_matches: vec![],
                outbox: vec![],
            })
            .await
            .unwrap();
    }
    let ids = |q: EventQuery| {
        let store = &store;
        let scope = &scope;
        async move {
            store
                .events(scope, EventQuery { limit: 10, ..q })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.request_id)
                .collect::<Vec<_>>()
        }
    };
    let us = || Some("US".to_owned());
    assert_eq!(
        ids(EventQuery {
            country: us(),
            ..Default::default()
        })
        .await,
        ["req_3_aaaaaa", "req_1_aaaaaa"]
    );
    assert_eq!(
        ids(EventQuery {
            country: Some("us".into()),
            event_type: Some("login".into()),
            ..Default::default()
        })
        .await,
        ["req_1_aaaaaa"]
    );
    assert_eq!(
        ids(EventQuery {
            event_type: Some("login".into()),
            bot: Some(false),
            ..Default::default()
        })
        .await,
        ["req_2_aaaaaa"]
    );
    assert_eq!(
        ids(EventQuery {
            country: us(),
            cursor: Some((3_000, "req_3_aaaaaa".into())),
            ..Default::default()
        })
        .await,
        ["req_1_aaaaaa"]
    );
    assert!(ids(EventQuery {
        event_type: Some("Login".into()),
        ..Default::default()
    })
    .await
    .is_empty());
}

#[tokio::test]
async fn list_entries_are_searched_with_wildcards_taken_literally() {
    let (_dir, store, ws, scope) = default_test_store().await;
    let list = store
        .create_list(
            &scope,
            NewList {
                id: "lst_000000000001".into(),
                name: "emails".into(),
                list_type: "email".into(),
                description: None,
                ttl_s: None,
                purpose: None,
            },
            1,
        )
        .await
        .unwrap();
    let values = [
        "ann_lee@example.com",
        "annxlee@example.com",
        "bob%100@example.com",
        "bob100@example.com",
        "back\\slash@example.com",
        "gone@example.com",
    ];
    let change = EntryChange {
        add: values
            .iter()
            .map(|v| ((*v).to_owned(), (*v == "gone@example.com").then_some(1)))
            .collect(),
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &list.id, change, None, 5)
        .await
        .unwrap();
    let search = |q: &str| {
        let (store, scope, id) = (&store, &scope, list.id.clone());
        let q = q.to_owned();
        async move {
            let (rows, total) = store
                .list_entries(scope, &id, Some(q), 100, 0)
                .await
                .unwrap();
            let mut values: Vec<String> = rows.into_iter().map(|e| e.value).collect();
            values.sort();
            (values, total)
        }
    };
    assert_eq!(search("_").await, (vec!["ann_lee@example.com".into()], 1));
    assert_eq!(search("%").await, (vec!["bob%100@example.com".into()], 1));
    assert_eq!(search("\\").await.1, 1);
    assert_eq!(search("ANN").await.1, 2, "ASCII letters in either case");
    assert_eq!(search("gone").await.1, 0, "expired entries are not live");
    assert_eq!(search("EXAMPLE.COM").await.1, 5);
    assert_eq!(search("a\0").await.1, 0);
    let (page, total) = store
        .list_entries(&scope, &list.id, Some("example".into()), 2, 4)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 5));
    let (all, total) = store
        .list_entries(&scope, &list.id, None, 100, 0)
        .await
        .unwrap();
    assert_eq!((all.len(), total), (5, 5));
    let other = Scope {
        workspace_id: ws.id.clone(),
        env: Environment::Live,
    };
    let (none, total) = store
        .list_entries(&other, &list.id, Some("ann".into()), 100, 0)
        .await
        .unwrap();
    assert_eq!((none.len(), total), (0, 0));
}

#[tokio::test]
async fn rule_versions_come_newest_first_within_their_scope() {
    let (_dir, store, ws, scope) = default_test_store().await;
    let rule = store
        .create_rule(
            &scope,
            NewRule {
                id: "rul_000000000001".into(),
                name: "first".into(),
                status: "draft".into(),
                priority: Some(3),
                conditions: r#"{"operator":"AND","rules":[]}"#.into(),
                action: r#"{"verdict":"block","sideEffects":[]}"#.into(),
            },
            1_000,
        )
        .await
        .unwrap();
    store
        .update_rule(
            &scope,
            &rule.id,
            RuleChange {
                name: Some("second".into()),
                status: Some("live".into()),
                ..Default::default()
            },
            2_000,
        )
        .await
        .unwrap();
    let versions = store
        .rule_versions(&scope, &rule.id)
        .await
        .unwrap()
        .unwrap();
    let got: Vec<_> = versions
        .iter()
        .map(|v| {
            (
                v.version,
                v.name.as_str(),
                v.status.as_str(),
                v.priority,
                v.created_ms,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, "second", "live", 3, 2_000),
            (1, "first", "draft", 3, 1_000)
        ]
    );
    assert_eq!(versions[1].action, rule.action);
    let live = Scope {
        workspace_id: ws.id.clone(),
        env: Environment::Live,
    };
    assert_eq!(store.rule_versions(&live, &rule.id).await.unwrap(), None);
    assert_eq!(
        store
            .rule_versions(&scope, "rul_00000000000f")
            .await
            .unwrap(),
        None
    );
    assert!(store.delete_rule(&scope, &rule.id).await.unwrap());
    assert_eq!(store.rule_versions(&scope, &rule.id).await.unwrap(), None);
}
