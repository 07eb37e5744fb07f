//! The change feed on PostgreSQL: the `change_log` table, one row per change written in the
//! change's own transaction, and `LISTEN`/`NOTIFY` on the channel `prynt_changes` to wake the
//! nodes: a trigger on `change_log` notifies for every marker; for identifications the node
//! notifies itself, at most every 20 ms ([`notify_identifications`]), since a notifying commit
//! takes a server-wide lock held through its WAL flush that halved identify throughput when
//! every identification notified.
//!
//! **Gap-free order.** Writers run concurrently and a row's sequence number is taken before its
//! transaction commits, so rows become visible out of sequence order: a reader that moved its
//! cursor past a number whose transaction was still open would never read that row. Each row
//! therefore carries its transaction's id (`pg_current_xact_id()`, a 64-bit `xid8`, as
//! `BIGINT`), the feed is ordered by `(xid, seq)`, and a reader only reads rows whose `xid` is
//! below the oldest transaction still running when its statement began
//! (`pg_snapshot_xmin(pg_current_snapshot())`). Every transaction below that bound has ended,
//! so no row can appear later before the cursor. The cursor can therefore pass a change only
//! once every write transaction that began before it has ended, on any database of the server
//! (a migration, a `CREATE DATABASE`, a `BEGIN` left open in `psql`). So that such a transaction
//! does not hold back the nodes' caches, rows already committed beyond that point are handed
//! out as well, as [`ChangePage::ahead`], for the reader to apply at once and skip when they
//! come again below the cursor.
//!
//! **Wake-ups.** The first [`ChangeFeed::wait_for_change`] starts a task holding a connection
//! of its own that `LISTEN`s. When that connection breaks it connects again every second and,
//! once listening, wakes the reader, which then reads everything after its cursor: what was
//! committed while nobody listened is caught up from the table, not from notifications.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::{Environment, Scope};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use super::PostgresStore;
use crate::feed::{Change, ChangeCursor, ChangeFeed, ChangeItem, ChangePage, ChangedResource};
use crate::{RawEvent, StoreResult, StoredProfile};

/// The channel the feed's trigger notifies.
pub(crate) const CHANNEL: &str = "prynt_changes";
/// How long to wait before connecting again after the listening connection broke.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// The SQL of the migration that adds the feed.
pub(crate) const MIGRATION_SQL: &str = r#"
CREATE TABLE change_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction's pg_current_xact_id(): readers order by (xid, seq) and read
    -- only the rows of ended transactions.
    xid          BIGINT NOT NULL,
    writer_id    BIGINT NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT COLLATE "C" NOT NULL,
    env          TEXT COLLATE "C",
    ref_id       TEXT COLLATE "C",
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (xid, seq)
);
CREATE INDEX change_log_time ON change_log (at_ms);
-- Markers are rare: each wakes the nodes. Identifications are many, and a notifying commit
-- takes a server-wide lock: a connection wakes the nodes for one at most every 50 ms (nodes
-- that were woken read again 50 ms later while changes keep coming).
CREATE FUNCTION prynt_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prynt_changes', '');
    RETURN NULL;
END
$$;
CREATE FUNCTION prynt_change_notify_throttled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    last_ms TEXT := current_setting('prynt.change_notified_ms', true);
BEGIN
    IF last_ms IS NULL OR last_ms = '' OR now_ms - last_ms::BIGINT >= 50 THEN
        PERFORM set_config('prynt.change_notified_ms', now_ms::TEXT, false);
        PERFORM pg_notify('prynt_changes', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER change_log_notify AFTER INSERT ON change_log
    FOR EACH ROW WHEN (NEW.kind <> 'identified') EXECUTE FUNCTION prynt_change_notify();
CREATE TRIGGER change_log_notify_identified AFTER INSERT ON change_log
    FOR EACH ROW WHEN (NEW.kind = 'identified') EXECUTE FUNCTION prynt_change_notify_throttled();
"#;

/// The migration that moves the wake-up for identifications out of the database: a connection
/// throttling its own NOTIFYs still let every pooled connection of every node notify, and
/// notifying commits queue one at a time on a server-wide lock held through the commit's WAL
/// flush (two nodes identified fewer requests a second than one). Each node now notifies for
/// its identifications itself, at most every 20 ms ([`notify_identifications`]); the
/// identification's transaction no longer takes the NOTIFY lock at all.
pub(crate) const NODE_NOTIFY_MIGRATION_SQL: &str = r#"
DROP TRIGGER change_log_notify_identified ON change_log;
DROP FUNCTION prynt_change_notify_throttled();
"#;

/// The shortest time between two wake-ups a node sends for its identifications.
const NOTIFY_IDENTIFIED_EVERY: Duration = Duration::from_millis(20);

/// Wakes the other nodes after this node's identifications commit: at once for the first,
/// then at most once per [`NOTIFY_IDENTIFIED_EVERY`] while more come (the ones committed
/// meanwhile share the next wake-up), so the server-wide NOTIFY lock is taken at most 50
/// times a second per node, by a statement of its own that no identification waits for. Ends when the pool closes.
pub(crate) async fn notify_identifications(
    pool: deadpool_postgres::Pool,
    identified: std::sync::Arc<tokio::sync::Notify>,
) {
    loop {
        identified.notified().await;
        if pool.is_closed() {
            return;
        }
        // A failure is not retried: the other nodes poll the feed anyway.
        if let Ok(conn) = pool.get().await {
            if let Err(e) = conn.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await {
                tracing::debug!("change feed: cannot notify the other nodes: {e}");
            }
        }
        tokio::time::sleep(NOTIFY_IDENTIFIED_EVERY).await;
    }
}

/// The `INSERT … SELECT` that appends an identification to the feed after
/// `WITH inserted AS (INSERT INTO events … RETURNING request_id)`: `$2` workspace, `$3`
/// environment, `$5` time, `$14` writer id.
pub(crate) const IDENTIFIED_FROM_INSERTED: &str =
    "INSERT INTO change_log (xid, writer_id, kind, workspace_id, env, ref_id, at_ms)
     SELECT pg_current_xact_id()::text::bigint, $14, 'identified', $2, $3, request_id, $5
     FROM inserted";

/// Appends a row to the feed inside the caller's transaction.
async fn note(
    tx: &impl GenericClient,
    writer_id: i64,
    kind: &str,
    workspace_id: &str,
    env: Option<Environment>,
    ref_id: Option<&str>,
) -> StoreResult<()> {
    let st = tx
        .prepare_cached(
            "INSERT INTO change_log (xid, writer_id, kind, workspace_id, env, ref_id, at_ms)
             VALUES (pg_current_xact_id()::text::bigint, $1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &st,
        &[
            &writer_id,
            &kind,
            &workspace_id,
            &env.map(|e| e.as_str()),
            &ref_id,
            &prynt_core::timefmt::now_unix_ms(),
        ],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    /// Appends a marker (`resource` of the workspace, of one environment or both, changed)
    /// inside the caller's transaction.
    pub(crate) async fn note_marker(
        &self,
        tx: &impl GenericClient,
        resource: ChangedResource,
        workspace_id: &str,
        env: Option<Environment>,
    ) -> StoreResult<()> {
        let writer = self.writer_id();
        note(tx, writer, resource.as_str(), workspace_id, env, None).await
    }

    /// Appends a visitor's erasure inside the caller's transaction.
    pub(crate) async fn note_visitor_deleted(
        &self,
        tx: &impl GenericClient,
        scope: &Scope,
        visitor_id: &str,
    ) -> StoreResult<()> {
        let (writer, ws) = (self.writer_id(), &scope.workspace_id);
        note(
            tx,
            writer,
            "visitor_deleted",
            ws,
            Some(scope.env),
            Some(visitor_id),
        )
        .await
    }
}

/// The listening task, started on first use and stopped with the store.
#[derive(Default)]
pub(crate) struct Wakeups {
    notify: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl Wakeups {
    fn start(&self, config: &tokio_postgres::Config) {
        let Ok(mut task) = self.task.lock() else {
            return;
        };
        if task.is_none() {
            let (config, notify) = (config.clone(), Arc::clone(&self.notify));
            *task = Some(tokio::spawn(listen_forever(config, notify)));
        }
    }
}

/// What the listening connection produced.
enum Heard {
    Listening(Result<(), tokio_postgres::Error>),
    Notified,
    Other,
    Failed(tokio_postgres::Error),
    Closed,
}

async fn listen_forever(config: tokio_postgres::Config, notify: Arc<Notify>) {
    loop {
        match listen_once(&config, &notify).await {
            Ok(()) => tracing::warn!("postgres: the change feed's listening connection closed"),
            Err(e) => {
                tracing::warn!(error = ?e, "postgres: the change feed's listening connection failed")
            }
        }
        // Whatever was committed while nobody listened is read from the table on wake-up.
        notify.notify_one();
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// Connects, listens and wakes the reader on each notification until the connection ends.
async fn listen_once(
    config: &tokio_postgres::Config,
    notify: &Notify,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let listen_sql = format!("LISTEN {CHANNEL}");
    let mut listen = Box::pin(client.batch_execute(&listen_sql));
    let mut listening = false;
    loop {
        // The connection must be polled for the LISTEN to run, so both are polled together.
        let heard = std::future::poll_fn(|cx| {
            if !listening {
                if let Poll::Ready(r) = listen.as_mut().poll(cx) {
                    return Poll::Ready(Heard::Listening(r));
                }
            }
            connection.poll_message(cx).map(|m| match m {
                Some(Ok(AsyncMessage::Notification(_))) => Heard::Notified,
                Some(Ok(_)) => Heard::Other,
                Some(Err(e)) => Heard::Failed(e),
                None => Heard::Closed,
            })
        })
        .await;
        match heard {
            Heard::Listening(r) => {
                r?;
                listening = true;
                // Catch up on what was committed before this connection listened.
                notify.notify_one();
            }
            Heard::Notified => notify.notify_one(),
            Heard::Other => {}
            Heard::Failed(e) => return Err(e),
            Heard::Closed => return Ok(()),
        }
    }
}

type EventColumns = (i64, Option<String>, String, Option<String>, String);
type VisitorColumns = (Vec<u8>, i64, i64, i64, i64);

/// A feed row's cursor, and its item unless what it points at is gone.
fn to_item(row: &tokio_postgres::Row) -> StoreResult<(ChangeCursor, Option<ChangeItem>)> {
    let cursor = ChangeCursor {
        xid: row.try_get(0)?,
        seq: row.try_get(1)?,
    };
    let writer_id: i64 = row.try_get(2)?;
    let kind: String = row.try_get(3)?;
    let workspace_id: String = row.try_get(4)?;
    let env: Option<String> = row.try_get(5)?;
    let env = env.as_deref().and_then(Environment::parse);
    let ref_id: Option<String> = row.try_get(6)?;
    let at_ms: i64 = row.try_get(7)?;
    let event: Option<EventColumns> = match row.try_get::<_, Option<i64>>(8)? {
        Some(ts) => Some((
            ts,
            row.try_get(9)?,
            row.try_get(10)?,
            row.try_get(11)?,
            row.try_get(12)?,
        )),
        None => None,
    };
    let visitor: Option<VisitorColumns> = match row.try_get::<_, Option<Vec<u8>>>(13)? {
        Some(p) => Some((
            p,
            row.try_get(14)?,
            row.try_get(15)?,
            row.try_get(16)?,
            row.try_get(17)?,
        )),
        None => None,
    };
    let change = (|| {
        Some(match kind.as_str() {
            "identified" => {
                let scope = Scope {
                    workspace_id,
                    env: env?,
                };
                let (ts_ms, verdict, body, linked_id, visitor_id) = event?;
                let (profile, first_seen_ms, last_seen_ms, total_visits, matched_visits) = visitor?;
                Change::Identified {
                    event: RawEvent {
                        request_id: ref_id?,
                        ts_ms,
                        verdict,
                        body,
                    },
                    visitor: StoredProfile {
                        scope: scope.clone(),
                        visitor_id,
                        profile,
                        first_seen_ms,
                        last_seen_ms,
                        total_visits: total_visits.max(0) as u64,
                        matched_visits: matched_visits.max(0) as u64,
                    },
                    scope,
                    linked_id,
                }
            }
            "visitor_deleted" => Change::VisitorDeleted {
                scope: Scope {
                    workspace_id,
                    env: env?,
                },
                visitor_id: ref_id?,
            },
            other => Change::Marker {
                resource: ChangedResource::parse(other)?,
                workspace_id,
                env,
            },
        })
    })();
    let item = change.map(|change| ChangeItem {
        cursor,
        writer_id,
        at_ms,
        change,
    });
    Ok((cursor, item))
}

#[async_trait]
impl ChangeFeed for PostgresStore {
    fn writer_id(&self) -> i64 {
        i64::from(self.node_id)
    }

    async fn change_head(&self) -> StoreResult<ChangeCursor> {
        let conn = self.conn().await?;
        let xmin: i64 = conn
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
                &[],
            )
            .await?
            .try_get(0)?;
        // Every transaction below `xmin` has ended, so its rows are visible to whatever the
        // caller loads next; a row of a later one may still commit and is read from the feed.
        Ok(ChangeCursor {
            xid: xmin - 1,
            seq: i64::MAX,
        })
    }

    async fn changes_after(&self, after: ChangeCursor, limit: usize) -> StoreResult<ChangePage> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(
                "SELECT c.xid, c.seq, c.writer_id, c.kind, c.workspace_id, c.env, c.ref_id,
                        c.at_ms, e.ts_ms, e.verdict, e.body, e.linked_id, e.visitor_id,
                        v.profile, v.first_seen_ms, v.last_seen_ms, v.total_visits,
                        v.matched_visits,
                        c.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                 FROM change_log c
                 LEFT JOIN events e ON c.kind = 'identified' AND e.request_id = c.ref_id
                 LEFT JOIN visitors v ON v.visitor_id = e.visitor_id
                 WHERE (c.xid, c.seq) > ($1, $2)
                 ORDER BY c.xid, c.seq LIMIT $3",
            )
            .await?;
        let limit_sql = limit.min(i64::MAX as usize) as i64;
        let rows = conn
            .query(&st, &[&after.xid, &after.seq, &limit_sql])
            .await?;
        let mut page = ChangePage {
            items: Vec::with_capacity(rows.len()),
            ahead: Vec::new(),
            cursor: after,
            caught_up: rows.len() < limit,
        };
        // Ordered by transaction id, the settled rows (below the oldest running transaction)
        // come first; the cursor stops at the last of them.
        for row in &rows {
            let settled: bool = row.try_get(18)?;
            let (cursor, item) = to_item(row)?;
            if settled {
                page.cursor = cursor;
                page.items.extend(item);
            } else {
                page.ahead.extend(item);
            }
        }
        Ok(page)
    }

    async fn wait_for_change(&self, timeout: Duration) -> StoreResult<bool> {
        self.wakeups.start(&self.config);
        Ok(
            tokio::time::timeout(timeout, self.wakeups.notify.notified())
                .await
                .is_ok(),
        )
    }

    async fn purge_changes_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.delete_in_batches("change_log", "at_ms", floor_ms)
            .await
    }
}
