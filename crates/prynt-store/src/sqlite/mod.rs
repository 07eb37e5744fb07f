//! The embedded SQLite store (the default): one file in the data dir, WAL mode, durable commits.
//!
//! Reads run on a small pool of read connections. All writes go through one writer thread that
//! groups whatever writes are queued into a single transaction (group commit), each write in its
//! own savepoint so one failing write never spoils its neighbours. A write is acknowledged only
//! after its transaction has committed with `synchronous=FULL`.

mod accounts;
mod decision;
mod error;
mod events;
mod feed;
mod idempotency;
mod lists;
mod migrations;
mod pool;
mod queue;
mod rules;
#[cfg(test)]
mod tests;
mod webhooks;

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{StoreError, StoreLifecycle, StoreResult};
use pool::ReadPool;

/// Called after the group's transaction ends, with its commit outcome.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs inside the group transaction and hands back its completion.
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// Most writes folded into one transaction.
const MAX_GROUP: usize = 512;

pub struct SqliteStore {
    readers: Arc<ReadPool>,
    writer_tx: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// Dropping it stops the checkpointer.
    checkpoint_stop: Mutex<Option<mpsc::Sender<()>>>,
    checkpoint_thread: Mutex<Option<JoinHandle<()>>>,
    /// The id this store's change-feed rows carry (random per open, so per process).
    writer_id: i64,
    /// Signalled by the writer after each commit: the change feed's wake-up.
    committed: Arc<tokio::sync::Notify>,
}

/// How often the WAL is copied back into the database, off the writer's path.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Copies the WAL back into the database from its own connection, so that the writer's own
/// automatic checkpoint (which alone can rewind the WAL while commits keep coming) finds
/// almost nothing left to copy and stalls commits only briefly. PASSIVE checkpoints never
/// block the writer.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("sqlite: checkpoint failed: {e}");
        }
    }
}

impl SqliteStore {
    /// Opens (creating when needed) `prynt.db` in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join("prynt.db");
        let mut conn = open_connection(&path)?;
        migrations::apply(&mut conn)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 1000")?;
        let writer_id = crate::feed::new_writer_id();
        feed::tag_writer(&conn, writer_id)?;
        let committed = Arc::new(tokio::sync::Notify::new());
        let wake = Arc::clone(&committed);
        let checkpointer = open_connection(&path)?;
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let checkpoint_thread = std::thread::Builder::new()
            .name("prynt-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stop_rx))
            .map_err(|e| StoreError::Backend(format!("cannot start checkpoint thread: {e}")))?;

        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("prynt-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, wake))
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;

        Ok(SqliteStore {
            readers: Arc::new(ReadPool::new(path)),
            writer_tx: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            checkpoint_stop: Mutex::new(Some(stop_tx)),
            checkpoint_thread: Mutex::new(Some(checkpoint_thread)),
            writer_id,
            committed,
        })
    }

    /// Runs `f` on a pooled read connection off the async runtime.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    /// Queues `f` for the writer and resolves once its group has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(commit.and(outcome));
            })
        });
        {
            let guard = self
                .writer_tx
                .lock()
                .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?;
            let sender = guard.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        // A dropped sender means the group could not even begin its transaction.
        rx.await
            .map_err(|_| StoreError::Backend("the write could not be started".into()))?
    }

    pub(crate) async fn shutdown(&self) -> StoreResult<()> {
        drop(self.checkpoint_stop.lock().ok().and_then(|mut s| s.take()));
        let checkpointer = self
            .checkpoint_thread
            .lock()
            .ok()
            .and_then(|mut t| t.take());
        if let Some(handle) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let sender = self
            .writer_tx
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?
            .take();
        drop(sender);
        let handle = self
            .writer_thread
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?
            .take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Backend(format!("join failed: {e}")))?
                .map_err(|_| StoreError::Backend("writer thread panicked".into()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl StoreLifecycle for SqliteStore {
    async fn token_key(&self) -> StoreResult<Vec<u8>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT value FROM server_secrets WHERE name = 'token_key'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn close(&self) -> StoreResult<()> {
        self.shutdown().await
    }
}

/// One keyset page of an environment's events in time order: `sql` selects from `events` with
/// `?1` workspace, `?2` environment, `?3` the first time, `?4`/`?5` the last `(ts_ms,
/// request_id)` already read and `?6` the page size, ordered by `ts_ms, request_id`.
fn events_page<T>(
    c: &Connection,
    sql: &str,
    scope: &prynt_core::Scope,
    from_ms: i64,
    after: Option<(i64, String)>,
    limit: usize,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let (ts, id) = after.unwrap_or((i64::MIN, String::new()));
    let mut st = c.prepare_cached(sql)?;
    let rows = st
        .query_map(
            rusqlite::params![
                scope.workspace_id,
                scope.env.as_str(),
                from_ms,
                ts,
                id,
                limit as i64
            ],
            row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8192;
         PRAGMA mmap_size = 268435456;",
    )?;
    Ok(conn)
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    // Cached statements: parsing these anew for every write cost the writer about as much as
    // some of the writes themselves.
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let out = f(conn);
    if out.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    out
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>, committed: Arc<tokio::sync::Notify>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!("sqlite: cannot begin write transaction: {e}");
            // Dropping the unrun jobs tells each waiting caller that its write failed.
            drop(group);
            continue;
        }
        let completions: Vec<Completion> = group.into_iter().map(|job| job(&conn)).collect();
        let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            committed.notify_one();
        }
        for done in completions {
            let outcome = match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
            };
            done(outcome);
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!("sqlite: final checkpoint failed: {e}");
    }
}
