//! Checks of erasure beyond the events: copies of what a visitor's events carried that live in
//! other tables go with the visitor.

use std::sync::Arc;

use super::support::{identification, record, webhook, workspace, T0};
use crate::{IdempotencyClaim, OutboxItem, Store, StoredResponse};

const TTL: i64 = 86_400_000;
const STALE: i64 = 60_000;

/// A payload as the server writes one: `data` naming a request and what it carried.
fn payload(id: &str, kind: &str, data: serde_json::Value, at: i64) -> OutboxItem {
    OutboxItem {
        id: id.to_owned(),
        kind: kind.to_owned(),
        payload: serde_json::json!({"id": id, "event": kind, "createdAt": "2023-11-14T22:13:20Z",
                                    "data": data})
        .to_string(),
        request_id: None,
        created_ms: at,
        webhook_ids: vec!["wh_1".into()],
    }
}

/// An identify answer kept for replay under `key`.
async fn kept_answer(store: &dyn Store, key: &str, visitor_id: &str) -> StoredResponse {
    let answer = StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!(r#"{{"requestId":"req_x","visitorId":"{visitor_id}","confidence":1,"visitorFound":true}}"#)
            .into_bytes(),
    };
    let claim = store
        .claim_idempotency_key([7; 32], key, [8; 32], T0, TTL, STALE)
        .await
        .unwrap();
    assert_eq!(claim, IdempotencyClaim::Claimed);
    store
        .settle_idempotency_key([7; 32], key, Some(answer.clone()))
        .await
        .unwrap();
    answer
}

pub async fn delete_visitor_erases_its_webhook_payloads_and_kept_answers(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    store
        .create_webhook(webhook(&scope, "wh_1", T0))
        .await
        .unwrap();
    let mut gone = identification(&scope, "req_1", "pv_a", T0);
    gone.linked_id = Some("someone@example.com".into());
    gone.outbox = vec![
        // The identification itself, rule matches naming the visitor, and a list update
        // naming only the request (an address added by a rule).
        OutboxItem {
            id: "evt_ident".into(),
            kind: "identification".into(),
            payload: String::new(),
            request_id: Some("req_1".into()),
            created_ms: T0,
            webhook_ids: vec!["wh_1".into()],
        },
        payload(
            "evt_match",
            "rule_match",
            serde_json::json!({"ruleId": "rul_1", "requestId": "req_1", "visitorId": "pv_a"}),
            T0,
        ),
        payload(
            "evt_list",
            "list_update",
            serde_json::json!({"listId": "lst_1", "added": ["192.0.2.1"], "removed": [],
                               "source": "rule", "requestId": "req_1"}),
            T0,
        ),
    ];
    record(store.as_ref(), gone).await;
    let mut kept = identification(&scope, "req_2", "pv_b", T0 + 1);
    kept.outbox = vec![payload(
        "evt_other",
        "rule_match",
        serde_json::json!({"ruleId": "rul_1", "requestId": "req_2", "visitorId": "pv_b"}),
        T0 + 1,
    )];
    record(store.as_ref(), kept).await;
    // A visitor ID added to a list by hand, later than the visitor's first visit.
    store
        .enqueue(
            &scope,
            payload(
                "evt_manual",
                "list_update",
                serde_json::json!({"listId": "lst_2", "added": ["pv_a"], "removed": [],
                                   "source": "api"}),
                T0 + 2,
            ),
        )
        .await
        .unwrap();
    while store.fan_out(100).await.unwrap() > 0 {}
    kept_answer(store.as_ref(), "key-a", "pv_a").await;
    let other_answer = kept_answer(store.as_ref(), "key-b", "pv_b").await;

    assert!(store.delete_visitor(&scope, "pv_a").await.unwrap());

    let claimed = store
        .claim_deliveries("wh_1", T0 + 10_000, 10, 1_000)
        .await
        .unwrap();
    let mut payloads: Vec<(String, bool)> = claimed
        .iter()
        .map(|d| (d.payload_id.clone(), d.payload.is_some()))
        .collect();
    payloads.sort();
    assert_eq!(
        payloads,
        [
            ("evt_ident".to_owned(), false),
            ("evt_list".to_owned(), false),
            ("evt_manual".to_owned(), false),
            ("evt_match".to_owned(), false),
            ("evt_other".to_owned(), true),
        ],
        "every payload naming the visitor or one of its events is erased; others stay"
    );
    // The erased visitor's kept answer is gone (a retry runs anew); another's is replayed.
    let again = |key: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .claim_idempotency_key([7; 32], key, [8; 32], T0 + 1_000, TTL, STALE)
                .await
                .unwrap()
        }
    };
    assert_eq!(again("key-a").await, IdempotencyClaim::Claimed);
    assert_eq!(again("key-b").await, IdempotencyClaim::Replay(other_answer));
}
