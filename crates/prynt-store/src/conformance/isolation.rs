//! Checks that no read or write through one scope reaches another's rows: every call made
//! with the scope of another environment of the same workspace, or of another workspace,
//! sees and changes nothing.

use std::sync::Arc;

use prynt_core::EnvSettings;

use super::support::{
    identification, new_list, new_rule, outbox, record, scope_and_strangers, webhook, T0,
};
use crate::{
    AttemptRecord, DeliveryNext, EntryChange, EventQuery, ListEffect, RuleChange, Store,
    StoreError, WebhookChange,
};

pub async fn scope_isolation_of_events_and_visitors(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let mut rec = identification(&scope, "req_1", "pv_a", T0);
    rec.linked_id = Some("u1".into());
    record(store.as_ref(), rec).await;
    let all = EventQuery {
        limit: 10,
        ..Default::default()
    };
    for other in &strangers {
        assert!(store.event(other, "req_1", 0).await.unwrap().is_none());
        assert!(store.events(other, all.clone()).await.unwrap().is_empty());
        let by_visitor = EventQuery {
            visitor_id: Some("pv_a".into()),
            ..all.clone()
        };
        assert!(store.events(other, by_visitor).await.unwrap().is_empty());
        assert!(store.visitor(other, "pv_a", 0).await.unwrap().is_none());
        assert!(store
            .events_ascending(other, 0, None, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .linked_uses_ascending(other, 0, None, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(!store.delete_visitor(other, "pv_a").await.unwrap());
    }
    assert!(store.event(&scope, "req_1", 0).await.unwrap().is_some());
    assert_eq!(
        store
            .visitor(&scope, "pv_a", 0)
            .await
            .unwrap()
            .unwrap()
            .linked_accounts,
        1
    );
}

pub async fn scope_isolation_of_rules(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let rule = store
        .create_rule(
            &scope,
            new_rule("rul_000000000001", "mine", "live", Some(1)),
            T0,
        )
        .await
        .unwrap();
    for other in &strangers {
        assert!(store.rule(other, &rule.id).await.unwrap().is_none());
        let (rules, total) = store.rules(other, None, 10, 0).await.unwrap();
        assert!(rules.is_empty() && total == 0);
        assert_eq!(store.rule_versions(other, &rule.id).await.unwrap(), None);
        let change = RuleChange {
            name: Some("stolen".into()),
            ..Default::default()
        };
        assert!(matches!(
            store.update_rule(other, &rule.id, change, T0 + 1).await,
            Err(StoreError::NotFound)
        ));
        assert!(!store.delete_rule(other, &rule.id).await.unwrap());
    }
    assert_eq!(
        store.rule(&scope, &rule.id).await.unwrap(),
        Some(rule.clone())
    );
    assert_eq!(
        store
            .rule_versions(&scope, &rule.id)
            .await
            .unwrap()
            .unwrap()
            .len(),
        1
    );
}

pub async fn scope_isolation_of_lists(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let list = store
        .create_list(&scope, new_list("lst_000000000001", "ips", "ip"), T0)
        .await
        .unwrap();
    let change = EntryChange {
        add: vec![("10.0.0.1".into(), None)],
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &list.id, change, None, T0)
        .await
        .unwrap();
    for other in &strangers {
        assert!(store.list(other, &list.id).await.unwrap().is_none());
        let (lists, total) = store.lists(other, None, 10, 0).await.unwrap();
        assert!(lists.is_empty() && total == 0);
        let (entries, total) = store
            .list_entries(other, &list.id, None, 10, 0)
            .await
            .unwrap();
        assert!(entries.is_empty() && total == 0);
        let (found, total) = store
            .list_entries(other, &list.id, Some("10.0".into()), 10, 0)
            .await
            .unwrap();
        assert!(found.is_empty() && total == 0);
        let steal = EntryChange {
            add: vec![("10.6.6.6".into(), None)],
            remove: vec!["10.0.0.1".into()],
        };
        assert!(matches!(
            store
                .change_list_entries(other, &list.id, steal, None, T0)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(!store.delete_list(other, &list.id, None).await.unwrap());
        assert!(store.all_list_entries(other).await.unwrap().is_empty());
        store
            .create_list(
                other,
                new_list(&format!("lst_{}", other.env.as_str()), "ips", "ip"),
                T0,
            )
            .await
            .expect("the same name in another scope");
    }
    let (entries, total) = store
        .list_entries(&scope, &list.id, None, 10, 0)
        .await
        .unwrap();
    assert_eq!((entries.len(), total), (1, 1));
    assert_eq!(entries[0].value, "10.0.0.1");
}

pub async fn scope_isolation_of_webhooks_and_deliveries(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    store
        .create_webhook(webhook(&scope, "wh_1", T0))
        .await
        .unwrap();
    store
        .enqueue(&scope, outbox("evt_1", "test", &["wh_1"], T0))
        .await
        .unwrap();
    store.fan_out(10).await.unwrap();
    let claimed = store
        .claim_deliveries("wh_1", T0, 10, 60_000)
        .await
        .unwrap();
    store
        .record_attempts(vec![(
            claimed[0].id,
            AttemptRecord {
                at_ms: T0 + 1,
                status_code: Some(500),
                latency_ms: 3,
                error: None,
            },
            DeliveryNext::Failed,
        )])
        .await
        .unwrap();
    for (i, other) in strangers.iter().enumerate() {
        assert!(store.webhook(other, "wh_1").await.unwrap().is_none());
        let (hooks, total) = store
            .webhooks(Some(other.clone()), None, 10, 0)
            .await
            .unwrap();
        assert!(hooks.is_empty() && total == 0);
        let change = WebhookChange {
            url: Some("https://evil.example/".into()),
            ..Default::default()
        };
        assert!(matches!(
            store.update_webhook(other, "wh_1", change, T0).await,
            Err(StoreError::NotFound)
        ));
        assert!(!store.delete_webhook(other, "wh_1").await.unwrap());
        let (deliveries, total) = store.deliveries(other, "wh_1", 10, 0).await.unwrap();
        assert!(deliveries.is_empty() && total == 0);
        assert!(!store
            .redeliver(other, "wh_1", claimed[0].id, T0 + 10 + i as i64)
            .await
            .unwrap());
    }
    let wh = store.webhook(&scope, "wh_1").await.unwrap().unwrap();
    assert_eq!(wh.url, webhook(&scope, "wh_1", T0).url);
    let (deliveries, _) = store.deliveries(&scope, "wh_1", 10, 0).await.unwrap();
    assert_eq!(deliveries[0].status, "failed", "no stranger redelivered it");
}

pub async fn scope_isolation_of_settings_and_list_effects(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let settings = EnvSettings {
        allowed_origins: vec!["https://shop.example".into()],
        mask_ip: true,
        ..Default::default()
    };
    store.put_env_settings(&scope, &settings).await.unwrap();
    let list = store
        .create_list(
            &scope,
            new_list("lst_000000000001", "visitors", "visitor"),
            T0,
        )
        .await
        .unwrap();
    let rule = store
        .create_rule(&scope, new_rule("rul_000000000001", "r", "live", None), T0)
        .await
        .unwrap();
    for (i, other) in strangers.iter().enumerate() {
        assert_eq!(
            store.env_settings(other).await.unwrap(),
            EnvSettings::default()
        );
        // An identification of another scope naming this scope's list and rule touches neither.
        let mut rec = identification(other, &format!("req_{i}"), &format!("pv_{i}"), T0 + 1);
        rec.list_effects = vec![ListEffect::Add {
            list_id: list.id.clone(),
            value: "pv_x".into(),
            expires_s: None,
        }];
        rec.rule_matches = vec![rule.id.clone()];
        record(store.as_ref(), rec).await;
    }
    assert_eq!(store.env_settings(&scope).await.unwrap(), settings);
    assert_eq!(
        store
            .list(&scope, &list.id)
            .await
            .unwrap()
            .unwrap()
            .entry_count,
        0
    );
    let untouched = store.rule(&scope, &rule.id).await.unwrap().unwrap();
    assert_eq!((untouched.match_count, untouched.last_match_ms), (0, None));
}
