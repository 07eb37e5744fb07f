//! Checks of identification: events, visitors, their erasure and retention, and the replay
//! reads a node starts from.

use std::sync::Arc;

use prynt_core::timefmt;

use super::support::{
    identification, ids, new_list, new_rule, record, scope_and_strangers, workspace, T0,
};
use crate::{EntryChange, EventQuery, ListEffect, Store, StoreError};

fn query(limit: usize) -> EventQuery {
    EventQuery {
        limit,
        ..Default::default()
    }
}

async fn event_ids(store: &dyn Store, scope: &prynt_core::Scope, q: EventQuery) -> Vec<String> {
    let rows = store.events(scope, q).await.unwrap();
    ids(&rows, |r| &r.request_id)
}

pub async fn recorded_event_reads_back_with_first_seen_at(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    record(
        store.as_ref(),
        identification(&scope, "req_1", "pv_a", T0 + 1_000),
    )
    .await;
    record(
        store.as_ref(),
        identification(&scope, "req_2", "pv_a", T0 + 5_000),
    )
    .await;
    let row = store.event(&scope, "req_2", 0).await.unwrap().unwrap();
    assert_eq!((row.request_id.as_str(), row.ts_ms), ("req_2", T0 + 5_000));
    assert_eq!(row.body["requestId"], "req_2");
    assert_eq!(
        row.body["device"]["browser"], "Chrome",
        "the body is kept whole"
    );
    assert_eq!(
        row.body["firstSeenAt"],
        timefmt::rfc3339((T0 + 1_000) / 1000),
        "firstSeenAt is the visitor's first visit"
    );
    assert!(store.event(&scope, "req_3", 0).await.unwrap().is_none());
}

pub async fn event_past_retention_is_invisible(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    record(
        store.as_ref(),
        identification(&scope, "req_old", "pv_a", T0),
    )
    .await;
    record(
        store.as_ref(),
        identification(&scope, "req_new", "pv_a", T0 + 10),
    )
    .await;
    assert!(store.event(&scope, "req_old", T0).await.unwrap().is_some());
    assert!(store
        .event(&scope, "req_old", T0 + 1)
        .await
        .unwrap()
        .is_none());
    let q = EventQuery {
        retention_floor_ms: T0 + 1,
        ..query(10)
    };
    assert_eq!(event_ids(store.as_ref(), &scope, q).await, ["req_new"]);
    let visitor = store
        .visitor(&scope, "pv_a", T0 + 1)
        .await
        .unwrap()
        .unwrap();
    let visits: i64 = visitor.ips.iter().map(|ip| ip.visits).sum();
    assert_eq!(
        visits, 1,
        "a visitor's addresses count retained events only"
    );
}

pub async fn events_come_newest_first_with_one_more_than_the_limit(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    for i in 0..5 {
        let id = format!("req_{i}");
        record(
            store.as_ref(),
            identification(&scope, &id, "pv_a", T0 + i * 1_000),
        )
        .await;
    }
    assert_eq!(
        event_ids(store.as_ref(), &scope, query(2)).await,
        ["req_4", "req_3", "req_2"],
        "limit + 1 rows tell the caller another page follows"
    );
    assert_eq!(event_ids(store.as_ref(), &scope, query(10)).await.len(), 5);
}

pub async fn events_page_on_from_a_cursor(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    for (id, ts) in [
        ("req_a", T0 + 1_000),
        ("req_b", T0 + 2_000),
        ("req_c", T0 + 2_000),
        ("req_d", T0 + 3_000),
    ] {
        record(store.as_ref(), identification(&scope, id, "pv_a", ts)).await;
    }
    assert_eq!(
        event_ids(store.as_ref(), &scope, query(10)).await,
        ["req_d", "req_c", "req_b", "req_a"],
        "newest first, ties by request id, descending"
    );
    let after_c = EventQuery {
        cursor: Some((T0 + 2_000, "req_c".into())),
        ..query(10)
    };
    assert_eq!(
        event_ids(store.as_ref(), &scope, after_c).await,
        ["req_b", "req_a"]
    );
    let after_a = EventQuery {
        cursor: Some((T0 + 1_000, "req_a".into())),
        ..query(10)
    };
    assert!(event_ids(store.as_ref(), &scope, after_a).await.is_empty());
}

pub async fn events_filter_by_visitor_verdict_bot_type_and_country(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let events = [
        (
            "req_1",
            "pv_a",
            Some("block"),
            Some(true),
            Some("login"),
            Some("us"),
        ),
        (
            "req_2",
            "pv_b",
            Some("allow"),
            Some(false),
            Some("login"),
            Some("DE"),
        ),
        (
            "req_3",
            "pv_a",
            Some("allow"),
            Some(false),
            Some("payment"),
            Some("US"),
        ),
        ("req_4", "pv_b", None, None, None, None),
    ];
    for (i, (id, visitor, verdict, bot, ty, country)) in events.into_iter().enumerate() {
        let mut rec = identification(&scope, id, visitor, T0 + i as i64 * 1_000);
        rec.verdict = verdict.map(str::to_owned);
        rec.bot = bot;
        rec.event_type = ty.map(str::to_owned);
        rec.country = country.map(str::to_owned);
        record(store.as_ref(), rec).await;
    }
    let by = |q: EventQuery| event_ids(store.as_ref(), &scope, EventQuery { limit: 10, ..q });
    let visitor_a = EventQuery {
        visitor_id: Some("pv_a".into()),
        ..Default::default()
    };
    assert_eq!(by(visitor_a).await, ["req_3", "req_1"]);
    let allowed = EventQuery {
        verdict: Some("allow".into()),
        ..Default::default()
    };
    assert_eq!(by(allowed).await, ["req_3", "req_2"]);
    let bots = EventQuery {
        bot: Some(true),
        ..Default::default()
    };
    assert_eq!(by(bots).await, ["req_1"]);
    let humans = EventQuery {
        bot: Some(false),
        ..Default::default()
    };
    assert_eq!(by(humans).await, ["req_3", "req_2"], "unknown is not human");
    let logins = EventQuery {
        event_type: Some("login".into()),
        ..Default::default()
    };
    assert_eq!(by(logins).await, ["req_2", "req_1"]);
    let login_case = EventQuery {
        event_type: Some("Login".into()),
        ..Default::default()
    };
    assert!(by(login_case).await.is_empty(), "types match exactly");
    let us = EventQuery {
        country: Some("us".into()),
        ..Default::default()
    };
    assert_eq!(by(us).await, ["req_3", "req_1"], "countries in either case");
    let combined = EventQuery {
        country: Some("US".into()),
        event_type: Some("login".into()),
        visitor_id: Some("pv_a".into()),
        verdict: Some("block".into()),
        bot: Some(true),
        ..Default::default()
    };
    assert_eq!(by(combined).await, ["req_1"]);
}

pub async fn events_filter_by_time_range(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    for i in 0..5 {
        let id = format!("req_{i}");
        record(
            store.as_ref(),
            identification(&scope, &id, "pv_a", T0 + i * 1_000),
        )
        .await;
    }
    let q = EventQuery {
        after_ms: Some(T0 + 1_000),
        before_ms: Some(T0 + 4_000),
        ..query(10)
    };
    assert_eq!(
        event_ids(store.as_ref(), &scope, q).await,
        ["req_3", "req_2"],
        "both bounds are exclusive"
    );
}

pub async fn duplicate_request_id_is_refused(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    record(store.as_ref(), identification(&scope, "req_1", "pv_a", T0)).await;
    let again = store
        .record_identification(identification(&scope, "req_1", "pv_a", T0 + 1))
        .await;
    assert!(matches!(again, Err(StoreError::DuplicateId)), "{again:?}");
    let visitor = store.visitor(&scope, "pv_a", 0).await.unwrap().unwrap();
    assert_eq!(
        visitor.total_visits, 1,
        "a refused identification changes nothing"
    );
    assert_eq!(visitor.last_seen_ms, T0);
}

pub async fn visitor_id_of_another_scope_is_refused(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    record(store.as_ref(), identification(&scope, "req_1", "pv_a", T0)).await;
    for (i, other) in strangers.iter().enumerate() {
        let rec = identification(other, &format!("req_x{i}"), "pv_a", T0 + 1);
        let refused = store.record_identification(rec).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
        assert!(store.visitor(other, "pv_a", 0).await.unwrap().is_none());
        assert!(store
            .event(other, &format!("req_x{i}"), 0)
            .await
            .unwrap()
            .is_none());
    }
    let visitor = store.visitor(&scope, "pv_a", 0).await.unwrap().unwrap();
    assert_eq!(visitor.total_visits, 1);
}

pub async fn visitor_summary_counts_visits_devices_addresses_links_and_lists(
    store: Arc<dyn Store>,
) {
    let scope = workspace(store.as_ref(), "acme").await;
    let visits = [
        ("req_1", T0, "192.0.2.1", "Chrome", Some("u1")),
        ("req_2", T0 + 1_000, "198.51.100.7", "Firefox", Some("u2")),
        ("req_3", T0 + 2_000, "192.0.2.1", "Chrome", Some("u1")),
    ];
    for (id, ts, ip, browser, linked) in visits {
        let mut rec = identification(&scope, id, "pv_a", ts);
        let mut body: serde_json::Value = serde_json::from_str(&rec.body).unwrap();
        body["ip"]["address"] = ip.into();
        body["device"]["browser"] = browser.into();
        rec.body = body.to_string();
        rec.ip = Some(ip.into());
        rec.linked_id = linked.map(str::to_owned);
        record(store.as_ref(), rec).await;
    }
    let suspects = new_list("lst_000000000001", "suspects", "visitor");
    let expired = new_list("lst_000000000002", "expired", "visitor");
    for list in [suspects.clone(), expired.clone()] {
        store.create_list(&scope, list, T0).await.unwrap();
    }
    let add = |expires_s| EntryChange {
        add: vec![("pv_a".into(), expires_s)],
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &suspects.id, add(None), None, T0)
        .await
        .unwrap();
    store
        .change_list_entries(&scope, &expired.id, add(Some(1)), None, T0)
        .await
        .unwrap();

    let v = store.visitor(&scope, "pv_a", 0).await.unwrap().unwrap();
    assert_eq!(v.visitor_id, "pv_a");
    assert_eq!(
        (v.first_seen_ms, v.last_seen_ms, v.total_visits),
        (T0, T0 + 2_000, 3)
    );
    assert_eq!(v.linked_accounts, 2, "distinct linked ids");
    let browsers: Vec<_> = v.devices.iter().map(|d| d.browser.as_deref()).collect();
    assert_eq!(
        browsers,
        [Some("Chrome"), Some("Firefox")],
        "most recent first"
    );
    assert_eq!(v.devices[0].last_seen_ms, T0 + 2_000);
    assert_eq!(v.devices[0].platform.as_deref(), Some("macOS"));
    let ips: Vec<_> = v
        .ips
        .iter()
        .map(|ip| {
            (
                ip.address.as_str(),
                ip.visits,
                ip.first_seen_ms,
                ip.last_seen_ms,
            )
        })
        .collect();
    assert_eq!(
        ips,
        [
            ("192.0.2.1", 2, T0, T0 + 2_000),
            ("198.51.100.7", 1, T0 + 1_000, T0 + 1_000)
        ]
    );
    assert_eq!(v.lists, ["suspects"], "live entries of visitor lists only");
    assert!(store.visitor(&scope, "pv_zz", 0).await.unwrap().is_none());
}

pub async fn delete_visitor_erases_events_links_and_list_entries(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let mut rec = identification(&scope, "req_1", "pv_a", T0);
    rec.linked_id = Some("u1".into());
    record(store.as_ref(), rec).await;
    record(
        store.as_ref(),
        identification(&scope, "req_2", "pv_a", T0 + 1),
    )
    .await;
    record(
        store.as_ref(),
        identification(&scope, "req_3", "pv_b", T0 + 2),
    )
    .await;
    let visitors = new_list("lst_000000000001", "suspects", "visitor");
    let values = new_list("lst_000000000002", "ids", "linked_id");
    store
        .create_list(&scope, visitors.clone(), T0)
        .await
        .unwrap();
    store.create_list(&scope, values.clone(), T0).await.unwrap();
    let both = EntryChange {
        add: vec![("pv_a".into(), None), ("pv_b".into(), None)],
        remove: vec![],
    };
    for list in [&visitors, &values] {
        store
            .change_list_entries(&scope, &list.id, both.clone(), None, T0)
            .await
            .unwrap();
    }

    assert!(store.delete_visitor(&scope, "pv_a").await.unwrap());
    assert!(store.visitor(&scope, "pv_a", 0).await.unwrap().is_none());
    assert!(store.event(&scope, "req_1", 0).await.unwrap().is_none());
    assert!(store.event(&scope, "req_2", 0).await.unwrap().is_none());
    assert_eq!(
        event_ids(store.as_ref(), &scope, query(10)).await,
        ["req_3"]
    );
    let (entries, total) = store
        .list_entries(&scope, &visitors.id, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(
        (ids(&entries, |e| &e.value), total),
        (vec!["pv_b".to_owned()], 1)
    );
    let (_, other_total) = store
        .list_entries(&scope, &values.id, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(other_total, 2, "only visitor lists hold visitors");
    assert!(!store.delete_visitor(&scope, "pv_a").await.unwrap());

    // The same id seen again starts from nothing: its links went with it.
    record(
        store.as_ref(),
        identification(&scope, "req_4", "pv_a", T0 + 5),
    )
    .await;
    let again = store.visitor(&scope, "pv_a", 0).await.unwrap().unwrap();
    assert_eq!((again.total_visits, again.linked_accounts), (1, 0));
    assert_eq!(again.first_seen_ms, T0 + 5);
}

pub async fn purge_events_before_deletes_old_events_of_every_workspace(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let other = &strangers[1];
    record(store.as_ref(), identification(&scope, "req_1", "pv_a", T0)).await;
    record(
        store.as_ref(),
        identification(other, "req_2", "pv_b", T0 + 1_000),
    )
    .await;
    record(
        store.as_ref(),
        identification(&scope, "req_3", "pv_a", T0 + 2_000),
    )
    .await;
    assert_eq!(store.purge_events_before(T0 + 1_500).await.unwrap(), 2);
    assert_eq!(
        event_ids(store.as_ref(), &scope, query(10)).await,
        ["req_3"]
    );
    assert!(event_ids(store.as_ref(), other, query(10)).await.is_empty());
    assert_eq!(store.purge_events_before(T0 + 1_500).await.unwrap(), 0);
    assert!(
        store.visitor(other, "pv_b", 0).await.unwrap().is_some(),
        "visitors outlive their purged events"
    );
}

pub async fn profiles_page_walks_every_scope_by_visitor_id(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let live = &strangers[0];
    record(store.as_ref(), identification(&scope, "req_1", "pv_c", T0)).await;
    record(
        store.as_ref(),
        identification(live, "req_2", "pv_a", T0 + 1),
    )
    .await;
    record(
        store.as_ref(),
        identification(&scope, "req_3", "pv_b", T0 + 2),
    )
    .await;
    let mut latest = identification(live, "req_4", "pv_a", T0 + 9);
    latest.profile = vec![9, 9];
    latest.matched = true;
    record(store.as_ref(), latest).await;

    let first = store.profiles_page(None, 2).await.unwrap();
    assert_eq!(ids(&first, |p| &p.visitor_id), ["pv_a", "pv_b"]);
    let a = &first[0];
    assert_eq!(&a.scope, live);
    assert_eq!(a.profile, [9, 9], "the latest profile");
    assert_eq!(
        (
            a.first_seen_ms,
            a.last_seen_ms,
            a.total_visits,
            a.matched_visits
        ),
        (T0 + 1, T0 + 9, 2, 1),
        "the return recognised by fingerprint counted"
    );
    assert_eq!(first[1].scope, scope);
    assert_eq!(first[1].matched_visits, 0);
    let rest = store.profiles_page(Some("pv_b".into()), 2).await.unwrap();
    assert_eq!(ids(&rest, |p| &p.visitor_id), ["pv_c"]);
    assert!(store
        .profiles_page(Some("pv_c".into()), 2)
        .await
        .unwrap()
        .is_empty());
}

pub async fn events_ascending_pages_oldest_first_from_a_time(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    for (id, ts) in [
        ("req_a", T0),
        ("req_b", T0 + 1_000),
        ("req_d", T0 + 2_000),
        ("req_c", T0 + 2_000),
        ("req_e", T0 + 3_000),
    ] {
        let mut rec = identification(&scope, id, "pv_a", ts);
        rec.verdict = Some("allow".into());
        record(store.as_ref(), rec).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .events_ascending(&scope, T0 + 1_000, after, 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some((last.ts_ms, last.request_id.clone()));
        seen.extend(page);
    }
    assert_eq!(
        ids(&seen, |e| &e.request_id),
        ["req_b", "req_c", "req_d", "req_e"]
    );
    assert_eq!(seen[0].verdict.as_deref(), Some("allow"));
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["requestId"], "req_b");
}

pub async fn linked_uses_ascending_reads_only_linked_events(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    let live = &strangers[0];
    let events = [
        ("req_1", "pv_a", &scope, T0 + 1_000, Some("u1")),
        ("req_2", "pv_b", &scope, T0 + 3_000, Some("u1")),
        ("req_3", "pv_a", &scope, T0 + 2_000, None),
        ("req_4", "pv_c", live, T0 + 2_500, Some("u1")),
        ("req_5", "pv_a", &scope, T0 + 4_000, Some("u2")),
        ("req_6", "pv_a", &scope, T0 + 500, Some("u0")),
    ];
    for (id, visitor, sc, ts, linked) in events {
        let mut rec = identification(sc, id, visitor, ts);
        rec.linked_id = linked.map(str::to_owned);
        record(store.as_ref(), rec).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .linked_uses_ascending(&scope, T0 + 1_000, after, 2)
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
            ("req_1", T0 + 1_000, "pv_a", "u1"),
            ("req_2", T0 + 3_000, "pv_b", "u1"),
            ("req_5", T0 + 4_000, "pv_a", "u2"),
        ]
    );
}

pub async fn identification_applies_list_effects_and_rule_matches(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let list = store
        .create_list(
            &scope,
            new_list("lst_000000000001", "suspects", "visitor"),
            T0,
        )
        .await
        .unwrap();
    let rule = store
        .create_rule(&scope, new_rule("rul_000000000001", "r", "live", None), T0)
        .await
        .unwrap();
    let old = EntryChange {
        add: vec![("pv_old".into(), None)],
        remove: vec![],
    };
    store
        .change_list_entries(&scope, &list.id, old, None, T0)
        .await
        .unwrap();

    let mut rec = identification(&scope, "req_1", "pv_a", T0 + 5_000);
    rec.list_effects = vec![
        ListEffect::Add {
            list_id: list.id.clone(),
            value: "pv_a".into(),
            expires_s: None,
        },
        ListEffect::Remove {
            list_id: list.id.clone(),
            value: "pv_old".into(),
        },
        // A list deleted while the identification ran: skipped, not an error.
        ListEffect::Add {
            list_id: "lst_00000000dead".into(),
            value: "pv_a".into(),
            expires_s: None,
        },
    ];
    rec.rule_matches = vec![rule.id.clone()];
    record(store.as_ref(), rec).await;
    let (entries, total) = store
        .list_entries(&scope, &list.id, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(
        (ids(&entries, |e| &e.value), total),
        (vec!["pv_a".to_owned()], 1)
    );
    assert_eq!(entries[0].added_ms, T0 + 5_000);
    let after = store.list(&scope, &list.id).await.unwrap().unwrap();
    assert_eq!((after.entry_count, after.updated_ms), (1, T0 + 5_000));
    let matched = store.rule(&scope, &rule.id).await.unwrap().unwrap();
    assert_eq!(
        (matched.match_count, matched.last_match_ms),
        (1, Some(T0 + 5_000))
    );
    assert_eq!(matched.version, 1, "statistics are no new version");

    let mut earlier = identification(&scope, "req_2", "pv_b", T0 + 1_000);
    earlier.rule_matches = vec![rule.id.clone()];
    record(store.as_ref(), earlier).await;
    let matched = store.rule(&scope, &rule.id).await.unwrap().unwrap();
    assert_eq!(
        (matched.match_count, matched.last_match_ms),
        (2, Some(T0 + 5_000)),
        "the last match never goes back"
    );
}
