//! [`DeliveryQueue`] in SQL: the outbox fan-out into deliveries, the due-delivery claims of the
//! delivery workers (leased, so a crashed worker's claims come due again), each attempt's
//! outcome, and manual redelivery.

use async_trait::async_trait;
use prynt_core::Scope;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::merge;
use crate::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryQueue, DeliveryRecord, OutboxItem,
    StoreResult,
};

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

/// One attempt's row and its delivery's new state, inside the caller's transaction.
fn record_one(
    c: &Connection,
    delivery_id: i64,
    attempt: AttemptRecord,
    next: DeliveryNext,
) -> StoreResult<()> {
    let Some((webhook_id, attempts, status)): Option<(String, i64, String)> = c
        .prepare_cached("SELECT webhook_id, attempts, status FROM deliveries WHERE id = ?1")?
        .query_row([delivery_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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
    let state = merge::delivery_after_attempt(&status, next, attempt.at_ms);
    c.prepare_cached(
        "UPDATE deliveries SET attempts = ?7, last_attempt_ms = ?2, last_status = ?3,
                last_error = ?4, next_attempt_ms = ?5, lease_until_ms = 0, status = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        delivery_id,
        attempt.at_ms,
        attempt.status_code,
        attempt.error,
        state.next_attempt_ms,
        state.status,
        attempts + 1
    ])?;
    Ok(())
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    async fn claim_deliveries(
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

    async fn record_attempts(
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

    async fn deliveries(
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

    async fn redeliver(
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

    async fn enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()> {
        let scope = scope.clone();
        self.write(move |c| super::decision::insert_outbox(c, &scope, &item))
            .await
    }

    async fn fan_out(&self, limit: usize) -> StoreResult<usize> {
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

    async fn release_leases(&self) -> StoreResult<usize> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE deliveries SET lease_until_ms = 0 WHERE status = 'pending' AND lease_until_ms > 0",
                [],
            )?)
        })
        .await
    }
}
