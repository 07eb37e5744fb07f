//! Schema migrations, applied in order and recorded in SQLite's `user_version`.

use rusqlite::Connection;

use crate::StoreResult;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit a shipped entry.
const MIGRATIONS: &[&str] = &[
    // 1: workspaces, API keys, per-environment settings.
    "CREATE TABLE workspaces (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        plan          TEXT NOT NULL,
        custom_limits TEXT,
        created_at    INTEGER NOT NULL
     );
     CREATE TABLE api_keys (
        id             TEXT PRIMARY KEY,
        workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
        env            TEXT NOT NULL,
        key_type       TEXT NOT NULL,
        key_hash       BLOB NOT NULL UNIQUE,
        display_prefix TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        revoked_at     INTEGER
     );
     CREATE TABLE env_settings (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        env          TEXT NOT NULL,
        settings     TEXT NOT NULL,
        PRIMARY KEY (workspace_id, env)
     );",
];

pub(crate) fn apply(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let current_locked: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let start = current.max(current_locked) as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    // Every store has a `default` workspace, so keys can be made before the first start.
    tx.execute(
        "INSERT OR IGNORE INTO workspaces (id, name, plan, custom_limits, created_at)
         VALUES (?1, 'default', 'pro', NULL, ?2)",
        rusqlite::params![
            prynt_core::ids::prefixed_hex_id("ws"),
            prynt_core::timefmt::now_unix()
        ],
    )?;
    tx.commit()?;
    Ok(())
}
