//! [`WorkspaceStore`] and [`KeyStore`] in SQL: workspaces, API keys (stored as digests) and
//! per-environment settings.

use async_trait::async_trait;
use prynt_core::{timefmt, EnvSettings, Environment, KeyType, Plan, PlanLimits, Scope};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::{
    ApiKeyRecord, AuthenticatedKey, KeyStore, NewApiKey, StoreError, StoreResult, Workspace,
    WorkspaceStore,
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
impl WorkspaceStore for SqliteStore {
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
            let ws = workspace_named(c, &name)?.ok_or(StoreError::NotFound)?;
            // The plan rides along with every cached key of the workspace.
            super::feed::note_marker(c, crate::feed::ChangedResource::Keys, &ws.id, None)?;
            Ok(ws)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
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
            let key = c.query_row(
                &format!("SELECT {KEY_COLS} FROM api_keys k WHERE k.id = ?1"),
                [&id],
                key_from_row,
            )?;
            super::feed::note_marker(
                c,
                crate::feed::ChangedResource::Keys,
                &key.workspace_id,
                Some(key.env),
            )?;
            Ok(key)
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
            super::feed::note_marker(
                c,
                crate::feed::ChangedResource::Settings,
                &scope.workspace_id,
                Some(scope.env),
            )?;
            Ok(())
        })
        .await
    }
}
