//! [`WebhookStore`]: webhook subscriptions.

use async_trait::async_trait;
use prynt_core::Scope;

use crate::{StoreResult, WebhookChange, WebhookRecord};

/// Webhook subscriptions with their sealed secrets. Their deliveries live in the
/// [`crate::DeliveryQueue`].
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a webhook as given (its scope inside); `DuplicateId` if the id is taken.
    async fn create_webhook(&self, rec: WebhookRecord) -> StoreResult<WebhookRecord>;
    /// Webhooks of one scope (or of every scope, for the delivery workers), optionally of one
    /// status, oldest first, with the total count of that filter.
    async fn webhooks(
        &self,
        scope: Option<Scope>,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<WebhookRecord>, usize)>;
    async fn webhook(&self, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>>;
    /// Applies a change (computed by [`crate::merge::apply_webhook_change`]) atomically;
    /// `NotFound` when the scope has no such webhook.
    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord>;
    /// Deletes a webhook and cancels its pending deliveries in the same transaction.
    async fn delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool>;
}
