//! The embedded SQLite store (the default): one file in the data dir, WAL mode, durable commits.
//!
//! Reads run on a small pool of read connections. All writes go through one writer thread that
//! groups whatever writes are queued into a single transaction (group commit), each write in its
//! own savepoint so one failing write never spoils its neighbours. A write is acknowledged only
//! after its transaction has committed with `synchronous=FULL`.
//!
//! Erasure is erasure: every connection deletes with `secure_delete`, so a deleted row's bytes
//! are overwritten with zeros in its page (and a freed page is zeroed) rather than left in free
//! space, and a write that erased personal data (`SqliteStore::write_erasing`) is
//! acknowledged only after a `TRUNCATE` checkpoint has copied the zeroed pages into the
//! database file and emptied the write-ahead log, whose older frames still hold the rows as
//! they were before.
//!
//! The data dir is the owner's alone: created 0700, `prynt.db` and its `-wal` and `-shm` files
//! 0600 (SQLite gives the last two the database file's mode), and narrowed to those modes when
//! an existing install has them wider.

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
/// A write: runs inside the group transaction and hands back its completion, and whether it
/// erased something that must not outlive it in the write-ahead log.
type Job = Box<dyn FnOnce(&Connection) -> (Completion, bool) + Send>;

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
/// How soon the writer tries again to empty the WAL after an erasure found it busy.
const SCRUB_RETRY: std::time::Duration = std::time::Duration::from_millis(20);
/// How long one attempt to empty the WAL waits for readers still on an older snapshot: it
/// holds the write lock meanwhile, so other writes wait no longer than this per attempt.
const SCRUB_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// Every connection's wait for a lock held elsewhere.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Held by whichever of this store's connections checkpoints: SQLite refuses a second
/// checkpoint at once without waiting, so the writer's `TRUNCATE` after an erasure waits here
/// for a passive checkpoint in progress rather than failing.
type CheckpointLock = Arc<Mutex<()>>;

/// Copies the WAL back into the database from its own connection, so that the writer's own
/// automatic checkpoint (which alone can rewind the WAL while commits keep coming) finds
/// almost nothing left to copy and stalls commits only briefly. PASSIVE checkpoints never
/// block the writer.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>, lock: CheckpointLock) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let _held = lock.lock();
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("sqlite: checkpoint failed: {e}");
        }
    }
}

/// Copies every frame of the WAL into the database file and truncates the WAL to nothing, so
/// that no older version of a page (one that held rows since erased) is left in it. `false`
/// when another connection's checkpoint, or a reader still on an older snapshot for longer
/// than [`SCRUB_WAIT`], kept it from finishing: the writer tries again soon.
fn scrub_wal(conn: &Connection, lock: &CheckpointLock) -> StoreResult<bool> {
    let _held = lock.lock();
    conn.busy_timeout(SCRUB_WAIT)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(busy? == 0)
}

/// Creates `dir` (and its parents) if missing; the directory itself ends up 0700 however it was
/// made before.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
        builder.create(dir)?;
        narrow(dir, 0o700)?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    Ok(())
}

/// Makes `path` 0600 when it exists or by creating it empty (SQLite then opens it as a new
/// database, and its journal files take its mode); the `-wal` and `-shm` files of an existing
/// install are narrowed too.
fn create_private_file(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| {
            StoreError::Backend(format!("cannot secure {}: {e}", path.display()))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        narrow(path, 0o600).map_err(io)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            match narrow(Path::new(&side), 0o600) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Takes away every permission beyond `mode` from `path` (never adds any).
#[cfg(unix)]
fn narrow(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when needed) `prynt.db` in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        private_dir(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join("prynt.db");
        create_private_file(&path)?;
        let mut conn = open_connection(&path)?;
        migrations::apply(&mut conn)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 1000")?;
        let writer_id = crate::feed::new_writer_id();
        feed::tag_writer(&conn, writer_id)?;
        let committed = Arc::new(tokio::sync::Notify::new());
        let wake = Arc::clone(&committed);
        let checkpointer = open_connection(&path)?;
        let lock = CheckpointLock::default();
        let writer_lock = Arc::clone(&lock);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let checkpoint_thread = std::thread::Builder::new()
            .name("prynt-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stop_rx, lock))
            .map_err(|e| StoreError::Backend(format!("cannot start checkpoint thread: {e}")))?;

        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("prynt-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, wake, writer_lock))
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
        self.queue(f, |_| false).await
    }

    /// Like [`Self::write`] for a write that erases personal data and says whether it erased
    /// anything: when it did, it resolves only once the write-ahead log no longer holds the
    /// pages from before (see the module's doc).
    pub(crate) async fn write_erasing<F>(&self, f: F) -> StoreResult<bool>
    where
        F: FnOnce(&Connection) -> StoreResult<bool> + Send + 'static,
    {
        self.queue(f, |erased| *erased).await
    }

    async fn queue<T, F>(&self, f: F, scrub: fn(&T) -> bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, f);
            let erased = outcome.as_ref().is_ok_and(scrub);
            let done: Completion = Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(commit.and(outcome));
            });
            (done, erased)
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

    async fn replace_token_key(&self, current: &[u8], new: &[u8]) -> StoreResult<bool> {
        let (current, new) = (current.to_vec(), new.to_vec());
        // An erasing write: the clear key must not stay readable in the write-ahead log.
        self.write_erasing(move |c| {
            let changed = c.execute(
                "UPDATE server_secrets SET value = ?1 WHERE name = 'token_key' AND value = ?2",
                rusqlite::params![new, current],
            )?;
            Ok(changed == 1)
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    // Deleted rows are overwritten, not left in free space (see the module's doc).
    conn.execute_batch("PRAGMA secure_delete = ON")?;
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

fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    committed: Arc<tokio::sync::Notify>,
    lock: CheckpointLock,
) {
    // Erasures committed whose pages from before may still be in the WAL: acknowledged once
    // a TRUNCATE checkpoint has gone through, retried after every group and every few
    // milliseconds meanwhile.
    let mut awaiting_scrub: Vec<Completion> = Vec::new();
    loop {
        let first = if awaiting_scrub.is_empty() {
            match rx.recv() {
                Ok(job) => Some(job),
                Err(_) => break,
            }
        } else {
            match rx.recv_timeout(SCRUB_RETRY) {
                Ok(job) => Some(job),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        };
        if let Some(first) = first {
            run_group(&conn, first, &rx, &committed, &mut awaiting_scrub);
        }
        if !awaiting_scrub.is_empty() {
            match scrub_wal(&conn, &lock) {
                Ok(true) => awaiting_scrub.drain(..).for_each(|done| done(Ok(()))),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!("sqlite: cannot empty the WAL after an erasure: {e}");
                    for done in awaiting_scrub.drain(..) {
                        done(Err(StoreError::Backend(format!(
                            "erased, but the write-ahead log could not be emptied: {e}"
                        ))));
                    }
                }
            }
        }
    }
    let last = conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(StoreError::from);
    if let Err(e) = &last {
        tracing::warn!("sqlite: final checkpoint failed: {e}");
    }
    for done in awaiting_scrub {
        done(match &last {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Backend(format!(
                "erased, but the write-ahead log could not be emptied: {e}"
            ))),
        });
    }
}

/// Runs `first` and whatever else is queued (up to [`MAX_GROUP`]) in one transaction and
/// completes each; an erasure's completion waits in `awaiting_scrub` instead when it commits.
fn run_group(
    conn: &Connection,
    first: Job,
    rx: &mpsc::Receiver<Job>,
    committed: &tokio::sync::Notify,
    awaiting_scrub: &mut Vec<Completion>,
) {
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
        return;
    }
    let completions: Vec<(Completion, bool)> = group.into_iter().map(|job| job(conn)).collect();
    let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    } else {
        committed.notify_one();
    }
    for (done, erased) in completions {
        match &commit {
            Ok(()) if erased => awaiting_scrub.push(done),
            Ok(()) => done(Ok(())),
            Err(e) => done(Err(StoreError::Backend(format!("commit failed: {e}")))),
        }
    }
}
