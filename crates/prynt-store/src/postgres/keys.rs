//! [`KeyStore`] on PostgreSQL: API keys and per-environment settings.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::{timefmt, EnvSettings, Environment, KeyType, Scope};
use tokio_postgres::Row;

use super::workspaces::{workspace_from_row, WORKSPACE_COLS};
use super::PostgresStore;
use crate::{ApiKeyRecord, AuthenticatedKey, KeyStore, NewApiKey, StoreError, StoreResult};

const KEY_COLS: &str =
    "k.id, k.workspace_id, k.env, k.key_type, k.display_prefix, k.created_at, k.revoked_at";

/// Serialises the first-start check of [`KeyStore::create_initial_keys`] between nodes
/// (the bytes of `prynt key`).
const INITIAL_KEYS_LOCK: i64 = 0x7072_796e_7420_6b65;

fn key_from_row(row: &Row) -> StoreResult<ApiKeyRecord> {
    let env: String = row.try_get(2)?;
    let kt: String = row.try_get(3)?;
    Ok(ApiKeyRecord {
        id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        env: Environment::parse(&env)
            .ok_or_else(|| StoreError::Backend(format!("unknown environment {env:?}")))?,
        key_type: KeyType::parse(&kt)
            .ok_or_else(|| StoreError::Backend(format!("unknown key type {kt:?}")))?,
        display_prefix: row.try_get(4)?,
        created_at: row.try_get(5)?,
        revoked_at: row.try_get(6)?,
    })
}

async fn insert_key(
    conn: &impl GenericClient,
    key: &NewApiKey,
    now: i64,
) -> StoreResult<ApiKeyRecord> {
    conn.execute(
        "INSERT INTO api_keys (id, workspace_id, env, key_type, key_hash, display_prefix, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &key.id,
            &key.workspace_id,
            &key.env.as_str(),
            &key.key_type.as_str(),
            &key.key_hash.as_slice(),
            &key.display_prefix,
            &now,
        ],
    )
    .await?;
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
impl KeyStore for PostgresStore {
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord> {
        let conn = self.conn().await?;
        insert_key(&conn, &key, timefmt::now_unix()).await
    }

    async fn create_initial_keys(&self, keys: Vec<NewApiKey>) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // Nodes starting together on an empty database take turns here, so only the first
        // finds no key.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INITIAL_KEYS_LOCK])
            .await?;
        let existing: i64 = tx
            .query_one("SELECT count(*) FROM api_keys", &[])
            .await?
            .try_get(0)?;
        if existing > 0 {
            return Ok(false);
        }
        let now = timefmt::now_unix();
        for key in &keys {
            insert_key(&tx, key, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<AuthenticatedKey>> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLS}, k.key_hash, {WORKSPACE_COLS}
                 FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
            ))
            .await?;
        let Some(row) = conn.query_opt(&st, &[&key_hash.as_slice()]).await? else {
            return Ok(None);
        };
        Ok(Some(AuthenticatedKey {
            key: key_from_row(&row)?,
            key_hash: row.try_get(7)?,
            workspace: workspace_from_row(&row, 8)?,
        }))
    }

    async fn list_api_keys(&self, workspace_id: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        let conn = self.conn().await?;
        conn.query(
            &format!(
                "SELECT {KEY_COLS} FROM api_keys k
                 WHERE ($1::text IS NULL OR k.workspace_id = $1) ORDER BY k.created_at, k.id"
            ),
            &[&workspace_id],
        )
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn revoke_api_key(&self, key_id: &str) -> StoreResult<ApiKeyRecord> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            &[&timefmt::now_unix(), &key_id],
        )
        .await?;
        let row = tx
            .query_opt(
                &format!("SELECT {KEY_COLS} FROM api_keys k WHERE k.id = $1"),
                &[&key_id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let key = key_from_row(&row)?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Keys,
            &key.workspace_id,
            Some(key.env),
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn env_settings(&self, scope: &Scope) -> StoreResult<EnvSettings> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(
                "SELECT settings FROM env_settings WHERE workspace_id = $1 AND env = $2",
            )
            .await?;
        match conn
            .query_opt(&st, &[&scope.workspace_id, &scope.env.as_str()])
            .await?
        {
            Some(row) => Ok(serde_json::from_str(&row.try_get::<_, String>(0)?)?),
            None => Ok(EnvSettings::default()),
        }
    }

    async fn put_env_settings(&self, scope: &Scope, settings: &EnvSettings) -> StoreResult<()> {
        let json = serde_json::to_string(settings)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "INSERT INTO env_settings (workspace_id, env, settings) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id, env) DO UPDATE SET settings = EXCLUDED.settings",
            &[&scope.workspace_id, &scope.env.as_str(), &json],
        )
        .await?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Settings,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
