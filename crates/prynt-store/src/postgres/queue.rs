//! [`DeliveryQueue`] on PostgreSQL: the outbox, its fan-out into deliveries and the delivery
//! leases, shared by the delivery workers of every node. Claims and fan-out take rows with
//! `FOR UPDATE SKIP LOCKED`, so workers on several nodes never take the same row and never
//! wait on each other.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::{timefmt, Scope};

use super::PostgresStore;
use crate::merge;
use crate::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryQueue, DeliveryRecord, OutboxItem,
    StoreResult,
};

/// Writes one outbox payload inside the caller's transaction, as one small `fanout` row that
/// the delivery workers later turn into one delivery per webhook, off the identification path.
/// A payload no webhook wants is not written at all.
pub(crate) async fn insert_outbox(
    c: &impl GenericClient,
    scope: &Scope,
    item: &OutboxItem,
) -> StoreResult<()> {
    if item.webhook_ids.is_empty() {
        return Ok(());
    }
    let outbox_id = if item.request_id.is_none() {
        let st = c
            .prepare_cached(
                "INSERT INTO outbox (id, workspace_id, env, kind, payload, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        c.execute(
            &st,
            &[
                &item.id,
                &scope.workspace_id,
                &scope.env.as_str(),
                &item.kind,
                &item.payload,
                &item.created_ms,
            ],
        )
        .await?;
        Some(item.id.as_str())
    } else {
        None
    };
    let st = c
        .prepare_cached(
            "INSERT INTO fanout (workspace_id, env, kind, payload_id, outbox_id, request_id,
                                 webhook_ids, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    c.execute(
        &st,
        &[
            &scope.workspace_id,
            &scope.env.as_str(),
            &item.kind,
            &item.id,
            &outbox_id,
            &item.request_id,
            &item.webhook_ids,
            &item.created_ms,
        ],
    )
    .await?;
    Ok(())
}

/// The payload of an identification delivery: the stored event exactly as
/// `GET /v1/events/{id}` shows it (`firstSeenAt` included) as the `data` of the envelope.
fn identification_payload(
    payload_id: &str,
    kind: &str,
    created_ms: i64,
    body: &str,
    first_seen_ms: Option<i64>,
) -> StoreResult<String> {
    let mut data: serde_json::Value = serde_json::from_str(body)?;
    if let Some(fields) = data.as_object_mut() {
        fields.insert(
            "firstSeenAt".into(),
            first_seen_ms.map_or(serde_json::Value::Null, |ms| {
                serde_json::Value::String(timefmt::rfc3339(ms.div_euclid(1000)))
            }),
        );
    }
    let envelope = serde_json::json!({
        "id": payload_id,
        "event": kind,
        "createdAt": timefmt::rfc3339(created_ms.div_euclid(1000)),
        "data": data,
    });
    Ok(envelope.to_string())
}

#[async_trait]
impl DeliveryQueue for PostgresStore {
    async fn claim_deliveries(
        &self,
        webhook_id: &str,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(
                "WITH due AS (
                    SELECT d.id FROM deliveries d
                    WHERE d.webhook_id = $1 AND d.status = 'pending' AND d.next_attempt_ms <= $2
                      AND d.lease_until_ms <= $2
                      AND EXISTS (SELECT 1 FROM webhooks w
                                  WHERE w.id = d.webhook_id AND w.status = 'active')
                    ORDER BY d.next_attempt_ms, d.id LIMIT $3
                    FOR UPDATE OF d SKIP LOCKED
                 ),
                 leased AS (
                    UPDATE deliveries d SET lease_until_ms = $2 + $4, lease_owner = $5
                    FROM due WHERE d.id = due.id
                    RETURNING d.id, d.kind, d.payload_id, d.outbox_id, d.request_id, d.attempts,
                              d.created_ms, d.next_attempt_ms
                 )
                 SELECT l.id, l.kind, l.payload_id, o.payload, e.body, e.first_seen_ms,
                        l.outbox_id IS NOT NULL, l.attempts, l.created_ms
                 FROM leased l
                 LEFT JOIN outbox o ON o.id = l.outbox_id
                 LEFT JOIN events e ON e.request_id = l.request_id
                 ORDER BY l.next_attempt_ms, l.id",
            )
            .await?;
        let rows = conn
            .query(
                &st,
                &[
                    &webhook_id,
                    &now_ms,
                    &(limit.min(i64::MAX as usize) as i64),
                    &lease_ms,
                    &self.node_id,
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let payload_id: String = r.try_get(2)?;
            let kind: String = r.try_get(1)?;
            let created_ms: i64 = r.try_get(8)?;
            let from_outbox: bool = r.try_get(6)?;
            let payload = if from_outbox {
                r.try_get::<_, Option<String>>(3)?
            } else {
                match r.try_get::<_, Option<String>>(4)? {
                    Some(body) => Some(identification_payload(
                        &payload_id,
                        &kind,
                        created_ms,
                        &body,
                        r.try_get(5)?,
                    )?),
                    None => None,
                }
            };
            out.push(ClaimedDelivery {
                id: r.try_get(0)?,
                kind,
                payload_id,
                payload,
                attempts: r.try_get(7)?,
                created_ms,
            });
        }
        Ok(out)
    }

    async fn record_attempts(
        &self,
        batch: Vec<(i64, AttemptRecord, DeliveryNext)>,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // Rows locked in id order, as a webhook's deletion walks them, so the two never wait
        // on each other in a cycle. (A stable sort keeps one delivery's attempts in order.)
        let mut batch = batch;
        batch.sort_by_key(|(delivery_id, _, _)| *delivery_id);
        for (delivery_id, attempt, next) in batch {
            let Some(row) = tx
                .query_opt(
                    "SELECT webhook_id, attempts, status FROM deliveries WHERE id = $1 FOR UPDATE",
                    &[&delivery_id],
                )
                .await?
            else {
                continue;
            };
            let webhook_id: String = row.try_get(0)?;
            let attempts: i64 = row.try_get(1)?;
            let status: String = row.try_get(2)?;
            let state = merge::delivery_after_attempt(&status, next, attempt.at_ms);
            let status_code = attempt.status_code.map(i32::from);
            tx.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, webhook_id, at_ms,
                                                status_code, latency_ms, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &delivery_id,
                    &(attempts + 1),
                    &webhook_id,
                    &attempt.at_ms,
                    &status_code,
                    &(attempt.latency_ms.min(i64::MAX as u64) as i64),
                    &attempt.error,
                ],
            )
            .await?;
            tx.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_attempt_ms = $2,
                        last_status = $3, last_error = $4, next_attempt_ms = $5,
                        lease_until_ms = 0, lease_owner = NULL, status = $6
                 WHERE id = $1",
                &[
                    &delivery_id,
                    &attempt.at_ms,
                    &status_code,
                    &attempt.error,
                    &state.next_attempt_ms,
                    &state.status,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<DeliveryRecord>, usize)> {
        let (ws, env) = (&scope.workspace_id, scope.env.as_str());
        let conn = self.conn().await?;
        let total: i64 = conn
            .query_one(
                "SELECT count(*) FROM deliveries
                 WHERE webhook_id = $1 AND workspace_id = $2 AND env = $3",
                &[&webhook_id, ws, &env],
            )
            .await?
            .try_get(0)?;
        let rows = conn
            .query(
                "SELECT id, kind, payload_id, status, next_attempt_ms, created_ms FROM deliveries
                 WHERE webhook_id = $1 AND workspace_id = $2 AND env = $3
                 ORDER BY id DESC LIMIT $4 OFFSET $5",
                &[
                    &webhook_id,
                    ws,
                    &env,
                    &(limit.min(i64::MAX as usize) as i64),
                    &(offset.min(i64::MAX as usize) as i64),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let status: String = r.try_get(3)?;
            let next: i64 = r.try_get(4)?;
            out.push(DeliveryRecord {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                payload_id: r.try_get(2)?,
                next_attempt_ms: (status == "pending").then_some(next),
                status,
                attempts: Vec::new(),
                created_ms: r.try_get(5)?,
            });
        }
        let ids: Vec<i64> = out.iter().map(|d| d.id).collect();
        if !ids.is_empty() {
            let attempts = conn
                .query(
                    "SELECT delivery_id, at_ms, status_code, latency_ms, error FROM delivery_attempts
                     WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
                    &[&ids],
                )
                .await?;
            for a in attempts {
                let delivery_id: i64 = a.try_get(0)?;
                let status_code: Option<i32> = a.try_get(2)?;
                let latency_ms: i64 = a.try_get(3)?;
                if let Some(d) = out.iter_mut().find(|d| d.id == delivery_id) {
                    d.attempts.push(AttemptRecord {
                        at_ms: a.try_get(1)?,
                        status_code: status_code.and_then(|s| u16::try_from(s).ok()),
                        latency_ms: latency_ms.max(0) as u64,
                        error: a.try_get(4)?,
                    });
                }
            }
        }
        Ok((out, total.max(0) as usize))
    }

    async fn redeliver(
        &self,
        scope: &Scope,
        webhook_id: &str,
        delivery_id: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let conn = self.conn().await?;
        // The 24-hour retry window starts again from the manual redelivery.
        Ok(conn
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_ms = $4, created_ms = $4,
                        lease_until_ms = 0, lease_owner = NULL
                 WHERE id = $1 AND webhook_id = $2 AND workspace_id = $3 AND env = $5
                   AND status <> 'pending'",
                &[
                    &delivery_id,
                    &webhook_id,
                    &scope.workspace_id,
                    &now_ms,
                    &scope.env.as_str(),
                ],
            )
            .await?
            > 0)
    }

    async fn enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        insert_outbox(&tx, scope, &item).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fan_out(&self, limit: usize) -> StoreResult<usize> {
        let conn = self.conn().await?;
        // One statement: the payloads taken (skipping those another node is fanning out right
        // now) are deleted and become one delivery per webhook that still exists, in order.
        let st = conn
            .prepare_cached(
                "WITH taken AS (
                    DELETE FROM fanout WHERE seq IN
                        (SELECT seq FROM fanout ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
                    RETURNING *
                 ),
                 made AS (
                    INSERT INTO deliveries (webhook_id, workspace_id, env, kind, payload_id,
                                            outbox_id, request_id, status, next_attempt_ms,
                                            created_ms)
                    SELECT u.webhook_id, t.workspace_id, t.env, t.kind, t.payload_id,
                           t.outbox_id, t.request_id, 'pending', t.created_ms, t.created_ms
                    FROM taken t
                    CROSS JOIN LATERAL unnest(t.webhook_ids) WITH ORDINALITY AS u(webhook_id, n)
                    WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = u.webhook_id)
                    ORDER BY t.seq, u.n
                    RETURNING 1
                 )
                 SELECT count(*) FROM taken",
            )
            .await?;
        let taken: i64 = conn
            .query_one(&st, &[&(limit.min(i64::MAX as usize) as i64)])
            .await?
            .try_get(0)?;
        Ok(taken.max(0) as usize)
    }

    /// Frees the leases no live worker holds: this node's own (its workers are starting) and
    /// those of nodes that are gone, whose lock PostgreSQL dropped with their connection. A live
    /// node's leases stay: it is still delivering them.
    async fn release_leases(&self) -> StoreResult<usize> {
        let conn = self.conn().await?;
        let freed = conn
            .execute(
                "UPDATE deliveries d SET lease_until_ms = 0, lease_owner = NULL
                 WHERE d.status = 'pending' AND d.lease_until_ms > 0
                   AND (d.lease_owner IS NULL OR d.lease_owner = $2 OR NOT EXISTS (
                        SELECT 1 FROM pg_locks l
                        WHERE l.locktype = 'advisory' AND l.granted
                          AND l.database = (SELECT oid FROM pg_database
                                            WHERE datname = current_database())
                          AND l.classid::bigint = $1 AND l.objid::bigint = d.lease_owner
                          AND l.objsubid = 2))",
                &[&i64::from(super::liveness::NODE_LOCK_CLASS), &self.node_id],
            )
            .await?;
        Ok(freed as usize)
    }
}
