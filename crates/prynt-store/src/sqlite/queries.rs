//! The [`Store`] trait implemented with SQL over the SQLite connections.

use async_trait::async_trait;
use prynt_core::{timefmt, EnvSettings, Environment, KeyType, Plan, PlanLimits, Scope};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::{
    ApiKeyRecord, AuthenticatedKey, EntryChange, EntryOutcome, EventQuery, EventRow,
    IdempotencyClaim, LinkedUse, ListEntry, ListRecord, NewApiKey, NewIdentification, NewList,
    NewRule, OutboxItem, RawEvent, RuleChange, RuleRecord, RuleVersion, Store, StoreError,
    StoreResult, StoredProfile, StoredResponse, VisitorSummary, Workspace,
};
use crate::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryRecord, WebhookChange, WebhookRecord,
};

const WORKSPACE_COLS: &str = "w.id, w.name, w.plan, w.custom_limits, w.created_at";
const KEY_COLS: &str =
    "k.id, k.workspace_id, k.env, k.key_type, k.display_prefix, k.created_at, k.revoked_at";

fn bad_column(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} {value:?}").into(),
    )
}

/// Reads a workspace from columns starting at `at`.
fn workspace_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Workspace> {
    let plan: String = row.get(at + 2)?;
    let limits: Option<String> = row.get(at + 3)?;
    Ok(Workspace {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        plan: Plan::parse(&plan).ok_or_else(|| bad_column("plan", &plan))?,
        custom_limits: match limits {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    at + 3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?),
            None => None,
        },
        created_at: row.get(at + 4)?,
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let env: String = row.get(2)?;
    let kt: String = row.get(3)?;
    Ok(ApiKeyRecord {
        id: row.get(0)?,
        workspace_id: row.get(1)?,
        env: Environment::parse(&env).ok_or_else(|| bad_column("environment", &env))?,
        key_type: KeyType::parse(&kt).ok_or_else(|| bad_column("key type", &kt))?,
        display_prefix: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

fn workspace_named(conn: &Connection, name: &str) -> StoreResult<Option<Workspace>> {
    Ok(conn
        .query_row(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces w WHERE w.name = ?1"),
            [name],
            |r| workspace_from_row(r, 0),
        )
        .optional()?)
}

fn insert_key(conn: &Connection, key: &NewApiKey, now: i64) -> StoreResult<ApiKeyRecord> {
    conn.execute(
        "INSERT INTO api_keys (id, workspace_id, env, key_type, key_hash, display_prefix, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id,
            key.workspace_id,
            key.env.as_str(),
            key.key_type.as_str(),
            key.key_hash.as_slice(),
            key.display_prefix,
            now
        ],
    )?;
    Ok(ApiKeyRecord {
        id: key.id.clone(),
        workspace_id: key.workspace_id.clone(),
        env: key.env,
        key_type: key.key_type,
        display_prefix: key.display_prefix.clone(),
        created_at: now,
        revoked_at: None,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_workspace(&self, name: &str, plan: Plan) -> StoreResult<Workspace> {
        let ws = Workspace {
            id: prynt_core::ids::prefixed_hex_id("ws"),
            name: name.to_owned(),
            plan,
            custom_limits: None,
            created_at: timefmt::now_unix(),
        };
        let row = ws.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO workspaces (id, name, plan, custom_limits, created_at)
                 VALUES (?1, ?2, ?3, NULL, ?4)",
                params![row.id, row.name, row.plan.as_str(), row.created_at],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("a workspace named {:?} exists", row.name))
                }
                other => other,
            })?;
            Ok(())
        })
        .await?;
        Ok(ws)
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        let name = name.to_owned();
        self.read(move |c| workspace_named(c, &name)).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {WORKSPACE_COLS} FROM workspaces w ORDER BY w.created_at, w.name"
            ))?;
            let rows = st.query_map([], |r| workspace_from_row(r, 0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn update_workspace_plan(
        &self,
        name: &str,
        plan: Plan,
        limits: Option<PlanLimits>,
    ) -> StoreResult<Workspace> {
        let name = name.to_owned();
        let limits_json = limits.map(|l| serde_json::to_string(&l)).transpose()?;
        self.write(move |c| {
            let n = c.execute(
                "UPDATE workspaces SET plan = ?1, custom_limits = ?2 WHERE name = ?3",
                params![plan.as_str(), limits_json, name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            workspace_named(c, &name)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord> {
        self.write(move |c| insert_key(c, &key, timefmt::now_unix()))
            .await
    }

    async fn create_initial_keys(&self, keys: Vec<NewApiKey>) -> StoreResult<bool> {
        self.write(move |c| {
            let existing: i64 = c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?;
            if existing > 0 {
                return Ok(false);
            }
            let now = timefmt::now_unix();
            for key in &keys {
                insert_key(c, key, now)?;
            }
            Ok(true)
        })
        .await
    }

    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<AuthenticatedKey>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {KEY_COLS}, k.key_hash, {WORKSPACE_COLS}
                 FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
                 WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"
            );
            Ok(c.prepare_cached(&sql)?
                .query_row([key_hash.as_slice()], |r| {
                    Ok(AuthenticatedKey {
                        key: key_from_row(r)?,
                        key_hash: r.get(7)?,
                        workspace: workspace_from_row(r, 8)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn list_api_keys(&self, workspace_id: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        let ws = workspace_id.map(str::to_owned);
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLS} FROM api_keys k
                 WHERE (?1 IS NULL OR k.workspace_id = ?1) ORDER BY k.created_at, k.id"
            ))?;
            let rows = st.query_map([ws], key_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_api_key(&self, key_id: &str) -> StoreResult<ApiKeyRecord> {
        let id = key_id.to_owned();
        self.write(move |c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![timefmt::now_unix(), id],
            )?;
            Ok(c.query_row(
                &format!("SELECT {KEY_COLS} FROM api_keys k WHERE k.id = ?1"),
                [&id],
                key_from_row,
            )?)
        })
        .await
    }

    async fn env_settings(&self, scope: &Scope) -> StoreResult<EnvSettings> {
        let scope = scope.clone();
        self.read(move |c| {
            let json: Option<String> = c
                .prepare_cached(
                    "SELECT settings FROM env_settings WHERE workspace_id = ?1 AND env = ?2",
                )?
                .query_row(params![scope.workspace_id, scope.env.as_str()], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(match json {
                Some(j) => serde_json::from_str(&j)?,
                None => EnvSettings::default(),
            })
        })
        .await
    }

    async fn put_env_settings(&self, scope: &Scope, settings: &EnvSettings) -> StoreResult<()> {
        let scope = scope.clone();
        let json = serde_json::to_string(settings)?;
        self.write(move |c| {
            c.execute(
                "INSERT INTO env_settings (workspace_id, env, settings) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workspace_id, env) DO UPDATE SET settings = excluded.settings",
                params![scope.workspace_id, scope.env.as_str(), json],
            )?;
            Ok(())
        })
        .await
    }

    async fn token_key(&self) -> StoreResult<Vec<u8>> {
        self.sql_token_key().await
    }

    async fn record_identification(&self, rec: NewIdentification) -> StoreResult<()> {
        self.sql_record_identification(rec).await
    }

    async fn profiles_page(
        &self,
        after_visitor_id: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<StoredProfile>> {
        self.sql_profiles_page(after_visitor_id, limit).await
    }

    async fn event(
        &self,
        scope: &Scope,
        request_id: &str,
        floor: i64,
    ) -> StoreResult<Option<EventRow>> {
        self.sql_event(scope, request_id, floor).await
    }

    async fn events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Vec<EventRow>> {
        self.sql_events(scope, query).await
    }

    async fn visitor(
        &self,
        scope: &Scope,
        visitor_id: &str,
        floor: i64,
    ) -> StoreResult<Option<VisitorSummary>> {
        self.sql_visitor(scope, visitor_id, floor).await
    }

    async fn delete_visitor(&self, scope: &Scope, visitor_id: &str) -> StoreResult<bool> {
        self.sql_delete_visitor(scope, visitor_id).await
    }

    async fn purge_events_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.sql_purge_events_before(floor_ms).await
    }

    async fn claim_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        request_hash: [u8; 32],
        now_ms: i64,
        ttl_ms: i64,
        stale_ms: i64,
    ) -> StoreResult<IdempotencyClaim> {
        self.sql_claim_idempotency_key(
            owner,
            key.to_owned(),
            request_hash,
            now_ms,
            ttl_ms,
            stale_ms,
        )
        .await
    }

    async fn settle_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        response: Option<StoredResponse>,
    ) -> StoreResult<()> {
        self.sql_settle_idempotency_key(owner, key.to_owned(), response)
            .await
    }

    async fn purge_idempotency_keys_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.sql_purge_idempotency_keys_before(floor_ms).await
    }

    async fn create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        self.sql_create_rule(scope, rule, now_ms).await
    }

    async fn rules(
        &self,
        scope: &Scope,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<RuleRecord>, usize)> {
        self.sql_rules(scope, status, limit, offset).await
    }

    async fn rule(&self, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>> {
        self.sql_rule(scope, id).await
    }

    async fn rule_versions(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<Vec<RuleVersion>>> {
        self.sql_rule_versions(scope, id).await
    }

    async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        self.sql_update_rule(scope, id, change, now_ms).await
    }

    async fn delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        self.sql_delete_rule(scope, id).await
    }

    async fn create_list(
        &self,
        scope: &Scope,
        list: NewList,
        now_ms: i64,
    ) -> StoreResult<ListRecord> {
        self.sql_create_list(scope, list, now_ms).await
    }

    async fn lists(
        &self,
        scope: &Scope,
        list_type: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListRecord>, usize)> {
        self.sql_lists(scope, list_type, limit, offset).await
    }

    async fn list(&self, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>> {
        self.sql_list(scope, id).await
    }

    async fn list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        search: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListEntry>, usize)> {
        self.sql_list_entries(scope, list_id, search, limit, offset)
            .await
    }

    async fn change_list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        change: EntryChange,
        outbox: Option<OutboxItem>,
        now_ms: i64,
    ) -> StoreResult<EntryOutcome> {
        self.sql_change_entries(scope, list_id, change, outbox, now_ms)
            .await
    }

    async fn delete_list(
        &self,
        scope: &Scope,
        id: &str,
        outbox: Option<OutboxItem>,
    ) -> StoreResult<bool> {
        self.sql_delete_list(scope, id, outbox).await
    }

    async fn all_list_entries(
        &self,
        scope: &Scope,
    ) -> StoreResult<Vec<(ListRecord, Vec<ListEntry>)>> {
        self.sql_all_list_entries(scope).await
    }

    async fn events_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<RawEvent>> {
        self.sql_events_ascending(scope, from_ms, after, limit)
            .await
    }

    async fn linked_uses_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<LinkedUse>> {
        self.sql_linked_uses_ascending(scope, from_ms, after, limit)
            .await
    }

    async fn create_webhook(&self, rec: WebhookRecord) -> StoreResult<WebhookRecord> {
        self.sql_create_webhook(rec).await
    }

    async fn webhooks(
        &self,
        scope: Option<Scope>,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<WebhookRecord>, usize)> {
        self.sql_webhooks(scope, status, limit, offset).await
    }

    async fn webhook(&self, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>> {
        self.sql_webhook(scope, id).await
    }

    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord> {
        self.sql_update_webhook(scope, id, change, now_ms).await
    }

    async fn delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        self.sql_delete_webhook(scope, id).await
    }

    async fn claim_deliveries(
        &self,
        webhook_id: &str,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.sql_claim_deliveries(webhook_id, now_ms, limit, lease_ms)
            .await
    }

    async fn record_attempts(
        &self,
        batch: Vec<(i64, AttemptRecord, DeliveryNext)>,
    ) -> StoreResult<()> {
        self.sql_record_attempts(batch).await
    }

    async fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<DeliveryRecord>, usize)> {
        self.sql_deliveries(scope, webhook_id, limit, offset).await
    }

    async fn redeliver(
        &self,
        scope: &Scope,
        webhook_id: &str,
        delivery_id: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.sql_redeliver(scope, webhook_id, delivery_id, now_ms)
            .await
    }

    async fn enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()> {
        self.sql_enqueue(scope, item).await
    }

    async fn fan_out(&self, limit: usize) -> StoreResult<usize> {
        self.sql_fan_out(limit).await
    }

    async fn release_leases(&self) -> StoreResult<usize> {
        self.sql_release_leases().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn close(&self) -> StoreResult<()> {
        self.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
