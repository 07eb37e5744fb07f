//! The writes an identification's decision makes in the event's transaction (list side
//! effects, rule match statistics) and the outbox rows any change queues.

use prynt_core::Scope;
use rusqlite::{params, Connection, OptionalExtension};

use super::lists::{add_entry, remove_entry, touch_list};
use crate::{ListEffect, OutboxItem, StoreResult};

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
