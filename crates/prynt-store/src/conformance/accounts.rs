//! Checks of workspaces, API keys, environment settings and the store's lifecycle.

use std::sync::Arc;

use prynt_core::{EnvSettings, Environment, KeyType, Plan, PlanLimits};

use super::support::{live, new_key, workspace};
use crate::{Store, StoreError};

pub async fn a_new_store_has_a_default_workspace_and_a_stable_token_key(store: Arc<dyn Store>) {
    let default = store.workspace_by_name("default").await.unwrap();
    assert!(
        default.is_some(),
        "a new store holds the `default` workspace"
    );
    let key = store.token_key().await.unwrap();
    assert!(key.len() >= 32, "the token key has at least 256 bits");
    assert_eq!(
        store.token_key().await.unwrap(),
        key,
        "the token key never changes"
    );
}

pub async fn the_token_key_is_replaced_only_from_its_current_value(store: Arc<dyn Store>) {
    let clear = store.token_key().await.unwrap();
    let sealed = b"v1.sealed-form-of-the-key".to_vec();
    assert!(
        !store
            .replace_token_key(b"not the key", &sealed)
            .await
            .unwrap(),
        "a stale current value replaces nothing"
    );
    assert_eq!(store.token_key().await.unwrap(), clear);
    assert!(store.replace_token_key(&clear, &sealed).await.unwrap());
    assert_eq!(store.token_key().await.unwrap(), sealed);
    assert!(
        !store.replace_token_key(&clear, b"v1.other").await.unwrap(),
        "of two nodes sealing at once, the second finds the key already replaced"
    );
    assert_eq!(store.token_key().await.unwrap(), sealed);
}

pub async fn workspace_is_found_by_name_and_listed(store: Arc<dyn Store>) {
    let ws = store.create_workspace("acme", Plan::Starter).await.unwrap();
    assert!(
        ws.id.starts_with("ws_"),
        "workspace ids are `ws_` ids: {}",
        ws.id
    );
    assert_eq!(
        (ws.name.as_str(), ws.plan, ws.custom_limits),
        ("acme", Plan::Starter, None)
    );
    let found = store.workspace_by_name("acme").await.unwrap().unwrap();
    assert_eq!(found, ws);
    assert!(store.workspace_by_name("nope").await.unwrap().is_none());
    let all = store.list_workspaces().await.unwrap();
    assert!(all.contains(&ws));
    assert!(all.iter().any(|w| w.name == "default"));
}

pub async fn workspace_names_are_unique(store: Arc<dyn Store>) {
    store.create_workspace("acme", Plan::Pro).await.unwrap();
    assert!(matches!(
        store.create_workspace("acme", Plan::Starter).await,
        Err(StoreError::Conflict(_))
    ));
    let acmes = store
        .list_workspaces()
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.name == "acme")
        .count();
    assert_eq!(acmes, 1);
}

pub async fn workspace_plan_update_sets_and_clears_custom_limits(store: Arc<dyn Store>) {
    store.create_workspace("acme", Plan::Starter).await.unwrap();
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
    assert_eq!(
        (up.plan, up.custom_limits),
        (Plan::Enterprise, Some(limits))
    );
    let read = store.workspace_by_name("acme").await.unwrap().unwrap();
    assert_eq!(read.limits(), limits);
    let back = store
        .update_workspace_plan("acme", Plan::Pro, None)
        .await
        .unwrap();
    assert_eq!((back.plan, back.custom_limits), (Plan::Pro, None));
    assert_eq!(
        store
            .workspace_by_name("acme")
            .await
            .unwrap()
            .unwrap()
            .limits(),
        Plan::Pro.default_limits()
    );
    assert!(matches!(
        store.update_workspace_plan("nope", Plan::Pro, None).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn key_authenticates_by_hash_with_its_workspace(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let (secret, key) = new_key(&scope.workspace_id, Environment::Live, KeyType::Secret);
    let rec = store.create_api_key(key.clone()).await.unwrap();
    assert_eq!(
        (rec.id.as_str(), rec.env, rec.key_type, rec.revoked_at),
        (key.id.as_str(), Environment::Live, KeyType::Secret, None)
    );
    assert_eq!(rec.display_prefix, key.display_prefix);
    let found = store
        .authenticate(prynt_core::keys::hash_key(&secret))
        .await
        .unwrap()
        .expect("the key authenticates");
    assert_eq!(found.key, rec);
    assert_eq!(found.key_hash, key.key_hash.to_vec());
    assert_eq!(found.workspace.name, "acme");
    assert_eq!(found.workspace.id, scope.workspace_id);
    assert!(store.authenticate([7u8; 32]).await.unwrap().is_none());
}

pub async fn initial_keys_are_created_exactly_once(store: Arc<dyn Store>) {
    let ws = store.workspace_by_name("default").await.unwrap().unwrap();
    let (_, a) = new_key(&ws.id, Environment::Test, KeyType::Secret);
    let (_, b) = new_key(&ws.id, Environment::Test, KeyType::Public);
    let (_, c) = new_key(&ws.id, Environment::Test, KeyType::Secret);
    // Two nodes starting on one empty store at once: one of them creates the keys.
    let (first, second) = tokio::join!(
        store.create_initial_keys(vec![a.clone(), b.clone()]),
        store.create_initial_keys(vec![c.clone()]),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first != second, "exactly one initial creation wins");
    let keys = store.list_api_keys(None).await.unwrap();
    let expected = if first { 2 } else { 1 };
    assert_eq!(keys.len(), expected);
    let (_, d) = new_key(&ws.id, Environment::Live, KeyType::Secret);
    assert!(!store.create_initial_keys(vec![d]).await.unwrap());
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), expected);
}

pub async fn revoked_key_is_refused_and_listed_as_revoked(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let (secret, key) = new_key(&scope.workspace_id, Environment::Test, KeyType::Secret);
    store.create_api_key(key.clone()).await.unwrap();
    let revoked = store.revoke_api_key(&key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store
        .authenticate(prynt_core::keys::hash_key(&secret))
        .await
        .unwrap()
        .is_none());
    let again = store.revoke_api_key(&key.id).await.unwrap();
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "the first revocation stands"
    );
    let listed = store
        .list_api_keys(Some(&scope.workspace_id))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, revoked.revoked_at);
    assert!(matches!(
        store.revoke_api_key("key_000000000000").await,
        Err(StoreError::NotFound)
    ));
}

pub async fn keys_are_listed_per_workspace_oldest_first(store: Arc<dyn Store>) {
    let acme = workspace(store.as_ref(), "acme").await;
    let globex = workspace(store.as_ref(), "globex").await;
    let mut made = Vec::new();
    for (ws, env, kt) in [
        (&acme, Environment::Test, KeyType::Secret),
        (&globex, Environment::Test, KeyType::Secret),
        (&acme, Environment::Live, KeyType::Public),
        (&acme, Environment::Test, KeyType::Public),
    ] {
        let (_, key) = new_key(&ws.workspace_id, env, kt);
        made.push(store.create_api_key(key).await.unwrap());
    }
    let acme_keys = store.list_api_keys(Some(&acme.workspace_id)).await.unwrap();
    let mut expected: Vec<_> = made
        .iter()
        .filter(|k| k.workspace_id == acme.workspace_id)
        .cloned()
        .collect();
    expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    assert_eq!(acme_keys, expected, "a workspace's keys, oldest first");
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), 4);
    assert!(store
        .list_api_keys(Some("ws_000000000000"))
        .await
        .unwrap()
        .is_empty());
}

pub async fn env_settings_roundtrip_per_environment(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    assert_eq!(
        store.env_settings(&scope).await.unwrap(),
        EnvSettings::default(),
        "an environment never configured has the defaults"
    );
    let settings = EnvSettings {
        allowed_origins: vec!["https://shop.example".into()],
        mask_ip: true,
        suspect_weights: prynt_core::scope::SuspectWeights {
            tor: 40,
            ..Default::default()
        },
    };
    store.put_env_settings(&scope, &settings).await.unwrap();
    assert_eq!(store.env_settings(&scope).await.unwrap(), settings);
    assert_eq!(
        store.env_settings(&live(&scope)).await.unwrap(),
        EnvSettings::default()
    );
    let replaced = EnvSettings {
        mask_ip: false,
        ..settings
    };
    store.put_env_settings(&scope, &replaced).await.unwrap();
    assert_eq!(store.env_settings(&scope).await.unwrap(), replaced);
}

pub async fn ping_answers_and_close_refuses_later_writes(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    store.create_workspace("before", Plan::Pro).await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.create_workspace("after", Plan::Pro).await,
        Err(StoreError::Closed)
    ));
}
