//! [`RuleStore`] in SQL: rules with their immutable versions. What a change makes of a rule
//! is [`crate::merge`]'s to say; this module reads the row and writes the result.

use async_trait::async_trait;
use prynt_core::Scope;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::merge;
use crate::{NewRule, RuleChange, RuleRecord, RuleStore, RuleVersion, StoreError, StoreResult};

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

/// Inserts the immutable version row of a rule's current state.
fn write_version(c: &Connection, r: &RuleRecord) -> StoreResult<()> {
    let v = merge::rule_version(r);
    c.prepare_cached(
        "INSERT INTO rule_versions (rule_id, version, name, status, priority, conditions, action, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![r.id, v.version, v.name, v.status, v.priority, v.conditions, v.action, v.created_ms])?;
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

#[async_trait]
impl RuleStore for SqliteStore {
    async fn create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let scope = scope.clone();
        self.write(move |c| {
            let priority = match rule.priority {
                Some(p) => p,
                None => merge::next_priority(
                    c.prepare_cached(
                        "SELECT max(priority) FROM rules WHERE workspace_id = ?1 AND env = ?2",
                    )?
                    .query_row(params![scope.workspace_id, scope.env.as_str()], |r| r.get(0))?,
                ),
            };
            let rec = merge::new_rule_record(rule, priority, now_ms);
            c.execute(
                "INSERT INTO rules (id, workspace_id, env, name, status, priority, conditions, action, version, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    rec.id,
                    scope.workspace_id,
                    scope.env.as_str(),
                    rec.name,
                    rec.status,
                    rec.priority,
                    rec.conditions,
                    rec.action,
                    rec.version,
                    rec.created_ms,
                    rec.updated_ms
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::DuplicateId,
                other => other,
            })?;
            write_version(c, &rec)?;
            super::feed::note_marker(c, crate::feed::ChangedResource::Rules, &scope.workspace_id, Some(scope.env))?;
            Ok(rec)
        })
        .await
    }

    async fn rules(
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

    async fn rule(&self, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read(move |c| rule_in(c, &scope, &id)).await
    }

    async fn rule_versions(
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

    async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            let current = rule_in(c, &scope, &id)?.ok_or(StoreError::NotFound)?;
            let rec = merge::apply_rule_change(&current, change, now_ms);
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
            super::feed::note_marker(c, crate::feed::ChangedResource::Rules, &scope.workspace_id, Some(scope.env))?;
            Ok(rec)
        })
        .await
    }

    async fn delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.write(move |c| {
            // Versions stay: events keep naming the version that decided them.
            let deleted = c.execute(
                "DELETE FROM rules WHERE id = ?1 AND workspace_id = ?2 AND env = ?3",
                params![id, scope.workspace_id, scope.env.as_str()],
            )? > 0;
            if deleted {
                super::feed::note_marker(
                    c,
                    crate::feed::ChangedResource::Rules,
                    &scope.workspace_id,
                    Some(scope.env),
                )?;
            }
            Ok(deleted)
        })
        .await
    }
}
