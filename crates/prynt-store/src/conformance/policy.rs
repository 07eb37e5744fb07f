//! Checks of the decision policy: rules with their versions, lists with their entries.

use std::sync::Arc;

use super::support::{ids, live, new_list, new_rule, now_s, workspace, T0};
use crate::{EntryChange, EntryOutcome, RuleChange, Store, StoreError};

pub async fn rule_is_created_with_its_first_version_and_next_priority(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let first = store
        .create_rule(
            &scope,
            new_rule("rul_000000000001", "one", "live", Some(5)),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            first.name.as_str(),
            first.status.as_str(),
            first.priority,
            first.version
        ),
        ("one", "live", 5, 1)
    );
    assert_eq!((first.created_ms, first.updated_ms), (T0, T0));
    assert_eq!((first.match_count, first.last_match_ms), (0, None));
    let next = store
        .create_rule(
            &scope,
            new_rule("rul_000000000002", "two", "draft", None),
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(next.priority, 6, "one after the scope's highest");
    let elsewhere = store
        .create_rule(
            &live(&scope),
            new_rule("rul_000000000003", "x", "draft", None),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(elsewhere.priority, 1, "priorities are per scope");
    assert_eq!(
        store.rule(&scope, &first.id).await.unwrap(),
        Some(first.clone())
    );
    let versions = store
        .rule_versions(&scope, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(versions.len(), 1);
    let v = &versions[0];
    assert_eq!(
        (v.version, v.name.as_str(), v.priority, v.created_ms),
        (1, "one", 5, T0)
    );
    assert_eq!(
        (&v.conditions, &v.action),
        (&first.conditions, &first.action)
    );
}

pub async fn rules_are_listed_by_priority_with_status_filter_and_total(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let rules = [
        ("rul_000000000001", "live", 3, T0),
        ("rul_000000000002", "draft", 1, T0 + 1),
        ("rul_000000000003", "live", 2, T0 + 3),
        ("rul_000000000004", "monitor", 2, T0 + 2),
    ];
    for (id, status, priority, at) in rules {
        store
            .create_rule(&scope, new_rule(id, id, status, Some(priority)), at)
            .await
            .unwrap();
    }
    let (all, total) = store.rules(&scope, None, 10, 0).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(
        ids(&all, |r| &r.id),
        [
            "rul_000000000002",
            "rul_000000000004",
            "rul_000000000003",
            "rul_000000000001"
        ],
        "by priority, then creation"
    );
    let (page, total) = store.rules(&scope, None, 2, 1).await.unwrap();
    assert_eq!(total, 4, "the total ignores the page");
    assert_eq!(
        ids(&page, |r| &r.id),
        ["rul_000000000004", "rul_000000000003"]
    );
    let (live_rules, total) = store
        .rules(&scope, Some("live".into()), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        ids(&live_rules, |r| &r.id),
        ["rul_000000000003", "rul_000000000001"]
    );
    let (none, total) = store
        .rules(&scope, Some("archived".into()), 10, 0)
        .await
        .unwrap();
    assert!(none.is_empty() && total == 0);
}

pub async fn rule_update_writes_a_new_version(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let rule = store
        .create_rule(
            &scope,
            new_rule("rul_000000000001", "first", "draft", Some(3)),
            T0,
        )
        .await
        .unwrap();
    let renamed = store
        .update_rule(
            &scope,
            &rule.id,
            RuleChange {
                name: Some("second".into()),
                status: Some("live".into()),
                ..Default::default()
            },
            T0 + 1_000,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.name.as_str(),
            renamed.status.as_str(),
            renamed.priority,
            renamed.version
        ),
        ("second", "live", 3, 2)
    );
    assert_eq!((renamed.created_ms, renamed.updated_ms), (T0, T0 + 1_000));
    let action = r#"{"verdict":"allow","sideEffects":[]}"#.to_owned();
    let third = store
        .update_rule(
            &scope,
            &rule.id,
            RuleChange {
                priority: Some(1),
                action: Some(action.clone()),
                ..Default::default()
            },
            T0 + 2_000,
        )
        .await
        .unwrap();
    assert_eq!(
        (third.version, third.priority, third.name.as_str()),
        (3, 1, "second")
    );
    assert_eq!(third.action, action);
    assert_eq!(third.conditions, rule.conditions);
    assert_eq!(
        store.rule(&scope, &rule.id).await.unwrap(),
        Some(third.clone())
    );
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
            (3, "second", "live", 1, T0 + 2_000),
            (2, "second", "live", 3, T0 + 1_000),
            (1, "first", "draft", 3, T0),
        ],
        "every version, newest first"
    );
    assert_eq!(versions[0].action, action);
    assert_eq!(
        versions[2].action, rule.action,
        "old versions are kept as they were"
    );
}

pub async fn rule_update_of_an_unknown_rule_is_not_found(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let change = RuleChange {
        name: Some("x".into()),
        ..Default::default()
    };
    assert!(matches!(
        store
            .update_rule(&scope, "rul_00000000000f", change, T0)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .rule_versions(&scope, "rul_00000000000f")
            .await
            .unwrap(),
        None
    );
}

pub async fn rule_delete_hides_the_rule_and_its_versions(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let rule = store
        .create_rule(&scope, new_rule("rul_000000000001", "r", "live", None), T0)
        .await
        .unwrap();
    let keep = store
        .create_rule(&scope, new_rule("rul_000000000002", "k", "live", None), T0)
        .await
        .unwrap();
    assert!(store.delete_rule(&scope, &rule.id).await.unwrap());
    assert!(store.rule(&scope, &rule.id).await.unwrap().is_none());
    assert_eq!(store.rule_versions(&scope, &rule.id).await.unwrap(), None);
    let (left, total) = store.rules(&scope, None, 10, 0).await.unwrap();
    assert_eq!((ids(&left, |r| &r.id), total), (vec![keep.id.clone()], 1));
    assert!(!store.delete_rule(&scope, &rule.id).await.unwrap());
    let change = RuleChange {
        name: Some("x".into()),
        ..Default::default()
    };
    assert!(matches!(
        store.update_rule(&scope, &rule.id, change, T0 + 1).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn rule_with_a_taken_id_is_a_duplicate(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    store
        .create_rule(&scope, new_rule("rul_000000000001", "a", "live", None), T0)
        .await
        .unwrap();
    let again = store
        .create_rule(
            &scope,
            new_rule("rul_000000000001", "b", "draft", None),
            T0 + 1,
        )
        .await;
    assert!(matches!(again, Err(StoreError::DuplicateId)), "{again:?}");
    let (all, _) = store.rules(&scope, None, 10, 0).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "a");
}

pub async fn list_names_are_unique_per_scope(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let mut list = new_list("lst_000000000001", "emails", "email");
    list.ttl_s = Some(3_600);
    let made = store.create_list(&scope, list.clone(), T0).await.unwrap();
    assert_eq!(
        (
            made.name.as_str(),
            made.list_type.as_str(),
            made.ttl_s,
            made.entry_count
        ),
        ("emails", "email", Some(3_600), 0)
    );
    assert_eq!(
        (made.description, made.purpose),
        (list.description, list.purpose)
    );
    assert_eq!((made.created_ms, made.updated_ms), (T0, T0));
    let clash = store
        .create_list(&scope, new_list("lst_000000000002", "emails", "ip"), T0)
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    store
        .create_list(
            &live(&scope),
            new_list("lst_000000000003", "emails", "email"),
            T0,
        )
        .await
        .expect("names are unique per scope only");
    let taken = store
        .create_list(&scope, new_list("lst_000000000001", "other", "ip"), T0)
        .await;
    assert!(matches!(taken, Err(StoreError::DuplicateId)), "{taken:?}");
}

pub async fn lists_are_filtered_by_type_with_total(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    for (i, (name, ty)) in [("a", "ip"), ("b", "email"), ("c", "ip")]
        .into_iter()
        .enumerate()
    {
        let id = format!("lst_00000000000{i}");
        store
            .create_list(&scope, new_list(&id, name, ty), T0 + i as i64)
            .await
            .unwrap();
    }
    let (all, total) = store.lists(&scope, None, 10, 0).await.unwrap();
    assert_eq!(
        (ids(&all, |l| &l.name), total),
        (vec!["a".into(), "b".into(), "c".into()], 3)
    );
    let (ips, total) = store.lists(&scope, Some("ip".into()), 10, 0).await.unwrap();
    assert_eq!(
        (ids(&ips, |l| &l.name), total),
        (vec!["a".into(), "c".into()], 2)
    );
    let (page, total) = store.lists(&scope, None, 1, 1).await.unwrap();
    assert_eq!((ids(&page, |l| &l.name), total), (vec!["b".into()], 3));
}

pub async fn list_entries_are_added_and_removed_with_counts(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let list = store
        .create_list(&scope, new_list("lst_000000000001", "ips", "ip"), T0)
        .await
        .unwrap();
    let first = EntryChange {
        add: vec![
            ("10.0.0.1".into(), None),
            ("10.0.0.2".into(), None),
            ("10.0.0.3".into(), None),
        ],
        remove: vec![],
    };
    let out = store
        .change_list_entries(&scope, &list.id, first, None, T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        out,
        EntryOutcome {
            added: 3,
            removed: 0,
            entry_count: 3
        }
    );
    let later = now_s() + 3_600;
    let second = EntryChange {
        add: vec![("10.0.0.4".into(), None), ("10.0.0.2".into(), Some(later))],
        remove: vec!["10.0.0.1".into(), "10.0.0.9".into()],
    };
    let out = store
        .change_list_entries(&scope, &list.id, second, None, T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        out,
        EntryOutcome {
            added: 2,
            removed: 1,
            entry_count: 3
        }
    );
    let (entries, total) = store
        .list_entries(&scope, &list.id, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let got: Vec<_> = entries
        .iter()
        .map(|e| (e.value.as_str(), e.added_ms, e.expires_s))
        .collect();
    assert_eq!(
        got,
        [
            ("10.0.0.2", T0 + 2, Some(later)),
            ("10.0.0.4", T0 + 2, None),
            ("10.0.0.3", T0 + 1, None)
        ],
        "newest first; an entry added again takes its new time and expiry"
    );
    let (page, total) = store
        .list_entries(&scope, &list.id, None, 1, 2)
        .await
        .unwrap();
    assert_eq!(
        (ids(&page, |e| &e.value), total),
        (vec!["10.0.0.3".into()], 3)
    );
    let read = store.list(&scope, &list.id).await.unwrap().unwrap();
    assert_eq!((read.entry_count, read.updated_ms), (3, T0 + 2));
    // A remove and an add of the same value in one change: removed first, then added.
    let both = EntryChange {
        add: vec![("10.0.0.3".into(), None)],
        remove: vec!["10.0.0.3".into()],
    };
    let out = store
        .change_list_entries(&scope, &list.id, both, None, T0 + 3)
        .await
        .unwrap();
    assert_eq!(
        out,
        EntryOutcome {
            added: 1,
            removed: 1,
            entry_count: 3
        }
    );
}

pub async fn expired_list_entries_do_not_count(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let list = store
        .create_list(&scope, new_list("lst_000000000001", "ips", "ip"), T0)
        .await
        .unwrap();
    let now = now_s();
    let change = EntryChange {
        add: vec![
            ("gone".into(), Some(now - 10)),
            ("soon".into(), Some(now + 3_600)),
            ("kept".into(), None),
        ],
        remove: vec![],
    };
    let out = store
        .change_list_entries(&scope, &list.id, change, None, T0)
        .await
        .unwrap();
    assert_eq!(out.entry_count, 2, "an expired entry does not count");
    assert_eq!(
        store
            .list(&scope, &list.id)
            .await
            .unwrap()
            .unwrap()
            .entry_count,
        2
    );
    let (entries, total) = store
        .list_entries(&scope, &list.id, None, 10, 0)
        .await
        .unwrap();
    let mut values = ids(&entries, |e| &e.value);
    values.sort();
    assert_eq!((values, total), (vec!["kept".into(), "soon".into()], 2));
    let (lists, _) = store.lists(&scope, None, 10, 0).await.unwrap();
    assert_eq!(lists[0].entry_count, 2);
    let (_, found) = store
        .list_entries(&scope, &list.id, Some("gone".into()), 10, 0)
        .await
        .unwrap();
    assert_eq!(found, 0);
}

pub async fn list_entries_search_is_literal_and_ignores_ascii_case(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let list = store
        .create_list(&scope, new_list("lst_000000000001", "emails", "email"), T0)
        .await
        .unwrap();
    let values = [
        "ann_lee@example.com",
        "annxlee@example.com",
        "bob%100@example.com",
        "bob100@example.com",
        "back\\slash@example.com",
    ];
    let change = EntryChange {
        add: values.iter().map(|v| ((*v).to_owned(), None)).collect(),
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &list.id, change, None, T0)
        .await
        .unwrap();
    let search = |q: &str| {
        let (store, scope, id, q) = (store.clone(), scope.clone(), list.id.clone(), q.to_owned());
        async move {
            let (rows, total) = store
                .list_entries(&scope, &id, Some(q), 100, 0)
                .await
                .unwrap();
            let mut values = ids(&rows, |e| &e.value);
            values.sort();
            (values, total)
        }
    };
    assert_eq!(search("_").await, (vec!["ann_lee@example.com".into()], 1));
    assert_eq!(search("%").await, (vec!["bob%100@example.com".into()], 1));
    assert_eq!(search("\\").await.1, 1);
    assert_eq!(search("ANN").await.1, 2, "ASCII letters in either case");
    assert_eq!(search("EXAMPLE.COM").await.1, 5);
    assert_eq!(search("a\0").await.1, 0);
    assert_eq!(search("nobody").await, (vec![], 0));
    let (page, total) = store
        .list_entries(&scope, &list.id, Some("example".into()), 2, 4)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 5));
}

pub async fn deleting_a_list_removes_its_entries(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
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
    assert!(store.delete_list(&scope, &list.id, None).await.unwrap());
    assert!(store.list(&scope, &list.id).await.unwrap().is_none());
    let (entries, total) = store
        .list_entries(&scope, &list.id, None, 10, 0)
        .await
        .unwrap();
    assert!(entries.is_empty() && total == 0);
    assert!(!store.delete_list(&scope, &list.id, None).await.unwrap());
    let again = store
        .create_list(&scope, new_list("lst_000000000002", "ips", "ip"), T0 + 1)
        .await
        .expect("the name is free again");
    assert_eq!(again.entry_count, 0);
    assert!(store.all_list_entries(&scope).await.unwrap()[0]
        .1
        .is_empty());
}

pub async fn changing_entries_of_an_unknown_list_is_not_found(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let change = EntryChange {
        add: vec![("10.0.0.1".into(), None)],
        remove: vec![],
    };
    let out = store
        .change_list_entries(&scope, "lst_00000000000f", change, None, T0)
        .await;
    assert!(matches!(out, Err(StoreError::NotFound)), "{out:?}");
}

pub async fn all_list_entries_gives_each_list_its_live_entries(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let a = store
        .create_list(&scope, new_list("lst_000000000001", "a", "ip"), T0)
        .await
        .unwrap();
    let b = store
        .create_list(&scope, new_list("lst_000000000002", "b", "email"), T0 + 1)
        .await
        .unwrap();
    let in_a = EntryChange {
        add: vec![
            ("10.0.0.1".into(), None),
            ("10.0.0.2".into(), Some(now_s() - 5)),
        ],
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &a.id, in_a, None, T0)
        .await
        .unwrap();
    let all = store.all_list_entries(&scope).await.unwrap();
    let mut got: Vec<_> = all
        .iter()
        .map(|(l, entries)| (l.id.clone(), ids(entries, |e| &e.value)))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (a.id.clone(), vec!["10.0.0.1".to_owned()]),
            (b.id.clone(), vec![])
        ]
    );
    assert!(store
        .all_list_entries(&live(&scope))
        .await
        .unwrap()
        .is_empty());
}
