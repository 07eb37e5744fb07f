//! [`ListStore`] on PostgreSQL: custom lists and their entries. A change of entries locks its
//! list's row, so that concurrent changes of one list (from any node) apply one after the
//! other and each reports the count it left.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::Scope;
use tokio_postgres::Row;

use super::error::violated_constraint;
use super::PostgresStore;
use crate::merge;
use crate::{
    EntryChange, EntryOutcome, ListEntry, ListRecord, ListStore, NewList, OutboxItem, StoreError,
    StoreResult,
};

/// List columns with the live entry count; `$1` is the time (Unix seconds) entries must
/// outlive.
const LIST_COLS: &str = "l.id, l.name, l.type, l.description, l.ttl_s, l.purpose, \
     (SELECT count(*) FROM list_entries e WHERE e.list_id = l.id \
        AND (e.expires_s IS NULL OR e.expires_s > $1)), \
     l.created_ms, l.updated_ms";

fn list_from_row(r: &Row) -> StoreResult<ListRecord> {
    Ok(ListRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        list_type: r.try_get(2)?,
        description: r.try_get(3)?,
        ttl_s: r.try_get(4)?,
        purpose: r.try_get(5)?,
        entry_count: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        updated_ms: r.try_get(8)?,
    })
}

fn entry_from_row(r: &Row) -> StoreResult<ListEntry> {
    Ok(ListEntry {
        value: r.try_get(0)?,
        added_ms: r.try_get(1)?,
        expires_s: r.try_get(2)?,
    })
}

fn now_s() -> i64 {
    prynt_core::timefmt::now_unix()
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

async fn list_in(
    c: &impl GenericClient,
    scope: &Scope,
    id: &str,
) -> StoreResult<Option<ListRecord>> {
    let st = c
        .prepare_cached(&format!(
            "SELECT {LIST_COLS} FROM lists l WHERE l.id = $2 AND l.workspace_id = $3 AND l.env = $4"
        ))
        .await?;
    c.query_opt(
        &st,
        &[&now_s(), &id, &scope.workspace_id, &scope.env.as_str()],
    )
    .await?
    .as_ref()
    .map(list_from_row)
    .transpose()
}

pub(crate) async fn add_entry(
    c: &impl GenericClient,
    list_id: &str,
    value: &str,
    expires_s: Option<i64>,
    now_ms: i64,
) -> StoreResult<()> {
    let st = c
        .prepare_cached(
            "INSERT INTO list_entries (list_id, value, added_ms, expires_s) VALUES ($1, $2, $3, $4)
             ON CONFLICT (list_id, value) DO UPDATE
                SET added_ms = EXCLUDED.added_ms, expires_s = EXCLUDED.expires_s",
        )
        .await?;
    c.execute(&st, &[&list_id, &value, &now_ms, &expires_s])
        .await?;
    Ok(())
}

pub(crate) async fn remove_entry(
    c: &impl GenericClient,
    list_id: &str,
    value: &str,
) -> StoreResult<bool> {
    let st = c
        .prepare_cached("DELETE FROM list_entries WHERE list_id = $1 AND value = $2")
        .await?;
    Ok(c.execute(&st, &[&list_id, &value]).await? > 0)
}

pub(crate) async fn touch_list(
    c: &impl GenericClient,
    list_id: &str,
    now_ms: i64,
) -> StoreResult<()> {
    let st = c
        .prepare_cached("UPDATE lists SET updated_ms = $2 WHERE id = $1")
        .await?;
    c.execute(&st, &[&list_id, &now_ms]).await?;
    Ok(())
}

#[async_trait]
impl ListStore for PostgresStore {
    async fn create_list(
        &self,
        scope: &Scope,
        list: NewList,
        now_ms: i64,
    ) -> StoreResult<ListRecord> {
        let rec = merge::new_list_record(list, now_ms);
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO lists (id, workspace_id, env, name, type, description, ttl_s, purpose,
                                    created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &rec.id,
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &rec.name,
                    &rec.list_type,
                    &rec.description,
                    &rec.ttl_s,
                    &rec.purpose,
                    &rec.created_ms,
                    &rec.updated_ms,
                ],
            )
            .await;
        match inserted {
            Ok(_) => {
                self.note_marker(
                    &tx,
                    crate::ChangedResource::Lists,
                    &scope.workspace_id,
                    Some(scope.env),
                )
                .await?;
                tx.commit().await?;
                Ok(rec)
            }
            Err(e) if violated_constraint(&e) == Some("lists_pkey") => Err(StoreError::DuplicateId),
            Err(e) if violated_constraint(&e).is_some() => Err(StoreError::Conflict(format!(
                "A list named {:?} already exists.",
                rec.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn lists(
        &self,
        scope: &Scope,
        list_type: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListRecord>, usize)> {
        let conn = self.conn().await?;
        let total: i64 = conn
            .query_one(
                "SELECT count(*) FROM lists l
                 WHERE l.workspace_id = $1 AND l.env = $2 AND ($3::text IS NULL OR l.type = $3)",
                &[&scope.workspace_id, &scope.env.as_str(), &list_type],
            )
            .await?
            .try_get(0)?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {LIST_COLS} FROM lists l
                     WHERE l.workspace_id = $2 AND l.env = $3 AND ($4::text IS NULL OR l.type = $4)
                     ORDER BY l.created_ms, l.id LIMIT $5 OFFSET $6"
                ),
                &[
                    &now_s(),
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &list_type,
                    &(limit.min(i64::MAX as usize) as i64),
                    &(offset.min(i64::MAX as usize) as i64),
                ],
            )
            .await?
            .iter()
            .map(list_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total.max(0) as usize))
    }

    async fn list(&self, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>> {
        let conn = self.conn().await?;
        list_in(&conn, scope, id).await
    }

    async fn list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        search: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListEntry>, usize)> {
        // PostgreSQL text cannot hold a NUL, so no stored value contains one.
        if search.as_deref().is_some_and(|s| s.contains('\0')) {
            return Ok((Vec::new(), 0));
        }
        let pattern = search.map(|s| format!("%{}%", like_escaped(&s)));
        // `lower` under the C collation folds ASCII letters only, as the SQLite store's LIKE.
        let filter = "e.list_id = $1 AND l.workspace_id = $2 AND l.env = $3
               AND (e.expires_s IS NULL OR e.expires_s > $4)
               AND ($5::text IS NULL OR lower(e.value) LIKE lower($5::text COLLATE \"C\"))";
        let now = now_s();
        let conn = self.conn().await?;
        let total: i64 = conn
            .query_one(
                &format!(
                    "SELECT count(*) FROM list_entries e JOIN lists l ON l.id = e.list_id
                     WHERE {filter}"
                ),
                &[
                    &list_id,
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &now,
                    &pattern,
                ],
            )
            .await?
            .try_get(0)?;
        let rows = conn
            .query(
                &format!(
                    "SELECT e.value, e.added_ms, e.expires_s FROM list_entries e
                     JOIN lists l ON l.id = e.list_id
                     WHERE {filter}
                     ORDER BY e.added_ms DESC, e.value LIMIT $6 OFFSET $7"
                ),
                &[
                    &list_id,
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &now,
                    &pattern,
                    &(limit.min(i64::MAX as usize) as i64),
                    &(offset.min(i64::MAX as usize) as i64),
                ],
            )
            .await?
            .iter()
            .map(entry_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total.max(0) as usize))
    }

    async fn change_list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        change: EntryChange,
        outbox: Option<OutboxItem>,
        now_ms: i64,
    ) -> StoreResult<EntryOutcome> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let locked = tx
            .query_opt(
                "SELECT 1 FROM lists WHERE id = $1 AND workspace_id = $2 AND env = $3 FOR UPDATE",
                &[&list_id, &scope.workspace_id, &scope.env.as_str()],
            )
            .await?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut removed = 0;
        for value in &change.remove {
            removed += usize::from(remove_entry(&tx, list_id, value).await?);
        }
        for (value, expires) in &change.add {
            add_entry(&tx, list_id, value, *expires, now_ms).await?;
        }
        touch_list(&tx, list_id, now_ms).await?;
        if let Some(item) = &outbox {
            super::queue::insert_outbox(&tx, scope, item).await?;
        }
        let count = list_in(&tx, scope, list_id)
            .await?
            .map_or(0, |l| l.entry_count);
        self.note_marker(
            &tx,
            crate::ChangedResource::Lists,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        tx.commit().await?;
        Ok(EntryOutcome {
            added: change.add.len(),
            removed,
            entry_count: count,
        })
    }

    async fn delete_list(
        &self,
        scope: &Scope,
        id: &str,
        outbox: Option<OutboxItem>,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM lists WHERE id = $1 AND workspace_id = $2 AND env = $3",
                &[&id, &scope.workspace_id, &scope.env.as_str()],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute("DELETE FROM list_entries WHERE list_id = $1", &[&id])
            .await?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Lists,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        if let Some(item) = &outbox {
            super::queue::insert_outbox(&tx, scope, item).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn all_list_entries(
        &self,
        scope: &Scope,
    ) -> StoreResult<Vec<(ListRecord, Vec<ListEntry>)>> {
        let (lists, _) = self.lists(scope, None, usize::MAX, 0).await?;
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(
                "SELECT value, added_ms, expires_s FROM list_entries
                 WHERE list_id = $1 AND (expires_s IS NULL OR expires_s > $2)",
            )
            .await?;
        let mut out = Vec::with_capacity(lists.len());
        for list in lists {
            let entries = conn
                .query(&st, &[&list.id, &now_s()])
                .await?
                .iter()
                .map(entry_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            out.push((list, entries));
        }
        Ok(out)
    }
}
