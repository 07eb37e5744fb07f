//! Builders the checks share: scopes, identifications, rules, lists, webhooks and outbox
//! items with plausible values.

use prynt_core::{Environment, KeyType, Plan, Scope};

use crate::{NewApiKey, NewIdentification, NewList, NewRule, OutboxItem, Store, WebhookRecord};

/// A time every check's events sit around (Unix ms), far from the epoch and from now.
pub(super) const T0: i64 = 1_700_000_000_000;

/// Creates a workspace and returns its test scope.
pub(super) async fn workspace(store: &dyn Store, name: &str) -> Scope {
    let ws = store
        .create_workspace(name, Plan::Pro)
        .await
        .expect("create_workspace");
    Scope {
        workspace_id: ws.id,
        env: Environment::Test,
    }
}

/// The same workspace's other environment.
pub(super) fn live(scope: &Scope) -> Scope {
    Scope {
        workspace_id: scope.workspace_id.clone(),
        env: Environment::Live,
    }
}

/// A test scope and the scopes a leak would show up in: the live environment of the same
/// workspace and the test environment of another one.
pub(super) async fn scope_and_strangers(store: &dyn Store) -> (Scope, Vec<Scope>) {
    let scope = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    (scope.clone(), vec![live(&scope), other])
}

pub(super) fn now_ms() -> i64 {
    prynt_core::timefmt::now_unix_ms()
}

pub(super) fn now_s() -> i64 {
    prynt_core::timefmt::now_unix()
}

/// A key of `workspace_id` and its secret.
pub(super) fn new_key(
    workspace_id: &str,
    env: Environment,
    key_type: KeyType,
) -> (String, NewApiKey) {
    let secret = prynt_core::keys::generate_key(key_type, env);
    let key = NewApiKey {
        id: prynt_core::ids::prefixed_hex_id("key"),
        workspace_id: workspace_id.to_owned(),
        env,
        key_type,
        key_hash: prynt_core::keys::hash_key(&secret),
        display_prefix: prynt_core::keys::display_prefix(&secret),
    };
    (secret, key)
}

/// An identification with an event body shaped like the API's: `firstSeenAt` to be filled in,
/// a device and an address.
pub(super) fn identification(
    scope: &Scope,
    request_id: &str,
    visitor_id: &str,
    ts_ms: i64,
) -> NewIdentification {
    let body = serde_json::json!({
        "requestId": request_id,
        "visitorId": visitor_id,
        "timestamp": ts_ms,
        "firstSeenAt": null,
        "device": {"platform": "macOS", "browser": "Chrome", "gpu": "Apple M1"},
        "ip": {"address": "192.0.2.1"},
    });
    NewIdentification {
        scope: scope.clone(),
        request_id: request_id.to_owned(),
        visitor_id: visitor_id.to_owned(),
        ts_ms,
        profile: vec![1, 2, 3],
        matched: false,
        linked_id: None,
        verdict: None,
        bot: None,
        event_type: None,
        country: None,
        ip: Some("192.0.2.1".into()),
        body: body.to_string(),
        list_effects: vec![],
        rule_matches: vec![],
        outbox: vec![],
    }
}

/// Records `rec` and panics with the check's context when the store refuses it.
pub(super) async fn record(store: &dyn Store, rec: NewIdentification) {
    let id = rec.request_id.clone();
    store
        .record_identification(rec)
        .await
        .unwrap_or_else(|e| panic!("record_identification({id}): {e}"));
}

pub(super) fn new_rule(id: &str, name: &str, status: &str, priority: Option<i64>) -> NewRule {
    NewRule {
        id: id.to_owned(),
        name: name.to_owned(),
        status: status.to_owned(),
        priority,
        conditions: r#"{"operator":"AND","rules":[]}"#.into(),
        action: r#"{"verdict":"block","sideEffects":[]}"#.into(),
    }
}

pub(super) fn new_list(id: &str, name: &str, list_type: &str) -> NewList {
    NewList {
        id: id.to_owned(),
        name: name.to_owned(),
        list_type: list_type.to_owned(),
        description: Some("for the check".into()),
        ttl_s: None,
        purpose: Some("block".into()),
    }
}

pub(super) fn webhook(scope: &Scope, id: &str, created_ms: i64) -> WebhookRecord {
    WebhookRecord {
        id: id.to_owned(),
        scope: scope.clone(),
        url: format!("https://hooks.example/{id}"),
        description: Some("orders".into()),
        events: r#"["identification","rule_match","list_update"]"#.into(),
        filters: "{}".into(),
        status: "active".into(),
        secret: "sealed-secret".into(),
        old_secret: None,
        old_secret_until_ms: None,
        created_ms,
        updated_ms: created_ms,
        success_rate: None,
        last_delivery_ms: None,
    }
}

/// A payload of `kind` (not an identification) for `webhook_ids`.
pub(super) fn outbox(id: &str, kind: &str, webhook_ids: &[&str], created_ms: i64) -> OutboxItem {
    OutboxItem {
        id: id.to_owned(),
        kind: kind.to_owned(),
        payload: serde_json::json!({"id": id, "event": kind, "data": {"n": 1}}).to_string(),
        request_id: None,
        created_ms,
        webhook_ids: webhook_ids.iter().map(|w| (*w).to_owned()).collect(),
    }
}

/// The ids of a page of rows, for comparing orders.
pub(super) fn ids<T>(rows: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    rows.iter().map(|r| id(r).to_owned()).collect()
}
