//! [`DeliveryQueue`]: the webhook outbox and its leased deliveries.

use async_trait::async_trait;
use prynt_core::Scope;

use crate::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryRecord, OutboxItem, StoreResult,
};

/// The outbox and delivery leases. A payload is queued in the transaction of its cause
/// (identification, list change) or by [`DeliveryQueue::enqueue`]; [`DeliveryQueue::fan_out`]
/// turns it into one delivery per subscribed webhook; workers lease due deliveries with
/// [`DeliveryQueue::claim_deliveries`], so that a delivery is handed to one worker at a time
/// and comes due again when its worker dies before recording an attempt.
#[async_trait]
pub trait DeliveryQueue: Send + Sync + 'static {
    /// Leases up to `limit` due deliveries (pending, due by `now_ms`, not leased, of an active
    /// webhook) of a webhook until `now_ms + lease_ms`, earliest due first. Concurrent claims,
    /// from any node, never return the same delivery while its lease runs.
    async fn claim_deliveries(
        &self,
        webhook_id: &str,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records attempts and their deliveries' new states (freeing their leases), in one
    /// transaction. A delivery cancelled meanwhile stays cancelled; an unknown one is skipped.
    async fn record_attempts(
        &self,
        batch: Vec<(i64, AttemptRecord, DeliveryNext)>,
    ) -> StoreResult<()>;
    /// A webhook's deliveries, newest first, with their attempts in order, and the total.
    async fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<DeliveryRecord>, usize)>;
    /// Makes a finished delivery pending again, due at `now_ms` (its retry window starts
    /// again); whether there was such a delivery that was not pending.
    async fn redeliver(
        &self,
        scope: &Scope,
        webhook_id: &str,
        delivery_id: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Queues a payload outside an identification (a test delivery). A payload no webhook
    /// wants is dropped.
    async fn enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()>;
    /// Turns up to `limit` queued payloads into one pending delivery per subscribed webhook
    /// that still exists; returns how many payloads it took.
    async fn fan_out(&self, limit: usize) -> StoreResult<usize>;
    /// Frees the leases no live worker can hold, at a node's start, and returns how many: in a
    /// store one process owns (SQLite), every lease, since its previous run's workers are gone;
    /// in a store several nodes share, none, since a lease may belong to another node that is
    /// delivering right now (a dead node's leases come due when they run out).
    async fn release_leases(&self) -> StoreResult<usize>;
}
