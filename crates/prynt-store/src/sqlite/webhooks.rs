//! SQL of webhooks and their deliveries: subscriptions with sealed secrets, the due-delivery
//! claims of the delivery workers (leased, so a crashed worker's claims come due again), each
//! attempt's outcome, and the per-webhook figures the API shows.

use prynt_core::{Environment, Scope};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryRecord, OutboxItem, StoreError,
    StoreResult, WebhookChange, WebhookRecord,
};

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

/// The payload of a delivery: its outbox row, or the stored event wrapped as an
/// identification payload whose `data` is the event exactly as `GET /v1/events/{id}` shows it,
/// `firstSeenAt` included (`None` when the event was erased).
const PAYLOAD: &str = "CASE WHEN d.outbox_id IS NOT NULL THEN o.payload
       WHEN e.body IS NOT NULL THEN json_object('id', d.payload_id, 'event', d.kind,
            'createdAt', strftime('%Y-%m-%dT%H:%M:%SZ', d.created_ms / 1000, 'unixepoch'),
            'data', json_set(json(e.body), '$.firstSeenAt',
                CASE WHEN e.first_seen_ms IS NOT NULL
                     THEN strftime('%Y-%m-%dT%H:%M:%SZ', e.first_seen_ms / 1000, 'unixepoch') END))
       END";

impl SqliteStore {
    pub(crate) async fn sql_create_webhook(
        &self,
        rec: WebhookRecord,
    ) -> StoreResult<WebhookRecord> {
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
            Ok(rec)
        })
        .await
    }

    pub(crate) async fn sql_webhooks(
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

    pub(crate) async fn sql_webhook(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<WebhookRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| webhook_in(c, &scope, &id)).await
    }

    pub(crate) async fn sql_update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let mut rec = webhook_in(c, &scope, &id)?.ok_or(StoreError::NotFound)?;
            if let Some(v) = change.url {
                rec.url = v;
            }
            if let Some(v) = change.description {
                rec.description = v;
            }
            if let Some(v) = change.events {
                rec.events = v;
            }
            if let Some(v) = change.filters {
                rec.filters = v;
            }
            if let Some(v) = change.status {
                rec.status = v;
            }
            if let Some((new, old, until)) = change.rotate {
                rec.secret = new;
                rec.old_secret = Some(old);
                rec.old_secret_until_ms = Some(until);
            }
            rec.updated_ms = now_ms;
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
            Ok(rec)
        })
        .await
    }

    pub(crate) async fn sql_delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
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
            }
            Ok(n > 0)
        })
        .await
    }

    pub(crate) async fn sql_claim_deliveries(
        &self,
        webhook_id: &str,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let id = webhook_id.to_owned();
        self.write(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT d.id, d.kind, d.payload_id, {PAYLOAD}, d.attempts, d.created_ms
                 FROM deliveries d
                 LEFT JOIN outbox o ON o.id = d.outbox_id
                 LEFT JOIN events e ON e.request_id = d.request_id
                 WHERE d.webhook_id = ?1 AND d.status = 'pending' AND d.next_attempt_ms <= ?2
                   AND d.lease_until_ms <= ?2
                   AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.status = 'active')
                 ORDER BY d.next_attempt_ms LIMIT ?3"
            ))?;
            let rows = st
                .query_map(params![id, now_ms, limit as i64], |r| {
                    Ok(ClaimedDelivery {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        payload_id: r.get(2)?,
                        payload: r.get(3)?,
                        attempts: r.get(4)?,
                        created_ms: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut lease =
                c.prepare_cached("UPDATE deliveries SET lease_until_ms = ?2 WHERE id = ?1")?;
            for d in &rows {
                lease.execute(params![d.id, now_ms + lease_ms])?;
            }
            Ok(rows)
        })
        .await
    }

    pub(crate) async fn sql_record_attempts(
        &self,
        batch: Vec<(i64, AttemptRecord, DeliveryNext)>,
    ) -> StoreResult<()> {
        self.write(move |c| {
            for (delivery_id, attempt, next) in batch {
                record_one(c, delivery_id, attempt, next)?;
            }
            Ok(())
        })
        .await
    }
}

/// One attempt's row and its delivery's new state, inside the caller's transaction.
fn record_one(
    c: &Connection,
    delivery_id: i64,
    attempt: AttemptRecord,
    next: DeliveryNext,
) -> StoreResult<()> {
    let Some((webhook_id, attempts)): Option<(String, i64)> = c
        .prepare_cached("SELECT webhook_id, attempts FROM deliveries WHERE id = ?1")?
        .query_row([delivery_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    else {
        return Ok(());
    };
    c.prepare_cached(
        "INSERT INTO delivery_attempts (delivery_id, attempt, webhook_id, at_ms, status_code, latency_ms, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        delivery_id,
        attempts + 1,
        webhook_id,
        attempt.at_ms,
        attempt.status_code,
        attempt.latency_ms as i64,
        attempt.error
    ])?;
    let (status, next_ms) = match next {
        DeliveryNext::Succeeded => ("succeeded", attempt.at_ms),
        DeliveryNext::RetryAt(t) => ("pending", t),
        DeliveryNext::Failed => ("failed", attempt.at_ms),
    };
    // A delivery cancelled meanwhile (its webhook deleted) stays cancelled.
    c.prepare_cached(
        "UPDATE deliveries SET attempts = attempts + 1, last_attempt_ms = ?2, last_status = ?3,
                last_error = ?4, next_attempt_ms = ?5, lease_until_ms = 0,
                status = CASE WHEN status = 'cancelled' THEN status ELSE ?6 END
         WHERE id = ?1",
    )?
    .execute(params![
        delivery_id,
        attempt.at_ms,
        attempt.status_code,
        attempt.error,
        next_ms,
        status
    ])?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn sql_deliveries(
        &self,
        scope: &Scope,
        webhook_id: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<DeliveryRecord>, usize)> {
        let (scope, id) = (scope.clone(), webhook_id.to_owned());
        self.read(move |c| {
            let (ws, env) = (scope.workspace_id.as_str(), scope.env.as_str());
            let total: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM deliveries WHERE webhook_id = ?1 AND workspace_id = ?2 AND env = ?3",
                )?
                .query_row(params![id, ws, env], |r| r.get(0))?;
            let mut st = c.prepare_cached(
                "SELECT id, kind, payload_id, status, next_attempt_ms, created_ms FROM deliveries
                 WHERE webhook_id = ?1 AND workspace_id = ?2 AND env = ?3
                 ORDER BY id DESC LIMIT ?4 OFFSET ?5",
            )?;
            let mut rows = st
                .query_map(params![id, ws, env, limit as i64, offset as i64], |r| {
                    let status: String = r.get(3)?;
                    let next: i64 = r.get(4)?;
                    Ok(DeliveryRecord {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        payload_id: r.get(2)?,
                        next_attempt_ms: (status == "pending").then_some(next),
                        status,
                        attempts: Vec::new(),
                        created_ms: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut st = c.prepare_cached(
                "SELECT at_ms, status_code, latency_ms, error FROM delivery_attempts
                 WHERE delivery_id = ?1 ORDER BY attempt",
            )?;
            for d in &mut rows {
                d.attempts = st
                    .query_map([d.id], |r| {
                        Ok(AttemptRecord {
                            at_ms: r.get(0)?,
                            status_code: r.get(1)?,
                            latency_ms: r.get::<_, i64>(2)? as u64,
                            error: r.get(3)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
            }
            Ok((rows, total as usize))
        })
        .await
    }

    pub(crate) async fn sql_redeliver(
        &self,
        scope: &Scope,
        webhook_id: &str,
        delivery_id: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), webhook_id.to_owned());
        self.write(move |c| {
            // The 24-hour retry window starts again from the manual redelivery.
            Ok(c.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_ms = ?4, created_ms = ?4, lease_until_ms = 0
                 WHERE id = ?1 AND webhook_id = ?2 AND workspace_id = ?3 AND env = ?5 AND status <> 'pending'",
                params![delivery_id, id, scope.workspace_id, now_ms, scope.env.as_str()],
            )? > 0)
        })
        .await
    }

    pub(crate) async fn sql_enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()> {
        let scope = scope.clone();
        self.write(move |c| super::policy::insert_outbox(c, &scope, &item))
            .await
    }

    pub(crate) async fn sql_fan_out(&self, limit: usize) -> StoreResult<usize> {
        self.write(move |c| {
            let mut st = c.prepare_cached(
                "SELECT seq, workspace_id, env, kind, payload_id, outbox_id, request_id, webhook_ids, created_ms
                 FROM fanout ORDER BY seq LIMIT ?1",
            )?;
            type Row = (i64, String, String, String, String, Option<String>, Option<String>, String, i64);
            let rows = st
                .query_map([limit as i64], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })?
                .collect::<Result<Vec<Row>, _>>()?;
            // A webhook deleted since the event was queued gets nothing.
            let mut insert = c.prepare_cached(
                "INSERT INTO deliveries (webhook_id, workspace_id, env, kind, payload_id, outbox_id, request_id,
                                         status, next_attempt_ms, created_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8
                 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)",
            )?;
            let mut done = c.prepare_cached("DELETE FROM fanout WHERE seq = ?1")?;
            for (seq, ws, env, kind, payload_id, outbox_id, request_id, webhooks, created) in &rows {
                for webhook in webhooks.split(',').filter(|w| !w.is_empty()) {
                    insert.execute(params![
                        webhook, ws, env, kind, payload_id, outbox_id, request_id, created
                    ])?;
                }
                done.execute([seq])?;
            }
            Ok(rows.len())
        })
        .await
    }

    pub(crate) async fn sql_release_leases(&self) -> StoreResult<usize> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE deliveries SET lease_until_ms = 0 WHERE status = 'pending' AND lease_until_ms > 0",
                [],
            )?)
        })
        .await
    }
}
