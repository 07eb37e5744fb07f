//! Checks of webhooks and the delivery queue: fan-out, leases, attempts, redelivery.

use std::collections::HashSet;
use std::sync::Arc;

use prynt_core::{timefmt, Scope};

use super::support::{
    identification, ids, new_list, now_ms, outbox, record, scope_and_strangers, webhook, workspace,
    T0,
};
use crate::{
    AttemptRecord, DeliveryNext, EntryChange, OutboxItem, Store, StoreError, WebhookChange,
};

/// A scope with one active webhook `wh_1` created at `T0`.
async fn scope_with_webhook(store: &dyn Store) -> Scope {
    let scope = workspace(store, "acme").await;
    store
        .create_webhook(webhook(&scope, "wh_1", T0))
        .await
        .unwrap();
    scope
}

/// Queues `n` test payloads for `webhooks`, created at `at` plus their index, and fans them out.
async fn queue(store: &dyn Store, scope: &Scope, webhooks: &[&str], n: usize, at: i64) {
    for i in 0..n {
        let item = outbox(&format!("evt_{at}_{i}"), "test", webhooks, at + i as i64);
        store.enqueue(scope, item).await.unwrap();
    }
    while store.fan_out(100).await.unwrap() > 0 {}
}

fn attempt(at_ms: i64, status_code: Option<u16>) -> AttemptRecord {
    AttemptRecord {
        at_ms,
        status_code,
        latency_ms: 12,
        error: status_code
            .is_none_or(|c| c >= 300)
            .then(|| "upstream said no".to_owned()),
    }
}

pub async fn webhook_is_created_read_updated_and_deleted(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let rec = webhook(&scope, "wh_1", T0);
    assert_eq!(store.create_webhook(rec.clone()).await.unwrap(), rec);
    assert_eq!(
        store.webhook(&scope, "wh_1").await.unwrap(),
        Some(rec.clone())
    );
    let dup = store.create_webhook(webhook(&scope, "wh_1", T0 + 1)).await;
    assert!(matches!(dup, Err(StoreError::DuplicateId)), "{dup:?}");

    let change = WebhookChange {
        description: Some(None),
        status: Some("paused".into()),
        events: Some(r#"["rule_match"]"#.into()),
        ..Default::default()
    };
    let up = store
        .update_webhook(&scope, "wh_1", change, T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        (up.description.as_deref(), up.status.as_str()),
        (None, "paused")
    );
    assert_eq!(
        (up.events.as_str(), up.url.as_str()),
        (r#"["rule_match"]"#, rec.url.as_str())
    );
    assert_eq!((up.created_ms, up.updated_ms), (T0, T0 + 5));
    assert_eq!(
        store.webhook(&scope, "wh_1").await.unwrap(),
        Some(up.clone())
    );
    let (paused, total) = store
        .webhooks(Some(scope.clone()), Some("paused".into()), 10, 0)
        .await
        .unwrap();
    assert_eq!((ids(&paused, |w| &w.id), total), (vec!["wh_1".into()], 1));

    let rotate = WebhookChange {
        rotate: Some(("sealed-new".into(), "sealed-secret".into(), T0 + 86_400_000)),
        ..Default::default()
    };
    let rotated = store
        .update_webhook(&scope, "wh_1", rotate, T0 + 6)
        .await
        .unwrap();
    assert_eq!(rotated.secret, "sealed-new");
    assert_eq!(rotated.old_secret.as_deref(), Some("sealed-secret"));
    assert_eq!(rotated.old_secret_until_ms, Some(T0 + 86_400_000));
    assert_eq!(rotated.status, "paused", "a rotation keeps the rest");

    assert!(store.delete_webhook(&scope, "wh_1").await.unwrap());
    assert!(store.webhook(&scope, "wh_1").await.unwrap().is_none());
    assert!(!store.delete_webhook(&scope, "wh_1").await.unwrap());
    let gone = store
        .update_webhook(&scope, "wh_1", WebhookChange::default(), T0 + 7)
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
}

pub async fn webhooks_without_a_scope_lists_every_scope(store: Arc<dyn Store>) {
    let (scope, strangers) = scope_and_strangers(store.as_ref()).await;
    store
        .create_webhook(webhook(&scope, "wh_1", T0 + 2))
        .await
        .unwrap();
    store
        .create_webhook(webhook(&strangers[0], "wh_2", T0))
        .await
        .unwrap();
    let mut paused = webhook(&strangers[1], "wh_3", T0 + 1);
    paused.status = "paused".into();
    store.create_webhook(paused).await.unwrap();
    let (all, total) = store.webhooks(None, None, 10, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        ids(&all, |w| &w.id),
        ["wh_2", "wh_3", "wh_1"],
        "oldest first"
    );
    assert_eq!(all[0].scope, strangers[0], "each webhook knows its scope");
    let (active, total) = store
        .webhooks(None, Some("active".into()), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        (ids(&active, |w| &w.id), total),
        (vec!["wh_2".into(), "wh_1".into()], 2)
    );
    let (mine, total) = store
        .webhooks(Some(scope.clone()), None, 10, 0)
        .await
        .unwrap();
    assert_eq!((ids(&mine, |w| &w.id), total), (vec!["wh_1".into()], 1));
    let (page, total) = store.webhooks(None, None, 1, 2).await.unwrap();
    assert_eq!((ids(&page, |w| &w.id), total), (vec!["wh_1".into()], 3));
}

pub async fn fan_out_makes_one_delivery_per_subscribed_webhook(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    store
        .create_webhook(webhook(&scope, "wh_2", T0))
        .await
        .unwrap();
    let item = outbox("evt_1", "test", &["wh_1", "wh_2"], T0 + 10);
    store.enqueue(&scope, item.clone()).await.unwrap();
    store
        .enqueue(&scope, outbox("evt_none", "test", &[], T0 + 11))
        .await
        .unwrap();
    assert_eq!(
        store.fan_out(10).await.unwrap(),
        1,
        "a payload nobody wants is dropped"
    );
    assert_eq!(store.fan_out(10).await.unwrap(), 0);
    for wh in ["wh_1", "wh_2"] {
        let (deliveries, total) = store.deliveries(&scope, wh, 10, 0).await.unwrap();
        assert_eq!(total, 1);
        let d = &deliveries[0];
        assert_eq!(
            (d.kind.as_str(), d.payload_id.as_str(), d.status.as_str()),
            ("test", "evt_1", "pending")
        );
        assert_eq!((d.next_attempt_ms, d.created_ms), (Some(T0 + 10), T0 + 10));
        assert!(d.attempts.is_empty());
    }
    let claimed = store
        .claim_deliveries("wh_1", T0 + 10, 10, 60_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(
        (
            c.kind.as_str(),
            c.payload_id.as_str(),
            c.attempts,
            c.created_ms
        ),
        ("test", "evt_1", 0, T0 + 10)
    );
    assert_eq!(c.payload.as_deref(), Some(item.payload.as_str()));

    // A webhook deleted before the fan-out gets nothing.
    store
        .enqueue(&scope, outbox("evt_2", "test", &["wh_1", "wh_2"], T0 + 20))
        .await
        .unwrap();
    assert!(store.delete_webhook(&scope, "wh_2").await.unwrap());
    assert_eq!(store.fan_out(10).await.unwrap(), 1);
    let (_, total) = store.deliveries(&scope, "wh_1", 10, 0).await.unwrap();
    assert_eq!(total, 2);
    let (after, _) = store.deliveries(&scope, "wh_2", 10, 0).await.unwrap();
    assert!(after.iter().all(|d| d.payload_id != "evt_2"));
}

pub async fn identification_payload_is_the_stored_event(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    record(store.as_ref(), identification(&scope, "req_0", "pv_a", T0)).await;
    let mut rec = identification(&scope, "req_1", "pv_a", T0 + 3_000);
    rec.outbox = vec![OutboxItem {
        id: "evt_1".into(),
        kind: "identification".into(),
        payload: String::new(),
        request_id: Some("req_1".into()),
        created_ms: T0 + 3_000,
        webhook_ids: vec!["wh_1".into()],
    }];
    record(store.as_ref(), rec).await;
    assert_eq!(store.fan_out(10).await.unwrap(), 1);
    let claimed = store
        .claim_deliveries("wh_1", T0 + 3_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let payload: serde_json::Value =
        serde_json::from_str(claimed[0].payload.as_deref().expect("a payload")).unwrap();
    assert_eq!(payload["id"], "evt_1");
    assert_eq!(payload["event"], "identification");
    assert_eq!(payload["createdAt"], timefmt::rfc3339((T0 + 3_000) / 1000));
    assert_eq!(payload["data"]["requestId"], "req_1");
    assert_eq!(payload["data"]["device"]["browser"], "Chrome");
    assert_eq!(
        payload["data"]["firstSeenAt"],
        timefmt::rfc3339(T0 / 1000),
        "the event exactly as the API shows it"
    );
    assert!(store.delete_visitor(&scope, "pv_a").await.unwrap());
    let again = store
        .claim_deliveries("wh_1", T0 + 10_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, None, "an erased event is sent no more");
}

pub async fn claimed_deliveries_are_leased_until_the_lease_expires(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    queue(store.as_ref(), &scope, &["wh_1"], 3, T0).await;
    queue(store.as_ref(), &scope, &["wh_1"], 1, T0 + 50_000).await;
    let now = T0 + 10;
    let first = store.claim_deliveries("wh_1", now, 2, 1_000).await.unwrap();
    assert_eq!(
        ids(&first, |d| &d.payload_id),
        [format!("evt_{T0}_0"), format!("evt_{T0}_1")],
        "earliest due first"
    );
    let second = store
        .claim_deliveries("wh_1", now + 500, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(
        ids(&second, |d| &d.payload_id),
        [format!("evt_{T0}_2")],
        "leased ones are not handed out again; future ones are not due"
    );
    assert!(store
        .claim_deliveries("wh_1", now + 999, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
    let expired = store
        .claim_deliveries("wh_1", now + 1_000, 10, 1_000)
        .await
        .unwrap();
    let mut got = ids(&expired, |d| &d.payload_id);
    got.sort();
    assert_eq!(
        got,
        [format!("evt_{T0}_0"), format!("evt_{T0}_1")],
        "a lapsed lease is claimable again"
    );
    assert!(store
        .claim_deliveries("wh_2", now, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
}

pub async fn concurrent_claims_never_share_a_delivery(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    queue(store.as_ref(), &scope, &["wh_1"], 20, T0).await;
    let (a, b) = (store.clone(), store.clone());
    let one = tokio::spawn(async move { a.claim_deliveries("wh_1", T0 + 100, 15, 60_000).await });
    let two = tokio::spawn(async move { b.claim_deliveries("wh_1", T0 + 100, 15, 60_000).await });
    let (one, two) = (one.await.unwrap().unwrap(), two.await.unwrap().unwrap());
    let mut seen = HashSet::new();
    for d in one.iter().chain(&two) {
        assert!(
            seen.insert(d.id),
            "delivery {} was handed to two workers",
            d.id
        );
    }
    assert_eq!(seen.len(), 20, "together they take every due delivery");
}

pub async fn deliveries_of_a_paused_webhook_are_not_claimed(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    queue(store.as_ref(), &scope, &["wh_1"], 2, T0).await;
    let pause = WebhookChange {
        status: Some("paused".into()),
        ..Default::default()
    };
    store
        .update_webhook(&scope, "wh_1", pause, T0)
        .await
        .unwrap();
    assert!(store
        .claim_deliveries("wh_1", T0 + 10, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
    let resume = WebhookChange {
        status: Some("active".into()),
        ..Default::default()
    };
    store
        .update_webhook(&scope, "wh_1", resume, T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_deliveries("wh_1", T0 + 10, 10, 1_000)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn attempts_move_deliveries_and_are_listed_newest_first(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    // Attempts of the last 7 days make the success rate, so these happen now.
    let base = now_ms();
    queue(store.as_ref(), &scope, &["wh_1"], 3, base).await;
    let claimed = store
        .claim_deliveries("wh_1", base + 10, 10, 60_000)
        .await
        .unwrap();
    let [d1, d2, d3] = [claimed[0].id, claimed[1].id, claimed[2].id];
    store
        .record_attempts(vec![
            (d1, attempt(base + 20, Some(200)), DeliveryNext::Succeeded),
            (
                d2,
                attempt(base + 21, Some(500)),
                DeliveryNext::RetryAt(base + 5_000),
            ),
            (d3, attempt(base + 22, Some(410)), DeliveryNext::Failed),
            (
                999_999_999,
                attempt(base + 23, Some(200)),
                DeliveryNext::Succeeded,
            ),
        ])
        .await
        .unwrap();
    let (list, total) = store.deliveries(&scope, "wh_1", 10, 0).await.unwrap();
    assert_eq!(total, 3);
    let got: Vec<_> = list
        .iter()
        .map(|d| (d.id, d.status.as_str(), d.next_attempt_ms, d.attempts.len()))
        .collect();
    assert_eq!(
        got,
        [
            (d3, "failed", None, 1),
            (d2, "pending", Some(base + 5_000), 1),
            (d1, "succeeded", None, 1)
        ],
        "newest first"
    );
    let a = &list[1].attempts[0];
    assert_eq!(
        (a.at_ms, a.status_code, a.latency_ms),
        (base + 21, Some(500), 12)
    );
    assert_eq!(a.error.as_deref(), Some("upstream said no"));

    assert!(
        store
            .claim_deliveries("wh_1", base + 4_999, 10, 60_000)
            .await
            .unwrap()
            .is_empty(),
        "a retry waits for its time"
    );
    let retry = store
        .claim_deliveries("wh_1", base + 5_000, 10, 60_000)
        .await
        .unwrap();
    assert_eq!((retry.len(), retry[0].id, retry[0].attempts), (1, d2, 1));
    store
        .record_attempts(vec![(
            d2,
            attempt(base + 5_001, Some(204)),
            DeliveryNext::Succeeded,
        )])
        .await
        .unwrap();
    let (page, total) = store.deliveries(&scope, "wh_1", 1, 1).await.unwrap();
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(page[0].id, d2);
    let codes: Vec<_> = page[0].attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(204)], "attempts in order");
    assert_eq!(page[0].status, "succeeded");

    let wh = store.webhook(&scope, "wh_1").await.unwrap().unwrap();
    assert_eq!(wh.success_rate, Some(0.5), "2 of 4 attempts succeeded");
    assert_eq!(wh.last_delivery_ms, Some(base + 5_001));
}

pub async fn redeliver_makes_a_finished_delivery_due_again(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    store
        .create_webhook(webhook(&scope, "wh_2", T0))
        .await
        .unwrap();
    queue(store.as_ref(), &scope, &["wh_1"], 2, T0).await;
    let claimed = store
        .claim_deliveries("wh_1", T0 + 10, 10, 60_000)
        .await
        .unwrap();
    let (done, pending) = (claimed[0].id, claimed[1].id);
    store
        .record_attempts(vec![(
            done,
            attempt(T0 + 20, Some(500)),
            DeliveryNext::Failed,
        )])
        .await
        .unwrap();
    assert!(
        !store
            .redeliver(&scope, "wh_1", pending, T0 + 30)
            .await
            .unwrap(),
        "a pending delivery is not redelivered"
    );
    assert!(
        !store
            .redeliver(&scope, "wh_2", done, T0 + 30)
            .await
            .unwrap(),
        "another webhook's delivery"
    );
    assert!(!store
        .redeliver(&scope, "wh_1", 999_999_999, T0 + 30)
        .await
        .unwrap());
    assert!(store
        .redeliver(&scope, "wh_1", done, T0 + 9_000)
        .await
        .unwrap());
    let (list, _) = store.deliveries(&scope, "wh_1", 10, 0).await.unwrap();
    let d = list.iter().find(|d| d.id == done).unwrap();
    assert_eq!(
        (d.status.as_str(), d.next_attempt_ms),
        ("pending", Some(T0 + 9_000))
    );
    assert_eq!(d.created_ms, T0 + 9_000, "the retry window starts again");
    assert!(store
        .claim_deliveries("wh_1", T0 + 8_999, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_deliveries("wh_1", T0 + 9_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(ids(&again, |d| &d.payload_id).len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (done, 1));
}

pub async fn released_leases_are_claimable_at_once(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    queue(store.as_ref(), &scope, &["wh_1"], 3, T0).await;
    let lease = 3_600_000;
    let leased = store
        .claim_deliveries("wh_1", T0 + 10, 2, lease)
        .await
        .unwrap();
    assert_eq!(leased.len(), 2);
    // A store one process owns frees both leases; a shared one frees none (another node's
    // worker may hold them). Either way the count says what became claimable.
    let freed = store.release_leases().await.unwrap();
    assert!(freed == 0 || freed == 2, "freed {freed} of 2 leases");
    let now = store
        .claim_deliveries("wh_1", T0 + 10, 10, lease)
        .await
        .unwrap();
    assert_eq!(now.len(), 1 + freed, "the unleased one and the freed ones");
    let later = store
        .claim_deliveries("wh_1", T0 + 10 + lease, 10, lease)
        .await
        .unwrap();
    assert_eq!(later.len(), 3, "every lease runs out in the end");
}

pub async fn deleting_a_webhook_cancels_its_pending_deliveries(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    queue(store.as_ref(), &scope, &["wh_1"], 2, T0).await;
    let claimed = store
        .claim_deliveries("wh_1", T0 + 10, 1, 60_000)
        .await
        .unwrap();
    assert!(store.delete_webhook(&scope, "wh_1").await.unwrap());
    assert!(store
        .claim_deliveries("wh_1", T0 + 100_000, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
    // The worker that held a lease reports its attempt after the deletion.
    store
        .record_attempts(vec![(
            claimed[0].id,
            attempt(T0 + 20, Some(200)),
            DeliveryNext::Succeeded,
        )])
        .await
        .unwrap();
    let (list, _) = store.deliveries(&scope, "wh_1", 10, 0).await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter().all(|d| d.status == "cancelled"),
        "{:?}",
        list.iter().map(|d| &d.status).collect::<Vec<_>>()
    );
}

pub async fn list_change_queues_its_outbox_row(store: Arc<dyn Store>) {
    let scope = scope_with_webhook(store.as_ref()).await;
    let list = store
        .create_list(&scope, new_list("lst_000000000001", "ips", "ip"), T0)
        .await
        .unwrap();
    let change = EntryChange {
        add: vec![("10.0.0.1".into(), None)],
        remove: vec![],
    };
    let refused = store
        .change_list_entries(
            &scope,
            "lst_00000000000f",
            change.clone(),
            Some(outbox("evt_0", "list_update", &["wh_1"], T0)),
            T0,
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    assert_eq!(
        store.fan_out(10).await.unwrap(),
        0,
        "a refused change queues nothing"
    );
    let item = outbox("evt_1", "list_update", &["wh_1"], T0 + 1);
    store
        .change_list_entries(&scope, &list.id, change, Some(item.clone()), T0 + 1)
        .await
        .unwrap();
    let gone = outbox("evt_2", "list_update", &["wh_1"], T0 + 2);
    assert!(store
        .delete_list(&scope, &list.id, Some(gone.clone()))
        .await
        .unwrap());
    assert_eq!(store.fan_out(10).await.unwrap(), 2);
    let claimed = store
        .claim_deliveries("wh_1", T0 + 2, 10, 1_000)
        .await
        .unwrap();
    let payloads: Vec<_> = claimed.iter().map(|d| d.payload.clone()).collect();
    assert_eq!(payloads, [Some(item.payload), Some(gone.payload)]);
}
