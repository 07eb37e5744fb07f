//! [`StoreLifecycle`] on PostgreSQL: the shared token key, health and shutdown.

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::PostgresStore;
use crate::{StoreLifecycle, StoreResult};

#[async_trait]
impl StoreLifecycle for PostgresStore {
    async fn token_key(&self) -> StoreResult<Vec<u8>> {
        let conn = self.conn().await?;
        Ok(conn
            .query_one(
                "SELECT value FROM server_secrets WHERE name = 'token_key'",
                &[],
            )
            .await?
            .try_get(0)?)
    }

    /// The replaced row version stays in the table's heap until VACUUM reclaims it (PostgreSQL
    /// keeps old row versions for concurrent readers); the operations guide says so.
    async fn replace_token_key(&self, current: &[u8], new: &[u8]) -> StoreResult<bool> {
        let conn = self.conn().await?;
        let changed = conn
            .execute(
                "UPDATE server_secrets SET value = $1 WHERE name = 'token_key' AND value = $2",
                &[&new, &current],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn ping(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        conn.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Every acknowledged write has already committed (PostgreSQL made it durable), so closing
    /// only refuses new calls and closes the idle connections; calls under way finish.
    async fn close(&self) -> StoreResult<()> {
        self.closed.store(true, Ordering::Release);
        self.pool.close();
        // Lets the notifier see the closed pool and end.
        self.identified.notify_one();
        if let Some(lock) = self.node_lock.lock().ok().and_then(|mut l| l.take()) {
            lock.abort();
        }
        Ok(())
    }
}
