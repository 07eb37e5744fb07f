//! [`IdempotencyStore`] in SQL: one row per caller credential and key, holding the hash of the
//! request it was first used for and, once answered, the response to replay. What a claim
//! finds is [`crate::merge::decide_idempotency_claim`]'s to say.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::merge::{self, StoredClaim};
use crate::{IdempotencyClaim, IdempotencyStore, StoreResult, StoredResponse};

type Row = (Vec<u8>, i64, Option<i64>, Option<String>, Option<Vec<u8>>);

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        request_hash: [u8; 32],
        now_ms: i64,
        ttl_ms: i64,
        stale_ms: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let key = key.to_owned();
        self.write(move |c| {
            let row: Option<Row> = c
                .prepare_cached(
                    "SELECT request_hash, created_ms, status, headers, body
                     FROM idempotency_keys WHERE owner = ?1 AND idem_key = ?2",
                )?
                .query_row(params![&owner[..], key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let stored = row.map(
                |(request_hash, created_ms, status, headers, body)| StoredClaim {
                    request_hash,
                    created_ms,
                    response: status.map(|status| StoredResponse {
                        status: u16::try_from(status).unwrap_or(200),
                        headers: headers
                            .and_then(|h| serde_json::from_str(&h).ok())
                            .unwrap_or_default(),
                        body: body.unwrap_or_default(),
                    }),
                },
            );
            let claim =
                merge::decide_idempotency_claim(stored, &request_hash, now_ms, ttl_ms, stale_ms);
            if claim == IdempotencyClaim::Claimed {
                c.prepare_cached(
                    "INSERT INTO idempotency_keys (owner, idem_key, request_hash, created_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (owner, idem_key) DO UPDATE SET
                        request_hash = excluded.request_hash, created_ms = excluded.created_ms,
                        status = NULL, headers = NULL, body = NULL",
                )?
                .execute(params![&owner[..], key, &request_hash[..], now_ms])?;
            }
            Ok(claim)
        })
        .await
    }

    async fn settle_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        response: Option<StoredResponse>,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            match response {
                Some(r) => {
                    c.prepare_cached(
                        "UPDATE idempotency_keys SET status = ?3, headers = ?4, body = ?5
                         WHERE owner = ?1 AND idem_key = ?2",
                    )?
                    .execute(params![
                        &owner[..],
                        key,
                        r.status,
                        serde_json::to_string(&r.headers)?,
                        r.body
                    ])?;
                }
                None => {
                    c.prepare_cached(
                        "DELETE FROM idempotency_keys
                         WHERE owner = ?1 AND idem_key = ?2 AND status IS NULL",
                    )?
                    .execute(params![&owner[..], key])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn purge_idempotency_keys_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.write(move |c| {
            Ok(
                c.prepare_cached("DELETE FROM idempotency_keys WHERE created_ms < ?1")?
                    .execute(params![floor_ms])?,
            )
        })
        .await
    }
}
