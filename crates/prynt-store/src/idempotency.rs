//! [`IdempotencyStore`]: `Idempotency-Key` claims and the responses kept for replay.

use async_trait::async_trait;

use crate::{IdempotencyClaim, StoreResult, StoredResponse};

/// One claim per caller credential (`owner`, hashed) and key.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` of `owner` for a request whose method, path and body hash to
    /// `request_hash`, atomically. A claim older than `ttl_ms` is forgotten (claimed anew); a
    /// different request under a live key is a `Mismatch`; an answered one is replayed; one
    /// still unanswered after `stale_ms` was abandoned (its server stopped) and is taken over;
    /// a younger unanswered one is `InFlight`.
    async fn claim_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        request_hash: [u8; 32],
        now_ms: i64,
        ttl_ms: i64,
        stale_ms: i64,
    ) -> StoreResult<IdempotencyClaim>;
    /// Settles a claim: keeps `response` for replays, or, with `None` (the request failed),
    /// releases an unanswered key so that a retry runs again.
    async fn settle_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        response: Option<StoredResponse>,
    ) -> StoreResult<()>;
    /// Deletes the keys claimed before `floor_ms`; how many.
    async fn purge_idempotency_keys_before(&self, floor_ms: i64) -> StoreResult<usize>;
}
