//! [`RuleStore`] on PostgreSQL: rules and their immutable versions. An update locks the rule's
//! row, so that changes made on two nodes at once become two consecutive versions.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::Scope;
use tokio_postgres::Row;

use super::error::violated_constraint;
use super::PostgresStore;
use crate::merge;
use crate::{NewRule, RuleChange, RuleRecord, RuleStore, RuleVersion, StoreError, StoreResult};

const RULE_COLS: &str = "id, name, status, priority, conditions, action, version, created_ms, \
                         updated_ms, match_count, last_match_ms";

fn rule_from_row(r: &Row) -> StoreResult<RuleRecord> {
    Ok(RuleRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        status: r.try_get(2)?,
        priority: r.try_get(3)?,
        conditions: r.try_get(4)?,
        action: r.try_get(5)?,
        version: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        updated_ms: r.try_get(8)?,
        match_count: r.try_get(9)?,
        last_match_ms: r.try_get(10)?,
    })
}

/// The scope's rule `id`; with `lock`, its row stays locked until the transaction ends.
async fn rule_in(
    c: &impl GenericClient,
    scope: &Scope,
    id: &str,
    lock: bool,
) -> StoreResult<Option<RuleRecord>> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE id = $1 AND workspace_id = $2 AND env = $3{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let st = c.prepare_cached(&sql).await?;
    c.query_opt(&st, &[&id, &scope.workspace_id, &scope.env.as_str()])
        .await?
        .as_ref()
        .map(rule_from_row)
        .transpose()
}

async fn write_version(c: &impl GenericClient, rule_id: &str, v: &RuleVersion) -> StoreResult<()> {
    c.execute(
        "INSERT INTO rule_versions (rule_id, version, name, status, priority, conditions, action,
                                    created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &rule_id,
            &v.version,
            &v.name,
            &v.status,
            &v.priority,
            &v.conditions,
            &v.action,
            &v.created_ms,
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl RuleStore for PostgresStore {
    async fn create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let priority = match rule.priority {
            Some(p) => p,
            None => merge::next_priority(
                tx.query_one(
                    "SELECT max(priority) FROM rules WHERE workspace_id = $1 AND env = $2",
                    &[&scope.workspace_id, &scope.env.as_str()],
                )
                .await?
                .try_get(0)?,
            ),
        };
        let rec = merge::new_rule_record(rule, priority, now_ms);
        let inserted = tx
            .execute(
                "INSERT INTO rules (id, workspace_id, env, name, status, priority, conditions, action,
                                    version, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &rec.id,
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &rec.name,
                    &rec.status,
                    &rec.priority,
                    &rec.conditions,
                    &rec.action,
                    &rec.version,
                    &rec.created_ms,
                    &rec.updated_ms,
                ],
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if violated_constraint(&e).is_some() => return Err(StoreError::DuplicateId),
            Err(e) => return Err(e.into()),
        }
        write_version(&tx, &rec.id, &merge::rule_version(&rec))
            .await
            .map_err(|e| match e {
                // Versions outlive their rule: an id whose versions remain is taken too.
                StoreError::Conflict(_) => StoreError::DuplicateId,
                other => other,
            })?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Rules,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn rules(
        &self,
        scope: &Scope,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<RuleRecord>, usize)> {
        let conn = self.conn().await?;
        let filter = "workspace_id = $1 AND env = $2 AND ($3::text IS NULL OR status = $3)";
        let total: i64 = conn
            .query_one(
                &format!("SELECT count(*) FROM rules WHERE {filter}"),
                &[&scope.workspace_id, &scope.env.as_str(), &status],
            )
            .await?
            .try_get(0)?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {RULE_COLS} FROM rules WHERE {filter}
                     ORDER BY priority, created_ms, id LIMIT $4 OFFSET $5"
                ),
                &[
                    &scope.workspace_id,
                    &scope.env.as_str(),
                    &status,
                    &(limit.min(i64::MAX as usize) as i64),
                    &(offset.min(i64::MAX as usize) as i64),
                ],
            )
            .await?
            .iter()
            .map(rule_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total.max(0) as usize))
    }

    async fn rule(&self, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>> {
        let conn = self.conn().await?;
        rule_in(&conn, scope, id, false).await
    }

    async fn rule_versions(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<Vec<RuleVersion>>> {
        let conn = self.conn().await?;
        // Versions outlive their rule and carry no scope: the rule itself says whose they are.
        if rule_in(&conn, scope, id, false).await?.is_none() {
            return Ok(None);
        }
        let rows = conn
            .query(
                "SELECT version, name, status, priority, conditions, action, created_ms
                 FROM rule_versions WHERE rule_id = $1 ORDER BY version DESC",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(RuleVersion {
                    version: r.try_get(0)?,
                    name: r.try_get(1)?,
                    status: r.try_get(2)?,
                    priority: r.try_get(3)?,
                    conditions: r.try_get(4)?,
                    action: r.try_get(5)?,
                    created_ms: r.try_get(6)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(rows))
    }

    async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let current = rule_in(&tx, scope, id, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        let rec = merge::apply_rule_change(&current, change, now_ms);
        tx.execute(
            "UPDATE rules SET name = $2, status = $3, priority = $4, conditions = $5, action = $6,
                    version = $7, updated_ms = $8 WHERE id = $1",
            &[
                &rec.id,
                &rec.name,
                &rec.status,
                &rec.priority,
                &rec.conditions,
                &rec.action,
                &rec.version,
                &rec.updated_ms,
            ],
        )
        .await?;
        write_version(&tx, &rec.id, &merge::rule_version(&rec)).await?;
        self.note_marker(
            &tx,
            crate::ChangedResource::Rules,
            &scope.workspace_id,
            Some(scope.env),
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // Versions stay: events keep naming the version that decided them.
        let deleted = tx
            .execute(
                "DELETE FROM rules WHERE id = $1 AND workspace_id = $2 AND env = $3",
                &[&id, &scope.workspace_id, &scope.env.as_str()],
            )
            .await?
            > 0;
        if deleted {
            self.note_marker(
                &tx,
                crate::ChangedResource::Rules,
                &scope.workspace_id,
                Some(scope.env),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
