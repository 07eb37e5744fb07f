//! Which nodes of a shared database are alive: each store holds a session advisory lock named
//! by its node number on a connection of its own for as long as it runs. PostgreSQL drops the
//! lock with the connection when the process dies (even by SIGKILL), so a delivery leased by a
//! node whose lock is gone belongs to nobody and may be freed at once, while a live node's
//! leases are left alone.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use crate::StoreResult;

/// The first key of every node lock (the bytes of `pnod`); the second is the node number.
pub(crate) const NODE_LOCK_CLASS: i32 = 0x706e_6f64;

/// How long to wait before connecting again after the lock's connection broke.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// A fresh node number: positive, so that it reads the same as the `objid` of `pg_locks`.
pub(crate) fn new_node_id() -> i32 {
    let bytes = prynt_core::ids::random_bytes(4);
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & 0x7fff_ffff;
    n.max(1) as i32
}

/// A connection holding this node's lock: the client, and the connection's own future, which
/// must be polled for the connection to run. Dropping both closes it (and frees the lock).
type Held = (
    tokio_postgres::Client,
    std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
);

async fn lock(config: &tokio_postgres::Config, node: i32) -> StoreResult<Held> {
    let (client, connection) = config.connect(NoTls).await?;
    let mut connection: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(async move {
            let _ = connection.await;
        });
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&NODE_LOCK_CLASS, &node];
    let locking = client.execute("SELECT pg_advisory_lock($1, $2)", &params);
    tokio::select! {
        locked = locking => {
            locked?;
        }
        _ = &mut connection => {
            return Err(crate::StoreError::Unavailable(
                "the node lock's connection closed".into(),
            ));
        }
    }
    Ok((client, connection))
}

/// Takes this node's lock, then keeps it: when its connection breaks (the database restarted),
/// connects and locks again until it succeeds. Abort the task to let the lock go: the task owns
/// the connection, which closes with it.
pub(crate) async fn hold(config: tokio_postgres::Config, node: i32) -> StoreResult<JoinHandle<()>> {
    let first = lock(&config, node).await?;
    Ok(tokio::spawn(async move {
        let (mut _client, mut connection) = first;
        loop {
            (&mut connection).await;
            loop {
                tokio::time::sleep(RECONNECT_EVERY).await;
                match lock(&config, node).await {
                    Ok(held) => {
                        (_client, connection) = held;
                        break;
                    }
                    Err(e) => tracing::warn!("postgres: cannot retake the node lock: {e}"),
                }
            }
        }
    }))
}
