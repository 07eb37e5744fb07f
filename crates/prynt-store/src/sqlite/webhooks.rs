//! [`WebhookStore`] in SQL: subscriptions with sealed secrets and the per-webhook figures the
//! API shows (success rate over 7 days, last delivery). What an update makes of a webhook is
//! [`crate::merge`]'s to say.

use async_trait::async_trait;
use prynt_core::{Environment, Scope};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::merge;
use crate::{StoreError, StoreResult, WebhookChange, WebhookRecord, WebhookStore};

const WEBHOOK_COLS: &str = "w.id, w.workspace_id, w.env, w.url, w.description, w.events, w.filters, \
     w.status, w.secret, w.old_secret, w.old_secret_until_ms, w.created_ms, w.updated_ms, \
     (SELECT CAST(sum(a.status_code BETWEEN 200 AND 299) AS REAL) / COUNT(*) FROM delivery_attempts a \
        WHERE a.webhook_id = w.id AND a.at_ms >= :since), \
     (SELECT max(a.at_ms) FROM delivery_attempts a WHERE a.webhook_id = w.id)";

fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<WebhookRecord> {
    let env: String = r.get(2)?;
    Ok(WebhookRecord {
        id: r.get(0)?,
        scope: Scope {
            workspace_id: r.get(1)?,
            env: Environment::parse(&env).unwrap_or(Environment::Test),
        },
        url: r.get(3)?,
        description: r.get(4)?,
        events: r.get(5)?,
        filters: r.get(6)?,
        status: r.get(7)?,
        secret: r.get(8)?,
        old_secret: r.get(9)?,
        old_secret_until_ms: r.get(10)?,
        created_ms: r.get(11)?,
        updated_ms: r.get(12)?,
        success_rate: r.get(13)?,
        last_delivery_ms: r.get(14)?,
    })
}

fn since() -> i64 {
    prynt_core::timefmt::now_unix_ms() - 7 * 86_400_000
}

fn webhook_in(c: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks w WHERE w.id = :id AND w.workspace_id = :ws AND w.env = :env"
    ))?
    .query_row(
        rusqlite::named_params! {":id": id, ":ws": scope.workspace_id, ":env": scope.env.as_str(), ":since": since()},
        webhook_from_row,
    )
    .optional()?)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, rec: WebhookRecord) -> StoreResult<WebhookRecord> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO webhooks (id, workspace_id, env, url, description, events, filters, status, secret,
                                       created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    rec.id,
                    rec.scope.workspace_id,
                    rec.scope.env.as_str(),
                    rec.url,
                    rec.description,
                    rec.events,
                    rec.filters,
                    rec.status,
                    rec.secret,
                    rec.created_ms
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::DuplicateId,
                other => other,
            })?;
            super::feed::note_marker(c, crate::feed::ChangedResource::Webhooks, &rec.scope.workspace_id, Some(rec.scope.env))?;
            Ok(rec)
        })
        .await
    }

    async fn webhooks(
        &self,
        scope: Option<Scope>,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<WebhookRecord>, usize)> {
        self.read(move |c| {
            let (ws, env) = match &scope {
                Some(s) => (Some(s.workspace_id.clone()), Some(s.env.as_str())),
                None => (None, None),
            };
            let filter = "(:ws IS NULL OR (w.workspace_id = :ws AND w.env = :env)) AND (:status IS NULL OR w.status = :status)";
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM webhooks w WHERE {filter}"))?
                .query_row(
                    rusqlite::named_params! {":ws": ws, ":env": env, ":status": status},
                    |r| r.get(0),
                )?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLS} FROM webhooks w WHERE {filter}
                 ORDER BY w.created_ms, w.id LIMIT :limit OFFSET :offset"
            ))?;
            let rows = st
                .query_map(
                    rusqlite::named_params! {
                        ":ws": ws, ":env": env, ":status": status, ":since": since(),
                        ":limit": limit.min(i64::MAX as usize) as i64, ":offset": offset as i64,
                    },
                    webhook_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, total as usize))
        })
        .await
    }

    async fn webhook(&self, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| webhook_in(c, &scope, &id)).await
    }

    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let current = webhook_in(c, &scope, &id)?.ok_or(StoreError::NotFound)?;
            let rec = merge::apply_webhook_change(&current, change, now_ms);
            c.execute(
                "UPDATE webhooks SET url = ?2, description = ?3, events = ?4, filters = ?5, status = ?6,
                        secret = ?7, old_secret = ?8, old_secret_until_ms = ?9, updated_ms = ?10 WHERE id = ?1",
                params![
                    rec.id,
                    rec.url,
                    rec.description,
                    rec.events,
                    rec.filters,
                    rec.status,
                    rec.secret,
                    rec.old_secret,
                    rec.old_secret_until_ms,
                    rec.updated_ms
                ],
            )?;
            super::feed::note_marker(c, crate::feed::ChangedResource::Webhooks, &scope.workspace_id, Some(scope.env))?;
            Ok(rec)
        })
        .await
    }

    async fn delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM webhooks WHERE id = ?1 AND workspace_id = ?2 AND env = ?3",
                params![id, scope.workspace_id, scope.env.as_str()],
            )?;
            if n > 0 {
                // Pending deliveries are cancelled in the same transaction.
                c.execute(
                    "UPDATE deliveries SET status = 'cancelled' WHERE webhook_id = ?1 AND status = 'pending'",
                    [&id],
                )?;
                super::feed::note_marker(c, crate::feed::ChangedResource::Webhooks, &scope.workspace_id, Some(scope.env))?;
            }
            Ok(n > 0)
        })
        .await
    }
}
