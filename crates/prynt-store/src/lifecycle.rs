//! [`StoreLifecycle`]: what a store is as a whole: its shared token key, health and shutdown.

use async_trait::async_trait;

use crate::StoreResult;

#[async_trait]
pub trait StoreLifecycle: Send + Sync + 'static {
    /// The key that signs visitor tokens: created with the store, the same for every node of
    /// it and across restarts.
    async fn token_key(&self) -> StoreResult<Vec<u8>>;
    /// Replaces the stored token key with `new` if it is still `current` (the server seals a
    /// key stored in the clear this way; of several nodes doing it at once, one wins). Says
    /// whether it replaced it. The value it replaced leaves no copy in the store's files that
    /// the store can remove (on SQLite, not in the write-ahead log either).
    async fn replace_token_key(&self, current: &[u8], new: &[u8]) -> StoreResult<bool>;
    /// Whether the store answers queries (used by `/readyz`); `Unavailable` when it cannot be
    /// reached.
    async fn ping(&self) -> StoreResult<()>;
    /// Waits for every queued write to be durable, then stops accepting writes: later calls
    /// fail with `Closed`.
    async fn close(&self) -> StoreResult<()>;
}
