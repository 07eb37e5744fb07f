//! SQL of the decision policy: rules with their immutable versions, lists with their entries,
//! and the webhook outbox rows their changes write.

use prynt_core::Scope;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::{
    EntryChange, EntryOutcome, ListEffect, ListEntry, ListRecord, NewList, NewRule, OutboxItem,
    RawEvent, RuleChange, RuleRecord, RuleVersion, StoreError, StoreResult,
};

const RULE_COLS: &str = "id, name, status, priority, conditions, action, version, created_ms, \
                         updated_ms, match_count, last_match_ms";

fn rule_from_row(r: &Row<'_>) -> rusqlite::Result<RuleRecord> {
    Ok(RuleRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        status: r.get(2)?,
        priority: r.get(3)?,
        conditions: r.get(4)?,
        action: r.get(5)?,
        version: r.get(6)?,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
        match_count: r.get(9)?,
        last_match_ms: r.get(10)?,
    })
}

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

fn write_version(c: &Connection, r: &RuleRecord) -> StoreResult<()> {
    c.execute(
        "INSERT INTO rule_versions (rule_id, version, name, status, priority, conditions, action, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![r.id, r.version, r.name, r.status, r.priority, r.conditions, r.action, r.updated_ms],
    )?;
    Ok(())
}

fn rule_in(c: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RULE_COLS} FROM rules WHERE id = ?1 AND workspace_id = ?2 AND env = ?3"
    ))?
    .query_row(
        params![id, scope.workspace_id, scope.env.as_str()],
        rule_from_row,
    )
    .optional()?)
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

/// Writes one outbox payload and its deliveries inside the caller's transaction; a payload no
/// webhook wants is not written at all.
pub(crate) fn insert_outbox(c: &Connection, scope: &Scope, item: &OutboxItem) -> StoreResult<()> {
    if item.webhook_ids.is_empty() {
        return Ok(());
    }
    let outbox_id = if item.request_id.is_none() {
        c.prepare_cached(
            "INSERT INTO outbox (id, workspace_id, env, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            item.id,
            scope.workspace_id,
            scope.env.as_str(),
            item.kind,
            item.payload,
            item.created_ms
        ])?;
        Some(item.id.as_str())
    } else {
        None
    };
    // One small row in the cause's transaction; the delivery worker turns it into one
    // delivery per webhook later, in batches, off the identification path.
    c.prepare_cached(
        "INSERT INTO fanout (workspace_id, env, kind, payload_id, outbox_id, request_id, webhook_ids, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        scope.workspace_id,
        scope.env.as_str(),
        item.kind,
        item.id,
        outbox_id,
        item.request_id,
        item.webhook_ids.join(","),
        item.created_ms
    ])?;
    Ok(())
}

fn add_entry(
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

fn remove_entry(c: &Connection, list_id: &str, value: &str) -> StoreResult<bool> {
    Ok(
        c.prepare_cached("DELETE FROM list_entries WHERE list_id = ?1 AND value = ?2")?
            .execute(params![list_id, value])?
            > 0,
    )
}

fn touch_list(c: &Connection, list_id: &str, now_ms: i64) -> StoreResult<()> {
    c.prepare_cached("UPDATE lists SET updated_ms = ?2 WHERE id = ?1")?
        .execute(params![list_id, now_ms])?;
    Ok(())
}

/// Applies a rule's side effects, bumps the matched rules' statistics and queues the outbox,
/// all inside the identification's transaction. A list deleted meanwhile is skipped.
pub(crate) fn apply_decision(
    c: &Connection,
    scope: &Scope,
    ts_ms: i64,
    effects: &[ListEffect],
    rule_matches: &[String],
    outbox: &[OutboxItem],
) -> StoreResult<()> {
    for effect in effects {
        let list_id = match effect {
            ListEffect::Add { list_id, .. } | ListEffect::Remove { list_id, .. } => list_id,
        };
        let exists: Option<i64> = c
            .prepare_cached("SELECT 1 FROM lists WHERE id = ?1 AND workspace_id = ?2 AND env = ?3")?
            .query_row(
                params![list_id, scope.workspace_id, scope.env.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            continue;
        }
        match effect {
            ListEffect::Add {
                value, expires_s, ..
            } => add_entry(c, list_id, value, *expires_s, ts_ms)?,
            ListEffect::Remove { value, .. } => {
                remove_entry(c, list_id, value)?;
            }
        }
        touch_list(c, list_id, ts_ms)?;
    }
    for id in rule_matches {
        c.prepare_cached(
            "UPDATE rules SET match_count = match_count + 1, last_match_ms = max(coalesce(last_match_ms, 0), ?2)
             WHERE id = ?1 AND workspace_id = ?3 AND env = ?4",
        )?
        .execute(params![id, ts_ms, scope.workspace_id, scope.env.as_str()])?;
    }
    for item in outbox {
        insert_outbox(c, scope, item)?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn sql_create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let scope = scope.clone();
        self.write(move |c| {
            let priority = match rule.priority {
                Some(p) => p,
                None => c
                    .prepare_cached(
                        "SELECT coalesce(max(priority), 0) + 1 FROM rules WHERE workspace_id = ?1 AND env = ?2",
                    )?
                    .query_row(params![scope.workspace_id, scope.env.as_str()], |r| r.get(0))?,
            };
            let rec = RuleRecord {
                id: rule.id,
                name: rule.name,
                status: rule.status,
                priority,
                conditions: rule.conditions,
                action: rule.action,
                version: 1,
                created_ms: now_ms,
                updated_ms: now_ms,
                match_count: 0,
                last_match_ms: None,
            };
            c.execute(
                "INSERT INTO rules (id, workspace_id, env, name, status, priority, conditions, action, version, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)",
                params![
                    rec.id,
                    scope.workspace_id,
                    scope.env.as_str(),
                    rec.name,
                    rec.status,
                    rec.priority,
                    rec.conditions,
                    rec.action,
                    now_ms
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::DuplicateId,
                other => other,
            })?;
            write_version(c, &rec)?;
            Ok(rec)
        })
        .await
    }

    pub(crate) async fn sql_rules(
        &self,
        scope: &Scope,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<RuleRecord>, usize)> {
        let scope = scope.clone();
        self.read(move |c| {
            let (ws, env) = (scope.workspace_id.as_str(), scope.env.as_str());
            let filter = "workspace_id = ?1 AND env = ?2 AND (?3 IS NULL OR status = ?3)";
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM rules WHERE {filter}"))?
                .query_row(params![ws, env, status], |r| r.get(0))?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {RULE_COLS} FROM rules WHERE {filter}
                 ORDER BY priority, created_ms, id LIMIT ?4 OFFSET ?5"
            ))?;
            let rows = st
                .query_map(
                    params![
                        ws,
                        env,
                        status,
                        limit.min(i64::MAX as usize) as i64,
                        offset as i64
                    ],
                    rule_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, total as usize))
        })
        .await
    }

    pub(crate) async fn sql_rule(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<RuleRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| rule_in(c, &scope, &id)).await
    }

    pub(crate) async fn sql_rule_versions(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<Vec<RuleVersion>>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| {
            // Versions outlive their rule and carry no scope: the rule itself says whose they are.
            if rule_in(c, &scope, &id)?.is_none() {
                return Ok(None);
            }
            let mut st = c.prepare_cached(
                "SELECT version, name, status, priority, conditions, action, created_ms
                 FROM rule_versions WHERE rule_id = ?1 ORDER BY version DESC",
            )?;
            let rows = st
                .query_map([&id], |r| {
                    Ok(RuleVersion {
                        version: r.get(0)?,
                        name: r.get(1)?,
                        status: r.get(2)?,
                        priority: r.get(3)?,
                        conditions: r.get(4)?,
                        action: r.get(5)?,
                        created_ms: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(rows))
        })
        .await
    }

    pub(crate) async fn sql_update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let mut rec = rule_in(c, &scope, &id)?.ok_or(StoreError::NotFound)?;
            if let Some(v) = change.name {
                rec.name = v;
            }
            if let Some(v) = change.status {
                rec.status = v;
            }
            if let Some(v) = change.priority {
                rec.priority = v;
            }
            if let Some(v) = change.conditions {
                rec.conditions = v;
            }
            if let Some(v) = change.action {
                rec.action = v;
            }
            rec.version += 1;
            rec.updated_ms = now_ms.max(rec.updated_ms);
            c.execute(
                "UPDATE rules SET name = ?2, status = ?3, priority = ?4, conditions = ?5, action = ?6,
                        version = ?7, updated_ms = ?8 WHERE id = ?1",
                params![
                    rec.id,
                    rec.name,
                    rec.status,
                    rec.priority,
                    rec.conditions,
                    rec.action,
                    rec.version,
                    rec.updated_ms
                ],
            )?;
            write_version(c, &rec)?;
            Ok(rec)
        })
        .await
    }

    pub(crate) async fn sql_delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            // Versions stay: events keep naming the version that decided them.
            Ok(c.execute(
                "DELETE FROM rules WHERE id = ?1 AND workspace_id = ?2 AND env = ?3",
                params![id, scope.workspace_id, scope.env.as_str()],
            )? > 0)
        })
        .await
    }

    pub(crate) async fn sql_create_list(
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
            Ok(ListRecord {
                id: list.id,
                name: list.name,
                list_type: list.list_type,
                description: list.description,
                ttl_s: list.ttl_s,
                purpose: list.purpose,
                entry_count: 0,
                created_ms: now_ms,
                updated_ms: now_ms,
            })
        })
        .await
    }

    pub(crate) async fn sql_lists(
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

    pub(crate) async fn sql_list(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<ListRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| list_in(c, &scope, &id)).await
    }

    pub(crate) async fn sql_list_entries(
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

    pub(crate) async fn sql_change_entries(
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
            let count = list_in(c, &scope, &id)?.map_or(0, |l| l.entry_count);
            Ok(EntryOutcome {
                added: change.add.len(),
                removed,
                entry_count: count,
            })
        })
        .await
    }

    pub(crate) async fn sql_delete_list(
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
            if let Some(item) = &outbox {
                insert_outbox(c, &scope, item)?;
            }
            Ok(true)
        })
        .await
    }

    pub(crate) async fn sql_all_list_entries(
        &self,
        scope: &Scope,
    ) -> StoreResult<Vec<(ListRecord, Vec<ListEntry>)>> {
        let scope = scope.clone();
        let (lists, _) = self.sql_lists(&scope, None, usize::MAX, 0).await?;
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

    pub(crate) async fn sql_events_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<RawEvent>> {
        let scope = scope.clone();
        self.read(move |c| {
            super::events_page(
                c,
                "SELECT request_id, ts_ms, verdict, body FROM events
                 WHERE workspace_id = ?1 AND env = ?2 AND ts_ms >= ?3
                   AND (ts_ms > ?4 OR (ts_ms = ?4 AND request_id > ?5))
                 ORDER BY ts_ms, request_id LIMIT ?6",
                &scope,
                from_ms,
                after,
                limit,
                |r| {
                    Ok(RawEvent {
                        request_id: r.get(0)?,
                        ts_ms: r.get(1)?,
                        verdict: r.get(2)?,
                        body: r.get(3)?,
                    })
                },
            )
        })
        .await
    }
}
