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
    // 2: identification: the server's token key, visitors with their matching profile, linked
    // accounts and events (full JSON plus the columns lists and filters need).
    "CREATE TABLE server_secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
     );
     CREATE TABLE visitors (
        visitor_id    TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL,
        env           TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        total_visits  INTEGER NOT NULL,
        profile       BLOB NOT NULL
     );
     CREATE INDEX visitors_scope ON visitors (workspace_id, env, visitor_id);
     CREATE TABLE visitor_links (
        visitor_id TEXT NOT NULL,
        linked_id  TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (visitor_id, linked_id)
     );
     CREATE TABLE events (
        request_id   TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        env          TEXT NOT NULL,
        visitor_id   TEXT NOT NULL,
        ts_ms        INTEGER NOT NULL,
        verdict      TEXT,
        bot          INTEGER,
        body         TEXT NOT NULL
     );
     CREATE INDEX events_scope_time ON events (workspace_id, env, ts_ms, request_id);
     CREATE INDEX events_visitor_time ON events (workspace_id, env, visitor_id, ts_ms, request_id);",
    // 3: the visitor's first-seen time travels with each event as a column, so the writer
    // stores the event body as the handler serialised it.
    "ALTER TABLE events ADD COLUMN first_seen_ms INTEGER;",
    // 4: rules with their immutable versions, lists with their entries, and the webhook outbox.
    "CREATE TABLE rules (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL,
        env           TEXT NOT NULL,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL,
        priority      INTEGER NOT NULL,
        conditions    TEXT NOT NULL,
        action        TEXT NOT NULL,
        version       INTEGER NOT NULL,
        created_ms    INTEGER NOT NULL,
        updated_ms    INTEGER NOT NULL,
        match_count   INTEGER NOT NULL DEFAULT 0,
        last_match_ms INTEGER
     );
     CREATE INDEX rules_scope ON rules (workspace_id, env, priority, created_ms);
     CREATE TABLE rule_versions (
        rule_id    TEXT NOT NULL,
        version    INTEGER NOT NULL,
        name       TEXT NOT NULL,
        status     TEXT NOT NULL,
        priority   INTEGER NOT NULL,
        conditions TEXT NOT NULL,
        action     TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (rule_id, version)
     );
     CREATE TABLE lists (
        id           TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        env          TEXT NOT NULL,
        name         TEXT NOT NULL,
        type         TEXT NOT NULL,
        description  TEXT,
        ttl_s        INTEGER,
        purpose      TEXT,
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL,
        UNIQUE (workspace_id, env, name)
     );
     CREATE TABLE list_entries (
        list_id   TEXT NOT NULL,
        value     TEXT NOT NULL,
        added_ms  INTEGER NOT NULL,
        expires_s INTEGER,
        PRIMARY KEY (list_id, value)
     );
     CREATE INDEX list_entries_value ON list_entries (value);
     CREATE TABLE outbox (
        id           TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        env          TEXT NOT NULL,
        kind         TEXT NOT NULL,
        payload      TEXT NOT NULL,
        created_ms   INTEGER NOT NULL
     );
     CREATE INDEX outbox_created ON outbox (created_ms);",
    // 5: webhooks, one delivery per (payload, webhook) with its attempts. A delivery's payload
    // is an outbox row, or for identification events the stored event itself.
    "CREATE TABLE webhooks (
        id                  TEXT PRIMARY KEY,
        workspace_id        TEXT NOT NULL,
        env                 TEXT NOT NULL,
        url                 TEXT NOT NULL,
        description         TEXT,
        events              TEXT NOT NULL,
        filters             TEXT NOT NULL,
        status              TEXT NOT NULL,
        secret              TEXT NOT NULL,
        old_secret          TEXT,
        old_secret_until_ms INTEGER,
        created_ms          INTEGER NOT NULL,
        updated_ms          INTEGER NOT NULL
     );
     CREATE INDEX webhooks_scope ON webhooks (workspace_id, env, created_ms);
     CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        webhook_id      TEXT NOT NULL,
        workspace_id    TEXT NOT NULL,
        env             TEXT NOT NULL,
        kind            TEXT NOT NULL,
        payload_id      TEXT NOT NULL,
        outbox_id       TEXT,
        request_id      TEXT,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        lease_until_ms  INTEGER NOT NULL DEFAULT 0,
        created_ms      INTEGER NOT NULL,
        last_attempt_ms INTEGER,
        last_status     INTEGER,
        last_error      TEXT
     );
     CREATE INDEX deliveries_due ON deliveries (webhook_id, next_attempt_ms) WHERE status = 'pending';
     CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
     CREATE TABLE delivery_attempts (
        delivery_id INTEGER NOT NULL,
        attempt     INTEGER NOT NULL,
        webhook_id  TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        status_code INTEGER,
        latency_ms  INTEGER NOT NULL,
        error       TEXT,
        PRIMARY KEY (delivery_id, attempt)
     );
     CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, at_ms);",
    // 6: payloads waiting to become one delivery per webhook: one small row in the cause's
    // transaction instead of a delivery row per webhook on the identification path.
    "CREATE TABLE fanout (
        seq          INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        env          TEXT NOT NULL,
        kind         TEXT NOT NULL,
        payload_id   TEXT NOT NULL,
        outbox_id    TEXT,
        request_id   TEXT,
        webhook_ids  TEXT NOT NULL,
        created_ms   INTEGER NOT NULL
     );",
    // 7: Idempotency-Key claims and the responses kept for replay, per caller credential.
    "CREATE TABLE idempotency_keys (
        owner        BLOB NOT NULL,
        idem_key     TEXT NOT NULL,
        request_hash BLOB NOT NULL,
        created_ms   INTEGER NOT NULL,
        status       INTEGER,
        headers      TEXT,
        body         BLOB,
        PRIMARY KEY (owner, idem_key)
     );
     CREATE INDEX idempotency_keys_created ON idempotency_keys (created_ms);",
    // 8: what event listings filter on and show without reading the body: the event's type,
    // linked id, country (upper-case ISO 3166-1 alpha-2) and address as stored. Existing events
    // get them from their bodies.
    "ALTER TABLE events ADD COLUMN event_type TEXT;
     ALTER TABLE events ADD COLUMN linked_id TEXT;
     ALTER TABLE events ADD COLUMN country TEXT;
     ALTER TABLE events ADD COLUMN ip TEXT;
     UPDATE events SET
        event_type = json_extract(body, '$.type'),
        linked_id = json_extract(body, '$.linkedId'),
        country = upper(json_extract(body, '$.ip.country')),
        ip = json_extract(body, '$.ip.address')
     WHERE json_valid(body);",
    // 9: an index per listing filter, newest first within it, each carrying the other
    // filters' columns so that a page is found by walking one index without reading the rows
    // that do not match (`sqlite::events`). Each holds only the events that have its value
    // (many integrations send no type; bots and verdicts are few or none), and since each costs
    // a write a page per distinct value in its commit group, there is none for combinations
    // (see BENCHMARKS.md).
    "CREATE INDEX events_type ON events
        (workspace_id, env, event_type, ts_ms, request_id, country, bot, verdict)
        WHERE event_type IS NOT NULL;
     CREATE INDEX events_country ON events
        (workspace_id, env, country, ts_ms, request_id, event_type, bot, verdict)
        WHERE country IS NOT NULL;
     CREATE INDEX events_verdict ON events
        (workspace_id, env, verdict, ts_ms, request_id, event_type, country, bot)
        WHERE verdict IS NOT NULL;
     CREATE INDEX events_bot ON events
        (workspace_id, env, ts_ms, request_id, event_type, country, verdict)
        WHERE bot = 1;",
    // 10: the change feed (`sqlite::feed`): one row per change, written in the change's
    // transaction, which other processes on the database follow to keep their caches current.
    "CREATE TABLE change_log (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        writer_id    INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        env          TEXT,
        ref_id       TEXT,
        at_ms        INTEGER NOT NULL
     );
     CREATE INDEX change_log_time ON change_log (at_ms);",
    // 11: per visitor, the returns recognised by fingerprint without a token: how often the
    // visitor comes back without one, which the matching index weighs. Existing visitors count
    // the retained events that say so.
    "ALTER TABLE visitors ADD COLUMN matched_visits INTEGER NOT NULL DEFAULT 0;
     UPDATE visitors SET matched_visits = m.n FROM (
        SELECT visitor_id, count(*) AS n FROM events
        WHERE json_valid(body) AND json_extract(body, '$.identifiedBy') = 'fingerprint'
        GROUP BY visitor_id
     ) AS m WHERE visitors.visitor_id = m.visitor_id;",
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
    // The key that signs visitor tokens, shared by every node of the store.
    let key = prynt_core::ids::random_bytes(32);
    tx.execute(
        "INSERT OR IGNORE INTO server_secrets (name, value) VALUES ('token_key', ?1)",
        [key.as_slice()],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database whose schema is as the first `version` migrations left it.
    fn at_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!("PRAGMA user_version = {version}"))
            .unwrap();
        conn
    }

    #[test]
    fn existing_events_get_their_listing_columns_from_their_bodies() {
        let mut conn = at_version(7);
        let bodies = [
            (
                "req_1",
                r#"{"type": "login", "linkedId": "u1", "ip": {"address": "73.162.1.0", "country": "us"}}"#,
            ),
            ("req_2", r#"{"type": null, "ip": {"address": "::1"}}"#),
            ("req_3", r#"{"visitorId": "pv_a"}"#),
        ];
        for (id, body) in bodies {
            conn.execute(
                "INSERT INTO events (request_id, workspace_id, env, visitor_id, ts_ms, body)
                 VALUES (?1, 'ws', 'test', 'pv_a', 1, ?2)",
                [id, body],
            )
            .unwrap();
        }
        apply(&mut conn).unwrap();
        let mut st = conn
            .prepare(
                "SELECT request_id, event_type, linked_id, country, ip FROM events ORDER BY request_id",
            )
            .unwrap();
        type Cols = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Cols> = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            rows,
            vec![
                (
                    "req_1".into(),
                    some("login"),
                    some("u1"),
                    some("US"),
                    some("73.162.1.0")
                ),
                ("req_2".into(), None, None, None, some("::1")),
                ("req_3".into(), None, None, None, None),
            ]
        );
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }

    #[test]
    fn existing_visitors_count_their_returns_recognised_by_fingerprint() {
        let mut conn = at_version(10);
        for v in ["pv_a", "pv_b", "pv_c"] {
            conn.execute(
                "INSERT INTO visitors (visitor_id, workspace_id, env, first_seen_ms, last_seen_ms,
                                       total_visits, profile)
                 VALUES (?1, 'ws', 'test', 1, 1, 4, x'01')",
                [v],
            )
            .unwrap();
        }
        let events = [
            ("req_1", "pv_a", r#"{"identifiedBy":"new"}"#),
            ("req_2", "pv_a", r#"{"identifiedBy":"fingerprint"}"#),
            ("req_3", "pv_a", r#"{"identifiedBy":"fingerprint"}"#),
            ("req_4", "pv_a", r#"{"identifiedBy":"token"}"#),
            ("req_5", "pv_b", r#"{"identifiedBy":"token"}"#),
            ("req_6", "pv_b", "not json, fingerprint"),
        ];
        for (id, visitor, body) in events {
            conn.execute(
                "INSERT INTO events (request_id, workspace_id, env, visitor_id, ts_ms, body)
                 VALUES (?1, 'ws', 'test', ?2, 1, ?3)",
                [id, visitor, body],
            )
            .unwrap();
        }
        apply(&mut conn).unwrap();
        let counts: Vec<(String, i64)> = conn
            .prepare("SELECT visitor_id, matched_visits FROM visitors ORDER BY visitor_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            counts,
            [("pv_a".into(), 2), ("pv_b".into(), 0), ("pv_c".into(), 0)]
        );
    }
}
