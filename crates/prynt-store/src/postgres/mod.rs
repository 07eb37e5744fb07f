//! The PostgreSQL store (PostgreSQL 15 or later), for several `prynt serve` nodes sharing one
//! system of record.
//!
//! Every call takes a connection from a pool (`deadpool-postgres` over `tokio-postgres`) and
//! runs its statements there; whatever must happen together runs in one transaction, which
//! PostgreSQL makes durable at commit. Unlike the SQLite store there is no single writer:
//! concurrency between nodes is settled by row locks (`SELECT … FOR UPDATE`, `SKIP LOCKED` for
//! the delivery queue), `INSERT … ON CONFLICT` and transaction-scoped advisory locks.
//!
//! Connections are plain TCP or Unix sockets: TLS to PostgreSQL is not built in, so a server
//! across an untrusted network is reached through a local TLS proxy or sidecar (for example
//! PgBouncer or stunnel on the node) and the URL names that proxy.

pub mod admin;
mod error;
mod events;
mod feed;
mod idempotency;
mod keys;
mod lifecycle;
mod lists;
mod liveness;
mod migrations;
mod queue;
mod rules;
mod webhooks;
mod workspaces;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{StoreError, StoreResult};

pub use migrations::{AppliedMigration, MigrationReport};

/// Connections a node keeps to PostgreSQL at most, unless configured otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Rows deleted per statement when expired data is purged (see
/// [`PostgresStore::delete_in_batches`]).
const PURGE_BATCH: usize = 1_000;

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections open at once; calls beyond wait for one (up to `wait_timeout`).
    pub pool_size: usize,
    /// How long a call waits for a free connection, and for a new one to be established,
    /// before it fails as unavailable (so that a request fails cleanly instead of hanging
    /// while the database is down).
    pub wait_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: DEFAULT_POOL_SIZE,
            wait_timeout: Duration::from_secs(5),
        }
    }
}

/// The store on a PostgreSQL database, named by a `postgres://` URL.
pub struct PostgresStore {
    pool: Pool,
    closed: AtomicBool,
    /// This store's number among the nodes of its database; its delivery leases carry it.
    node_id: i32,
    /// Holds the lock that tells other nodes this one is alive (see `liveness`).
    node_lock: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// How the change feed's listening connection connects.
    config: tokio_postgres::Config,
    /// The change feed's `LISTEN` task and the wake-ups it hands out (see `feed`).
    wakeups: feed::Wakeups,
    /// Signalled when an identification commits; the node's notifier wakes the other nodes
    /// for them (see [`feed::notify_identifications`]).
    identified: std::sync::Arc<tokio::sync::Notify>,
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

fn parse_url(url: &str) -> StoreResult<tokio_postgres::Config> {
    url.parse()
        .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))
}

fn pool_for(url: &str, options: &PostgresOptions) -> StoreResult<Pool> {
    let config = parse_url(url)?;
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        return Err(StoreError::Backend(
            "sslmode=require is not supported: reach PostgreSQL over TLS through a local proxy \
             and give its address in the URL"
                .into(),
        ));
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A connection that broke while idle is found out by the next query, which fails
            // as unavailable; checking each one on every checkout would cost a round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.wait_timeout))
        .recycle_timeout(Some(options.wait_timeout))
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot build the connection pool: {e}")))
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema up to date (see
    /// [`PostgresStore::migrate`]).
    pub async fn open(url: &str, options: PostgresOptions) -> StoreResult<Self> {
        let pool = pool_for(url, &options)?;
        migrations::apply(&pool).await?;
        let node_id = liveness::new_node_id();
        let config = parse_url(url)?;
        let node_lock = liveness::hold(config.clone(), node_id).await?;
        let identified = std::sync::Arc::new(tokio::sync::Notify::new());
        tokio::spawn(feed::notify_identifications(
            pool.clone(),
            identified.clone(),
        ));
        Ok(PostgresStore {
            pool,
            closed: AtomicBool::new(false),
            node_id,
            node_lock: std::sync::Mutex::new(Some(node_lock)),
            config,
            wakeups: feed::Wakeups::default(),
            identified,
        })
    }

    /// Brings the schema of the database at `url` up to date and says what it did. Safe to run
    /// from several nodes at once: they take turns under an advisory lock.
    pub async fn migrate(url: &str) -> StoreResult<MigrationReport> {
        let pool = pool_for(
            url,
            &PostgresOptions {
                pool_size: 1,
                ..Default::default()
            },
        )?;
        let report = migrations::apply(&pool).await;
        pool.close();
        report
    }

    /// Deletes the rows of `table` whose `column` is below `floor`, [`PURGE_BATCH`] rows per
    /// statement. One statement over an hour's expired rows would be a long write transaction,
    /// and the change feed is read only below the oldest running one: every node would stop
    /// hearing from the others until it ended.
    pub(crate) async fn delete_in_batches(
        &self,
        table: &str,
        column: &str,
        floor: i64,
    ) -> StoreResult<usize> {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN \
             (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT {PURGE_BATCH})"
        );
        let mut total = 0;
        loop {
            let conn = self.conn().await?;
            let deleted = conn.execute(sql.as_str(), &[&floor]).await? as usize;
            total += deleted;
            if deleted < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    /// A pooled connection, or `Closed` after [`crate::StoreLifecycle::close`].
    pub(crate) async fn conn(&self) -> StoreResult<Object> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        Ok(self.pool.get().await?)
    }
}
