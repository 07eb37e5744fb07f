//! [`WebhookStore`] on PostgreSQL: webhook subscriptions with their sealed secrets and the
//! figures of their recent attempts.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::{Environment, Scope};
use tokio_postgres::Row;

use super::error::violated_constraint;
use super::PostgresStore;
use crate::merge;
use crate::{StoreError, StoreResult, WebhookChange, WebhookRecord, WebhookStore};

/// Webhook columns with the success rate of the attempts since `$1` and the last attempt.
const WEBHOOK_COLS: &str = "w.id, w.workspace_id, w.env, w.url, w.description, w.events, \
     w.filters, w.status, w.secret, w.old_secret, w.old_secret_until_ms, w.created_ms, \
     w.updated_ms, \
     (SELECT sum(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END)::float8 \
             / NULLIF(count(*), 0) \
        FROM delivery_attempts a WHERE a.webhook_id = w.id AND a.at_ms >= $1), \
     (SELECT max(a.at_ms) FROM delivery_attempts a WHERE a.webhook_id = w.id)";

fn webhook_from_row(r: &Row) -> StoreResult<WebhookRecord> {
    let env: String = r.try_get(2)?;
    Ok(WebhookRecord {
        id: r.try_get(0)?,
        scope: Scope {
            workspace_id: r.try_get(1)?,
            env: Environment::parse(&env).unwrap_or(Environment::Test),
        },
        url: r.try_get(3)?,
        description: r.try_get(4)?,
        events: r.try_get(5)?,
        filters: r.try_get(6)?,
        status: r.try_get(7)?,
        secret: r.try_get(8)?,
        old_secret: r.try_get(9)?,
        old_secret_until_ms: r.try_get(10)?,
        created_ms: r.try_get(11)?,
        updated_ms: r.try_get(12)?,
        success_rate: r.try_get(13)?,
        last_delivery_ms: r.try_get(14)?,
    })
}

/// Attempts of the last 7 days count towards a webhook's success rate.
fn since() -> i64 {
    prynt_core::timefmt::now_unix_ms() - 7 * 86_400_000
}

async fn webhook_in(
    c: &impl GenericClient,
    scope: &Scope,
    id: &str,
    lock: bool,
) -> StoreResult<Option<WebhookRecord>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks w
         WHERE w.id = $2 AND w.workspace_id = $3 AND w.env = $4{}",
        if lock { " FOR UPDATE OF w" } else { "" }
    );
    let st = c.prepare_cached(&sql).await?;
    c.query_opt(
        &st,
        &[&since(), &id, &scope.workspace_id, &scope.env.as_str()],
    )
    .await?
    .as_ref()
    .map(webhook_from_row)
    .transpose()
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(&self, rec: WebhookRecord) -> StoreResult<WebhookRecord> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO webhooks (id, workspace_id, env, url, description, events, filters,
                                       status, secret, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                &[
                    &rec.id,
                    &rec.scope.workspace_id,
                    &rec.scope.env.as_str(),
                    &rec.url,
                    &rec.description,
                    &rec.events,
                    &rec.filters,
                    &rec.status,
                    &rec.secret,
                    &rec.created_ms,
                ],
            )
            .await;
        match inserted {
            Ok(_) => {
                let scope = &rec.scope;
                self.note_marker(
                    &tx,
                    crate::ChangedResource::Webhooks,
                    &scope.workspace_id,
                    Some(scope.env),
                )
                .await?;
                tx.commit().await?;
                Ok(rec)
            }
            Err(e) if violated_constraint(&e).is_some() => Err(StoreError::DuplicateId),
            Err(e) => Err(e.into()),
        }
    }

    async fn webhooks(
        &self,
        scope: Option<Scope>,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<WebhookRecord>, usize)> {
        let (ws, env) = match &scope {
            Some(s) => (Some(s.workspace_id.clone()), Some(s.env.as_str())),
            None => (None, None),
        };
        let conn = self.conn().await?;
        let total: i64 = conn
            .query_one(
                "SELECT count(*) FROM webhooks w
                 WHERE ($1::text IS NULL OR (w.workspace_id = $1 AND w.env = $2::text))
                   AND ($3::text IS NULL OR w.status = $3)",
                &[&ws, &env, &status],
            )
            .await?
            .try_get(0)?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {WEBHOOK_COLS} FROM webhooks w
                     WHERE ($2::text IS NULL OR (w.workspace_id = $2 AND w.env = $3::text))
                       AND ($4::text IS NULL OR w.status = $4)
                     ORDER BY w.created_ms, w.id LIMIT $5 OFFSET $6"
                ),
                &[
                    &since(),
                    &ws,
                    &env,
                    &status,
                    &(limit.min(i64::MAX as usize) as i64),
                    &(offset.min(i64::MAX as usize) as i64),
                ],
            )
            .await?
            .iter()
            .map(webhook_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total.max(0) as usize))
    }

    async fn webhook(&self, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>> {
        let conn = self.conn().await?;
        webhook_in(&conn, scope, id, false).await
    }

    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let current = webhook_in(&tx, scope, id, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        let rec = merge::apply_webhook_change(&current, change, now_ms);
        tx.execute(
            "UPDATE webhooks SET url = $2, description = $3, events = $4, filters = $5,
                    status = $6, secret = $7, old_secret = $8, old_secret_until_ms = $9,
                    updated_ms = $10
             WHERE id = $1",
            &[
                &rec.id,
                &rec.url,
                &rec.description,
                &rec.events,
                &rec.filters,
                &rec.status,
                &rec.secret,
                &rec.old_secret,
                &rec.old_secret_until_ms,
                &rec.updated_ms,
            ],
        )
        .await?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Webhooks,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM webhooks WHERE id = $1 AND workspace_id = $2 AND env = $3",
                &[&id, &scope.workspace_id, &scope.env.as_str()],
            )
            .await?;
        if n > 0 {
            // Pending deliveries are cancelled in the same transaction, their rows locked in id
            // order as recording attempts locks them, so the two never wait in a cycle.
            tx.execute(
                "UPDATE deliveries SET status = 'cancelled'
                 WHERE id IN (SELECT id FROM deliveries
                              WHERE webhook_id = $1 AND status = 'pending'
                              ORDER BY id FOR UPDATE)",
                &[&id],
            )
            .await?;
            self.note_marker(
                &tx,
                crate::ChangedResource::Webhooks,
                &scope.workspace_id,
                Some(scope.env),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}
