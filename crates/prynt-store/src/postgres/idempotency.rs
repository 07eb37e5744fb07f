//! [`IdempotencyStore`] on PostgreSQL: one row per caller credential and key. A claim inserts
//! the row when there is none (`ON CONFLICT DO NOTHING`), and otherwise locks it and decides
//! with [`crate::merge::decide_idempotency_claim`], so two requests racing with one key, on any
//! nodes, never both run.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::PostgresStore;
use crate::merge::{self, StoredClaim};
use crate::{IdempotencyClaim, IdempotencyStore, StoreError, StoreResult, StoredResponse};

/// Attempts at a claim whose row vanishes between the insert and the lock (released by a
/// failed request meanwhile); each such round means another request made progress.
const CLAIM_ROUNDS: usize = 4;

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn claim_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        request_hash: [u8; 32],
        now_ms: i64,
        ttl_ms: i64,
        stale_ms: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let mut conn = self.conn().await?;
        for _ in 0..CLAIM_ROUNDS {
            let tx = conn.transaction().await?;
            let inserted = tx
                .execute(
                    "INSERT INTO idempotency_keys (owner, idem_key, request_hash, created_ms)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&owner.as_slice(), &key, &request_hash.as_slice(), &now_ms],
                )
                .await?;
            if inserted == 1 {
                tx.commit().await?;
                return Ok(IdempotencyClaim::Claimed);
            }
            let Some(row) = tx
                .query_opt(
                    "SELECT request_hash, created_ms, status, headers, body FROM idempotency_keys
                     WHERE owner = $1 AND idem_key = $2 FOR UPDATE",
                    &[&owner.as_slice(), &key],
                )
                .await?
            else {
                continue;
            };
            let status: Option<i32> = row.try_get(2)?;
            let headers: Option<String> = row.try_get(3)?;
            let body: Option<Vec<u8>> = row.try_get(4)?;
            let stored = StoredClaim {
                request_hash: row.try_get(0)?,
                created_ms: row.try_get(1)?,
                response: status.map(|status| StoredResponse {
                    status: u16::try_from(status).unwrap_or(200),
                    headers: headers
                        .and_then(|h| serde_json::from_str(&h).ok())
                        .unwrap_or_default(),
                    body: body.unwrap_or_default(),
                }),
            };
            let decision = merge::decide_idempotency_claim(
                Some(stored),
                &request_hash,
                now_ms,
                ttl_ms,
                stale_ms,
            );
            if decision == IdempotencyClaim::Claimed {
                tx.execute(
                    "UPDATE idempotency_keys SET request_hash = $3, created_ms = $4,
                            status = NULL, headers = NULL, body = NULL
                     WHERE owner = $1 AND idem_key = $2",
                    &[&owner.as_slice(), &key, &request_hash.as_slice(), &now_ms],
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(decision);
        }
        Err(StoreError::Unavailable(
            "the idempotency key kept changing under the claim".into(),
        ))
    }

    async fn settle_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        response: Option<StoredResponse>,
    ) -> StoreResult<()> {
        let conn = self.conn().await?;
        match response {
            Some(r) => {
                conn.execute(
                    "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
                     WHERE owner = $1 AND idem_key = $2",
                    &[
                        &owner.as_slice(),
                        &key,
                        &i32::from(r.status),
                        &serde_json::to_string(&r.headers)?,
                        &r.body,
                    ],
                )
                .await?;
            }
            None => {
                conn.execute(
                    "DELETE FROM idempotency_keys
                     WHERE owner = $1 AND idem_key = $2 AND status IS NULL",
                    &[&owner.as_slice(), &key],
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn purge_idempotency_keys_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.delete_in_batches("idempotency_keys", "created_ms", floor_ms)
            .await
    }
}
