//! The change feed on SQLite: the `change_log` table, one row per change written in the
//! change's own transaction. One writer thread commits groups in order, so the row number alone
//! is a gap-free cursor (a reader's snapshot always holds a prefix of the rows). Wake-ups are
//! in-process: the writer signals after each commit. Several processes on one database file
//! (the server and `prynt keys revoke`) still see each other's rows when they read.

use std::time::Duration;

use async_trait::async_trait;
use prynt_core::{Environment, Scope};
use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::feed::{Change, ChangeCursor, ChangeFeed, ChangeItem, ChangePage, ChangedResource};
use crate::{RawEvent, StoreResult, StoredProfile};

/// Creates the writer connection's note of its store's writer id, which every feed row the
/// connection writes carries (a temporary table: it lives and dies with the connection).
pub(crate) fn tag_writer(conn: &Connection, writer_id: i64) -> StoreResult<()> {
    conn.execute_batch("CREATE TEMP TABLE feed_writer (id INTEGER NOT NULL)")?;
    conn.execute("INSERT INTO temp.feed_writer (id) VALUES (?1)", [writer_id])?;
    Ok(())
}

/// Appends an identification to the feed, inside the caller's transaction.
pub(crate) fn note_identified(
    c: &Connection,
    scope: &Scope,
    request_id: &str,
    at_ms: i64,
) -> StoreResult<()> {
    note(
        c,
        "identified",
        &scope.workspace_id,
        Some(scope.env),
        Some(request_id),
        at_ms,
    )
}

/// Appends a visitor's erasure to the feed, inside the caller's transaction.
pub(crate) fn note_visitor_deleted(
    c: &Connection,
    scope: &Scope,
    visitor_id: &str,
) -> StoreResult<()> {
    let now = prynt_core::timefmt::now_unix_ms();
    note(
        c,
        "visitor_deleted",
        &scope.workspace_id,
        Some(scope.env),
        Some(visitor_id),
        now,
    )
}

/// Appends a marker: `resource` of the workspace (of one environment, or both) changed.
pub(crate) fn note_marker(
    c: &Connection,
    resource: ChangedResource,
    workspace_id: &str,
    env: Option<Environment>,
) -> StoreResult<()> {
    let now = prynt_core::timefmt::now_unix_ms();
    note(c, resource.as_str(), workspace_id, env, None, now)
}

fn note(
    c: &Connection,
    kind: &str,
    workspace_id: &str,
    env: Option<Environment>,
    ref_id: Option<&str>,
    at_ms: i64,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO change_log (writer_id, kind, workspace_id, env, ref_id, at_ms)
         VALUES ((SELECT id FROM temp.feed_writer), ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        kind,
        workspace_id,
        env.map(|e| e.as_str()),
        ref_id,
        at_ms
    ])?;
    Ok(())
}

type EventColumns = (i64, Option<String>, String, Option<String>, String);

/// One row of the feed with what its identification points at.
struct Row {
    seq: i64,
    writer_id: i64,
    kind: String,
    workspace_id: String,
    env: Option<String>,
    ref_id: Option<String>,
    at_ms: i64,
    event: Option<EventColumns>,
    visitor: Option<(Vec<u8>, i64, i64, i64, i64)>,
}

fn to_item(r: Row) -> Option<ChangeItem> {
    let env = r.env.as_deref().and_then(Environment::parse);
    let change = match r.kind.as_str() {
        "identified" => {
            let scope = Scope {
                workspace_id: r.workspace_id,
                env: env?,
            };
            let (ts_ms, verdict, body, linked_id, visitor_id) = r.event?;
            let (profile, first_seen_ms, last_seen_ms, total_visits, matched_visits) = r.visitor?;
            Change::Identified {
                event: RawEvent {
                    request_id: r.ref_id?,
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
                workspace_id: r.workspace_id,
                env: env?,
            },
            visitor_id: r.ref_id?,
        },
        other => Change::Marker {
            resource: ChangedResource::parse(other)?,
            workspace_id: r.workspace_id,
            env,
        },
    };
    Some(ChangeItem {
        cursor: ChangeCursor { xid: 0, seq: r.seq },
        writer_id: r.writer_id,
        at_ms: r.at_ms,
        change,
    })
}

#[async_trait]
impl ChangeFeed for SqliteStore {
    fn writer_id(&self) -> i64 {
        self.writer_id
    }

    async fn change_head(&self) -> StoreResult<ChangeCursor> {
        self.read(|c| {
            let seq: i64 =
                c.query_row("SELECT coalesce(max(seq), 0) FROM change_log", [], |r| {
                    r.get(0)
                })?;
            Ok(ChangeCursor { xid: 0, seq })
        })
        .await
    }

    async fn changes_after(&self, after: ChangeCursor, limit: usize) -> StoreResult<ChangePage> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT c.seq, c.writer_id, c.kind, c.workspace_id, c.env, c.ref_id, c.at_ms,
                        e.ts_ms, e.verdict, e.body, e.linked_id, e.visitor_id,
                        v.profile, v.first_seen_ms, v.last_seen_ms, v.total_visits, v.matched_visits
                 FROM change_log c
                 LEFT JOIN events e ON c.kind = 'identified' AND e.request_id = c.ref_id
                 LEFT JOIN visitors v ON v.visitor_id = e.visitor_id
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![after.seq, limit as i64], |r| {
                    let event = match r.get::<_, Option<i64>>(7)? {
                        Some(ts) => Some((ts, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?)),
                        None => None,
                    };
                    let visitor = match r.get::<_, Option<Vec<u8>>>(12)? {
                        Some(p) => Some((p, r.get(13)?, r.get(14)?, r.get(15)?, r.get(16)?)),
                        None => None,
                    };
                    Ok(Row {
                        seq: r.get(0)?,
                        writer_id: r.get(1)?,
                        kind: r.get(2)?,
                        workspace_id: r.get(3)?,
                        env: r.get(4)?,
                        ref_id: r.get(5)?,
                        at_ms: r.get(6)?,
                        event,
                        visitor,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let caught_up = rows.len() < limit;
            let cursor = rows
                .last()
                .map_or(after, |r| ChangeCursor { xid: 0, seq: r.seq });
            Ok(ChangePage {
                items: rows.into_iter().filter_map(to_item).collect(),
                ahead: Vec::new(),
                cursor,
                caught_up,
            })
        })
        .await
    }

    async fn wait_for_change(&self, timeout: Duration) -> StoreResult<bool> {
        Ok(tokio::time::timeout(timeout, self.committed.notified())
            .await
            .is_ok())
    }

    async fn purge_changes_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.write(move |c| Ok(c.execute("DELETE FROM change_log WHERE at_ms < ?1", [floor_ms])?))
            .await
    }
}
