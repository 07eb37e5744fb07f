//! [`ListStore`] in SQL: lists with their entries, and the entry writes that rule side
//! effects share.

use async_trait::async_trait;
use prynt_core::Scope;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::decision::insert_outbox;
use super::SqliteStore;
use crate::merge;
use crate::{
    EntryChange, EntryOutcome, ListEntry, ListRecord, ListStore, NewList, OutboxItem, StoreError,
    StoreResult,
};

/// List columns with the live entry count; `?now` is bound as the named parameter `:now`.
const LIST_COLS: &str = "l.id, l.name, l.type, l.description, l.ttl_s, l.purpose, \
     (SELECT COUNT(*) FROM list_entries e WHERE e.list_id = l.id \
        AND (e.expires_s IS NULL OR e.expires_s > :now)), \
     l.created_ms, l.updated_ms";

fn list_from_row(r: &Row<'_>) -> rusqlite::Result<ListRecord> {
    Ok(ListRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        list_type: r.get(2)?,
        description: r.get(3)?,
        ttl_s: r.get(4)?,
        purpose: r.get(5)?,
        entry_count: r.get(6)?,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

/// `s` with the characters LIKE treats specially (`%`, `_` and the escape `\` itself)
/// escaped with `\`, so that it matches only itself.
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn now_s() -> i64 {
    prynt_core::timefmt::now_unix()
}

fn list_in(c: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {LIST_COLS} FROM lists l WHERE l.id = :id AND l.workspace_id = :ws AND l.env = :env"
    ))?
    .query_row(
        rusqlite::named_params! {":id": id, ":ws": scope.workspace_id, ":env": scope.env.as_str(), ":now": now_s()},
        list_from_row,
    )
    .optional()?)
}

pub(super) fn add_entry(
    c: &Connection,
    list_id: &str,
    value: &str,
    expires_s: Option<i64>,
    now_ms: i64,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO list_entries (list_id, value, added_ms, expires_s) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (list_id, value) DO UPDATE SET added_ms = excluded.added_ms, expires_s = excluded.expires_s",
    )?
    .execute(params![list_id, value, now_ms, expires_s])?;
    Ok(())
}

pub(super) fn remove_entry(c: &Connection, list_id: &str, value: &str) -> StoreResult<bool> {
    Ok(
        c.prepare_cached("DELETE FROM list_entries WHERE list_id = ?1 AND value = ?2")?
            .execute(params![list_id, value])?
            > 0,
    )
}

pub(super) fn touch_list(c: &Connection, list_id: &str, now_ms: i64) -> StoreResult<()> {
    c.prepare_cached("UPDATE lists SET updated_ms = ?2 WHERE id = ?1")?
        .execute(params![list_id, now_ms])?;
    Ok(())
}

#[async_trait]
impl ListStore for SqliteStore {
    async fn create_list(
        &self,
        scope: &Scope,
        list: NewList,
        now_ms: i64,
    ) -> StoreResult<ListRecord> {
        let scope = scope.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO lists (id, workspace_id, env, name, type, description, ttl_s, purpose, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    list.id,
                    scope.workspace_id,
                    scope.env.as_str(),
                    list.name,
                    list.list_type,
                    list.description,
                    list.ttl_s,
                    list.purpose,
                    now_ms
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(m) if m.contains("lists.id") => StoreError::DuplicateId,
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("A list named {:?} already exists.", list.name))
                }
                other => other,
            })?;
            super::feed::note_marker(c, crate::feed::ChangedResource::Lists, &scope.workspace_id, Some(scope.env))?;
            Ok(merge::new_list_record(list, now_ms))
        })
        .await
    }

    async fn lists(
        &self,
        scope: &Scope,
        list_type: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListRecord>, usize)> {
        let scope = scope.clone();
        self.read(move |c| {
            let filter = "l.workspace_id = :ws AND l.env = :env AND (:ty IS NULL OR l.type = :ty)";
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM lists l WHERE {filter}"))?
                .query_row(
                    rusqlite::named_params! {":ws": scope.workspace_id, ":env": scope.env.as_str(), ":ty": list_type},
                    |r| r.get(0),
                )?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {LIST_COLS} FROM lists l WHERE {filter}
                 ORDER BY l.created_ms, l.id LIMIT :limit OFFSET :offset"
            ))?;
            let rows = st
                .query_map(
                    rusqlite::named_params! {
                        ":ws": scope.workspace_id, ":env": scope.env.as_str(), ":ty": list_type,
                        ":now": now_s(), ":limit": limit.min(i64::MAX as usize) as i64, ":offset": offset as i64,
                    },
                    list_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, total as usize))
        })
        .await
    }

    async fn list(&self, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| list_in(c, &scope, &id)).await
    }

    async fn list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        search: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListEntry>, usize)> {
        let (scope, id) = (scope.clone(), list_id.to_owned());
        // SQLite compares text as C strings in LIKE, so a NUL would cut the pattern short; no
        // stored value holds one, so such a search finds nothing.
        if search.as_deref().is_some_and(|s| s.contains('\0')) {
            return Ok((Vec::new(), 0));
        }
        let pattern = search.map(|s| format!("%{}%", like_escaped(&s)));
        self.read(move |c| {
            let filter = "e.list_id = :id AND l.workspace_id = :ws AND l.env = :env
                   AND (e.expires_s IS NULL OR e.expires_s > :now)
                   AND (:pattern IS NULL OR e.value LIKE :pattern ESCAPE '\\')";
            let now = now_s();
            let total: i64 = c
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM list_entries e JOIN lists l ON l.id = e.list_id WHERE {filter}"
                ))?
                .query_row(
                    rusqlite::named_params! {
                        ":id": id, ":ws": scope.workspace_id, ":env": scope.env.as_str(),
                        ":now": now, ":pattern": pattern,
                    },
                    |r| r.get(0),
                )?;
            let mut st = c.prepare_cached(&format!(
                "SELECT e.value, e.added_ms, e.expires_s FROM list_entries e
                 JOIN lists l ON l.id = e.list_id
                 WHERE {filter}
                 ORDER BY e.added_ms DESC, e.value LIMIT :limit OFFSET :offset"
            ))?;
            let rows = st
                .query_map(
                    rusqlite::named_params! {
                        ":id": id, ":ws": scope.workspace_id, ":env": scope.env.as_str(),
                        ":now": now, ":pattern": pattern,
                        ":limit": limit.min(i64::MAX as usize) as i64, ":offset": offset as i64,
                    },
                    |r| {
                        Ok(ListEntry {
                            value: r.get(0)?,
                            added_ms: r.get(1)?,
                            expires_s: r.get(2)?,
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, total.max(0) as usize))
        })
        .await
    }

    async fn change_list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        change: EntryChange,
        outbox: Option<OutboxItem>,
        now_ms: i64,
    ) -> StoreResult<EntryOutcome> {
        let (scope, id) = (scope.clone(), list_id.to_owned());
        self.write(move |c| {
            if list_in(c, &scope, &id)?.is_none() {
                return Err(StoreError::NotFound);
            }
            let mut removed = 0;
            for value in &change.remove {
                removed += usize::from(remove_entry(c, &id, value)?);
            }
            for (value, expires) in &change.add {
                add_entry(c, &id, value, *expires, now_ms)?;
            }
            touch_list(c, &id, now_ms)?;
            if let Some(item) = &outbox {
                insert_outbox(c, &scope, item)?;
            }
            super::feed::note_marker(
                c,
                crate::feed::ChangedResource::Lists,
                &scope.workspace_id,
                Some(scope.env),
            )?;
            let count = list_in(c, &scope, &id)?.map_or(0, |l| l.entry_count);
            Ok(EntryOutcome {
                added: change.add.len(),
                removed,
                entry_count: count,
            })
        })
        .await
    }

    async fn delete_list(
        &self,
        scope: &Scope,
        id: &str,
        outbox: Option<OutboxItem>,
    ) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM lists WHERE id = ?1 AND workspace_id = ?2 AND env = ?3",
                params![id, scope.workspace_id, scope.env.as_str()],
            )?;
            if n == 0 {
                return Ok(false);
            }
            c.execute("DELETE FROM list_entries WHERE list_id = ?1", [&id])?;
            super::feed::note_marker(
                c,
                crate::feed::ChangedResource::Lists,
                &scope.workspace_id,
                Some(scope.env),
            )?;
            if let Some(item) = &outbox {
                insert_outbox(c, &scope, item)?;
            }
            Ok(true)
        })
        .await
    }

    async fn all_list_entries(
        &self,
        scope: &Scope,
    ) -> StoreResult<Vec<(ListRecord, Vec<ListEntry>)>> {
        let scope = scope.clone();
        let (lists, _) = self.lists(&scope, None, usize::MAX, 0).await?;
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT value, added_ms, expires_s FROM list_entries
                 WHERE list_id = ?1 AND (expires_s IS NULL OR expires_s > ?2)",
            )?;
            let mut out = Vec::with_capacity(lists.len());
            for list in lists {
                let entries = st
                    .query_map(params![list.id, now_s()], |r| {
                        Ok(ListEntry {
                            value: r.get(0)?,
                            added_ms: r.get(1)?,
                            expires_s: r.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((list, entries));
            }
            Ok(out)
        })
        .await
    }
}
