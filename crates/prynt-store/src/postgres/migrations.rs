//! The PostgreSQL schema and its migrations: a numbered list, each applied in its own
//! transaction and recorded in `schema_migrations`, all under one advisory lock so that nodes
//! starting together take turns instead of racing.
//!
//! Times are Unix milliseconds in `BIGINT` (seconds where the SQLite store keeps seconds),
//! digests and profiles `BYTEA`, JSON `TEXT` exactly as the server serialised it (the API
//! shows it in that order, which `JSONB` would not keep). Text that is compared or ordered
//! (ids, names, list values) uses the `C` collation: byte order, as in the SQLite store, so that
//! keyset cursors and listings behave alike on both stores, whatever the database's locale.

use deadpool_postgres::{Object, Pool};

use crate::StoreResult;

/// The advisory lock every migration run holds (the bytes of `prynt mig`).
const MIGRATION_LOCK: i64 = 0x7072_796e_7420_6d69;

/// One migration: its number, what it does, and its SQL.
struct Migration {
    version: i32,
    description: &'static str,
    sql: &'static str,
}

/// Never edit a shipped entry; add the next one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "workspaces, keys, settings, visitors, events, rules, lists, webhooks, \
                  deliveries, idempotency keys",
        sql: r#"
CREATE TABLE workspaces (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT COLLATE "C" NOT NULL UNIQUE,
    plan          TEXT NOT NULL,
    custom_limits TEXT,
    created_at    BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id             TEXT COLLATE "C" PRIMARY KEY,
    workspace_id   TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    env            TEXT COLLATE "C" NOT NULL,
    key_type       TEXT NOT NULL,
    key_hash       BYTEA NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at);
CREATE TABLE env_settings (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    env          TEXT COLLATE "C" NOT NULL,
    settings     TEXT NOT NULL,
    PRIMARY KEY (workspace_id, env)
);
CREATE TABLE server_secrets (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE visitors (
    visitor_id    TEXT COLLATE "C" PRIMARY KEY,
    workspace_id  TEXT COLLATE "C" NOT NULL,
    env           TEXT COLLATE "C" NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    total_visits  BIGINT NOT NULL,
    profile       BYTEA NOT NULL
);
CREATE INDEX visitors_scope ON visitors (workspace_id, env, visitor_id);
CREATE TABLE visitor_links (
    visitor_id    TEXT COLLATE "C" NOT NULL,
    linked_id     TEXT COLLATE "C" NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    PRIMARY KEY (visitor_id, linked_id)
);
CREATE TABLE events (
    request_id    TEXT COLLATE "C" PRIMARY KEY,
    workspace_id  TEXT COLLATE "C" NOT NULL,
    env           TEXT COLLATE "C" NOT NULL,
    visitor_id    TEXT COLLATE "C" NOT NULL,
    ts_ms         BIGINT NOT NULL,
    verdict       TEXT COLLATE "C",
    bot           BOOLEAN,
    body          TEXT NOT NULL,
    first_seen_ms BIGINT,
    event_type    TEXT COLLATE "C",
    linked_id     TEXT COLLATE "C",
    country       TEXT COLLATE "C",
    ip            TEXT COLLATE "C"
);
CREATE INDEX events_scope_time ON events (workspace_id, env, ts_ms, request_id);
CREATE INDEX events_visitor_time ON events (workspace_id, env, visitor_id, ts_ms, request_id);
-- One index per listing filter, holding only the events that have its value; the planner
-- picks among them with its statistics.
CREATE INDEX events_type ON events (workspace_id, env, event_type, ts_ms, request_id)
    WHERE event_type IS NOT NULL;
CREATE INDEX events_country ON events (workspace_id, env, country, ts_ms, request_id)
    WHERE country IS NOT NULL;
CREATE INDEX events_verdict ON events (workspace_id, env, verdict, ts_ms, request_id)
    WHERE verdict IS NOT NULL;
CREATE INDEX events_bot ON events (workspace_id, env, ts_ms, request_id) WHERE bot;
CREATE INDEX events_linked ON events (workspace_id, env, ts_ms, request_id)
    WHERE linked_id IS NOT NULL;
-- Retention deletes by time across every workspace.
CREATE INDEX events_time ON events (ts_ms);

CREATE TABLE rules (
    id            TEXT COLLATE "C" PRIMARY KEY,
    workspace_id  TEXT COLLATE "C" NOT NULL,
    env           TEXT COLLATE "C" NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    priority      BIGINT NOT NULL,
    conditions    TEXT NOT NULL,
    action        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    match_count   BIGINT NOT NULL DEFAULT 0,
    last_match_ms BIGINT
);
CREATE INDEX rules_scope ON rules (workspace_id, env, priority, created_ms);
CREATE TABLE rule_versions (
    rule_id    TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    priority   BIGINT NOT NULL,
    conditions TEXT NOT NULL,
    action     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (rule_id, version)
);
CREATE TABLE lists (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    env          TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    type         TEXT COLLATE "C" NOT NULL,
    description  TEXT,
    ttl_s        BIGINT,
    purpose      TEXT,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    CONSTRAINT lists_scope_name UNIQUE (workspace_id, env, name)
);
CREATE TABLE list_entries (
    list_id   TEXT COLLATE "C" NOT NULL,
    value     TEXT COLLATE "C" NOT NULL,
    added_ms  BIGINT NOT NULL,
    expires_s BIGINT,
    PRIMARY KEY (list_id, value)
);
CREATE INDEX list_entries_value ON list_entries (value);
CREATE INDEX list_entries_added ON list_entries (list_id, added_ms DESC, value);

CREATE TABLE outbox (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    env          TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_ms);
CREATE TABLE webhooks (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    workspace_id        TEXT COLLATE "C" NOT NULL,
    env                 TEXT COLLATE "C" NOT NULL,
    url                 TEXT NOT NULL,
    description         TEXT,
    events              TEXT NOT NULL,
    filters             TEXT NOT NULL,
    status              TEXT COLLATE "C" NOT NULL,
    secret              TEXT NOT NULL,
    old_secret          TEXT,
    old_secret_until_ms BIGINT,
    created_ms          BIGINT NOT NULL,
    updated_ms          BIGINT NOT NULL
);
CREATE INDEX webhooks_scope ON webhooks (workspace_id, env, created_ms);
CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      TEXT COLLATE "C" NOT NULL,
    workspace_id    TEXT COLLATE "C" NOT NULL,
    env             TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL,
    payload_id      TEXT NOT NULL,
    outbox_id       TEXT COLLATE "C",
    request_id      TEXT COLLATE "C",
    status          TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    -- The node number (see `liveness`) of the worker holding the lease.
    lease_owner     INTEGER,
    created_ms      BIGINT NOT NULL,
    last_attempt_ms BIGINT,
    last_status     INTEGER,
    last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (webhook_id, next_attempt_ms) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE TABLE delivery_attempts (
    delivery_id BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    webhook_id  TEXT COLLATE "C" NOT NULL,
    at_ms       BIGINT NOT NULL,
    status_code INTEGER,
    latency_ms  BIGINT NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, at_ms);
-- Payloads waiting to become one delivery per webhook: one small row in the cause's
-- transaction instead of a delivery row per webhook on the identification path.
CREATE TABLE fanout (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    env          TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    payload_id   TEXT NOT NULL,
    outbox_id    TEXT COLLATE "C",
    request_id   TEXT COLLATE "C",
    webhook_ids  TEXT[] NOT NULL,
    created_ms   BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    owner        BYTEA NOT NULL,
    idem_key     TEXT COLLATE "C" NOT NULL,
    request_hash BYTEA NOT NULL,
    created_ms   BIGINT NOT NULL,
    status       INTEGER,
    headers      TEXT,
    body         BYTEA,
    PRIMARY KEY (owner, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_ms);
"#,
    },
    Migration {
        version: 2,
        description: "the change feed: change_log, and a trigger that notifies prynt_changes",
        sql: super::feed::MIGRATION_SQL,
    },
    Migration {
        version: 3,
        description: "identifications wake the other nodes from the node, not a trigger",
        sql: super::feed::NODE_NOTIFY_MIGRATION_SQL,
    },
    Migration {
        version: 4,
        description: "visitors count their returns recognised by fingerprint without a token",
        sql: r#"
ALTER TABLE visitors ADD COLUMN matched_visits BIGINT NOT NULL DEFAULT 0;
UPDATE visitors v SET matched_visits = m.n FROM (
    SELECT visitor_id, count(*) AS n FROM events
    WHERE body LIKE '%"identifiedBy":"fingerprint"%'
    GROUP BY visitor_id
) m WHERE v.visitor_id = m.visitor_id;
"#,
    },
];

/// A migration applied by one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i32,
    pub description: String,
}

/// What a migration run found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version before the run (0 for an empty database).
    pub from_version: i32,
    /// The schema version after it: the latest this build knows.
    pub to_version: i32,
    pub applied: Vec<AppliedMigration>,
}

/// Applies every pending migration, then makes sure the `default` workspace and the token key
/// exist. The advisory lock is held by a connection taken out of the pool, so that it goes
/// away with the connection whatever happens on the way.
pub(crate) async fn apply(pool: &Pool) -> StoreResult<MigrationReport> {
    let mut conn = Object::take(pool.get().await?);
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = apply_locked(&mut conn).await;
    if report.is_ok() {
        conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await?;
    }
    report
}

async fn apply_locked(conn: &mut deadpool_postgres::ClientWrapper) -> StoreResult<MigrationReport> {
    // `IF NOT EXISTS` would otherwise log a notice at every start; this connection is
    // discarded afterwards.
    conn.batch_execute(
        "SET client_min_messages TO warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
            version       INTEGER PRIMARY KEY,
            description   TEXT NOT NULL,
            applied_at_ms BIGINT NOT NULL
         )",
    )
    .await?;
    let from_version: i32 = conn
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > from_version) {
        let tx = conn.transaction().await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at_ms)
             VALUES ($1, $2, $3)",
            &[
                &m.version,
                &m.description,
                &prynt_core::timefmt::now_unix_ms(),
            ],
        )
        .await?;
        tx.commit().await?;
        applied.push(AppliedMigration {
            version: m.version,
            description: m.description.to_owned(),
        });
    }
    // Every store has a `default` workspace, so keys can be made before the first start, and
    // one key that signs visitor tokens, shared by every node.
    conn.execute(
        "INSERT INTO workspaces (id, name, plan, custom_limits, created_at)
         VALUES ($1, 'default', 'pro', NULL, $2) ON CONFLICT DO NOTHING",
        &[
            &prynt_core::ids::prefixed_hex_id("ws"),
            &prynt_core::timefmt::now_unix(),
        ],
    )
    .await?;
    conn.execute(
        "INSERT INTO server_secrets (name, value) VALUES ('token_key', $1) ON CONFLICT DO NOTHING",
        &[&prynt_core::ids::random_bytes(32)],
    )
    .await?;
    Ok(MigrationReport {
        from_version,
        to_version: MIGRATIONS.last().map_or(0, |m| m.version).max(from_version),
        applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
    }
}
