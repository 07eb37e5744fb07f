//! SQL of identification: visitors, their profiles and links, and events.

use async_trait::async_trait;
use prynt_core::{timefmt, Environment, Scope};
use rusqlite::{params, params_from_iter, types::Value as Sql, OptionalExtension};

use super::SqliteStore;
use crate::{
    DeviceSeen, EventQuery, EventRow, EventStore, IpSeen, LinkedUse, NewIdentification, RawEvent,
    StoreError, StoreResult, StoredProfile, VisitorSummary,
};

/// Columns every event query selects, in the order [`event_row`] reads them.
const EVENT_COLS: &str = "request_id, ts_ms, body, first_seen_ms";

type EventColumns = (String, i64, String, Option<i64>);

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_event(t: EventColumns) -> StoreResult<EventRow> {
    let mut body: serde_json::Value = serde_json::from_str(&t.2)?;
    if let (Some(first), Some(slot)) = (t.3, body.get_mut("firstSeenAt")) {
        *slot = serde_json::Value::String(timefmt::rfc3339(first.div_euclid(1000)));
    }
    Ok(EventRow {
        request_id: t.0,
        ts_ms: t.1,
        body,
    })
}

/// Index entries a probe counts at most (see [`choose_walk`]).
const PROBE_CAP: i64 = 2_000;

/// An index a listing may walk newest first, and the terms that select its part.
struct Walk {
    index: &'static str,
    terms: Vec<(&'static str, Option<Sql>)>,
}

/// The indexes that can serve a listing's filters, in the order preferred when they look alike
/// (events' usual selectivity: a visitor, the rare verdicts `block` and `challenge`, bots, a
/// country, a type, `allow`). Each filter index carries the other filters' columns, so a walk
/// checks them without reading the rows that do not match. Without any of these filters the
/// time index serves.
fn walks(q: &EventQuery) -> Vec<Walk> {
    let text = |v: &str| Some(Sql::Text(v.to_owned()));
    let mut out = Vec::new();
    let mut add = |index, terms| out.push(Walk { index, terms });
    if let Some(v) = &q.visitor_id {
        add("events_visitor_time", vec![("visitor_id = ?", text(v))]);
    }
    let rare_verdict = matches!(q.verdict.as_deref(), Some("block" | "challenge"));
    if let (Some(v), true) = (&q.verdict, rare_verdict) {
        add("events_verdict", vec![("verdict = ?", text(v))]);
    }
    if q.bot == Some(true) {
        add("events_bot", vec![("bot = 1", None)]);
    }
    if let Some(c) = &q.country {
        add(
            "events_country",
            vec![("country = ?", text(&c.to_ascii_uppercase()))],
        );
    }
    if let Some(t) = &q.event_type {
        add("events_type", vec![("event_type = ?", text(t))]);
    }
    if let (Some(v), false) = (&q.verdict, rare_verdict) {
        add("events_verdict", vec![("verdict = ?", text(v))]);
    }
    out
}

/// The index a listing walks: with several candidates, the one whose part (within the
/// listing's time range) is smallest, counted up to [`PROBE_CAP`] entries each, ties to the
/// preferred. The planner has no statistics to pick by, and a poor pick walks most of the
/// table when the other filters match little of it: an environment without rules has no
/// verdicts at all, one under attack mostly bots. What a page can still cost is walking the
/// chosen part when every candidate's holds more than the cap and the other filters match
/// nothing in it (a country and a type that are both common but never together).
fn choose_walk(
    c: &rusqlite::Connection,
    scope: &Scope,
    q: &EventQuery,
) -> StoreResult<&'static str> {
    let candidates = walks(q);
    if candidates.len() < 2 {
        return Ok(candidates.first().map_or("events_scope_time", |w| w.index));
    }
    let (range, range_args) = time_range(q);
    let mut best: Option<(&'static str, i64)> = None;
    for walk in candidates {
        let mut sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY {}
             WHERE workspace_id = ? AND env = ? AND ts_ms >= ?{range}",
            walk.index
        );
        let mut args = vec![
            Sql::Text(scope.workspace_id.clone()),
            Sql::Text(scope.env.as_str().into()),
            Sql::Integer(q.retention_floor_ms),
        ];
        args.extend(range_args.iter().cloned());
        for (term, arg) in walk.terms {
            sql.push_str(" AND ");
            sql.push_str(term);
            args.extend(arg);
        }
        // Counting past the best part so far tells nothing more.
        sql.push_str(" LIMIT ?)");
        args.push(Sql::Integer(best.map_or(PROBE_CAP, |(_, m)| m)));
        let n: i64 = c
            .prepare_cached(&sql)?
            .query_row(params_from_iter(args), |r| r.get(0))?;
        if best.is_none_or(|(_, m)| n < m) {
            best = Some((walk.index, n));
        }
        if n == 0 {
            break;
        }
    }
    Ok(best.map_or("events_scope_time", |(index, _)| index))
}

/// The listing's time bounds besides retention: `before`, `after` and the cursor's time.
fn time_range(q: &EventQuery) -> (String, Vec<Sql>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    if let Some(b) = q.before_ms {
        sql.push_str(" AND ts_ms < ?");
        args.push(Sql::Integer(b));
    }
    if let Some(a) = q.after_ms {
        sql.push_str(" AND ts_ms > ?");
        args.push(Sql::Integer(a));
    }
    // Bounds the walk, so that a later page starts at its cursor instead of stepping over
    // every newer event.
    if let Some((ts, _)) = &q.cursor {
        sql.push_str(" AND ts_ms <= ?");
        args.push(Sql::Integer(*ts));
    }
    (sql, args)
}

/// The SQL of one page of a listing walking `index`, and its arguments.
fn events_sql(scope: &Scope, q: &EventQuery, index: &str) -> (String, Vec<Sql>) {
    let (range, range_args) = time_range(q);
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM events INDEXED BY {index}
         WHERE workspace_id = ? AND env = ? AND ts_ms >= ?{range}"
    );
    let mut args: Vec<Sql> = vec![
        Sql::Text(scope.workspace_id.clone()),
        Sql::Text(scope.env.as_str().into()),
        Sql::Integer(q.retention_floor_ms),
    ];
    args.extend(range_args);
    if let Some(v) = &q.visitor_id {
        sql.push_str(" AND visitor_id = ?");
        args.push(Sql::Text(v.clone()));
    }
    if let Some(v) = &q.verdict {
        sql.push_str(" AND verdict = ?");
        args.push(Sql::Text(v.clone()));
    }
    // A literal, so that the bots' partial index (`WHERE bot = 1`) applies.
    match q.bot {
        Some(true) => sql.push_str(" AND bot = 1"),
        Some(false) => sql.push_str(" AND bot = 0"),
        None => {}
    }
    if let Some(t) = &q.event_type {
        sql.push_str(" AND event_type = ?");
        args.push(Sql::Text(t.clone()));
    }
    if let Some(c) = &q.country {
        sql.push_str(" AND country = ?");
        args.push(Sql::Text(c.to_ascii_uppercase()));
    }
    if let Some((ts, id)) = &q.cursor {
        sql.push_str(" AND (ts_ms < ? OR (ts_ms = ? AND request_id < ?))");
        args.push(Sql::Integer(*ts));
        args.push(Sql::Integer(*ts));
        args.push(Sql::Text(id.clone()));
    }
    sql.push_str(" ORDER BY ts_ms DESC, request_id DESC LIMIT ?");
    args.push(Sql::Integer(q.limit as i64 + 1));
    (sql, args)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn record_identification(&self, rec: NewIdentification) -> StoreResult<()> {
        self.write(move |c| {
            let env = rec.scope.env.as_str();
            let updated = c
                .prepare_cached(
                    "INSERT INTO visitors (visitor_id, workspace_id, env, first_seen_ms, last_seen_ms, total_visits,
                                           matched_visits, profile)
                     VALUES (?1, ?2, ?3, ?4, ?4, 1, 0, ?5)
                     ON CONFLICT (visitor_id) DO UPDATE SET
                        last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
                        total_visits = total_visits + 1,
                        matched_visits = matched_visits + ?6,
                        profile = excluded.profile
                     WHERE workspace_id = excluded.workspace_id AND env = excluded.env",
                )?
                .execute(params![
                    rec.visitor_id,
                    rec.scope.workspace_id,
                    env,
                    rec.ts_ms,
                    rec.profile,
                    i64::from(rec.matched)
                ])?;
            if updated == 0 {
                // The id exists in another workspace: refuse rather than merge tenants.
                return Err(StoreError::Conflict("visitor id belongs to another scope".into()));
            }
            if let Some(linked) = &rec.linked_id {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO visitor_links (visitor_id, linked_id, first_seen_ms) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![rec.visitor_id, linked, rec.ts_ms])?;
            }
            let inserted = c
                .prepare_cached(
                    "INSERT INTO events (request_id, workspace_id, env, visitor_id, ts_ms, verdict, bot, body, first_seen_ms,
                                         event_type, linked_id, country, ip)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                             (SELECT first_seen_ms FROM visitors WHERE visitor_id = ?4), ?9, ?10, ?11, ?12)",
                )?
                .execute(
                    params![
                        rec.request_id,
                        rec.scope.workspace_id,
                        env,
                        rec.visitor_id,
                        rec.ts_ms,
                        rec.verdict,
                        rec.bot,
                        rec.body,
                        rec.event_type,
                        rec.linked_id,
                        rec.country.as_deref().map(str::to_ascii_uppercase),
                        rec.ip
                    ],
                );
            match inserted {
                Ok(_) => {
                    super::feed::note_identified(c, &rec.scope, &rec.request_id, rec.ts_ms)?;
                    if !rec.list_effects.is_empty() {
                        super::feed::note_marker(
                            c,
                            crate::feed::ChangedResource::Lists,
                            &rec.scope.workspace_id,
                            Some(rec.scope.env),
                        )?;
                    }
                    super::decision::apply_decision(
                        c,
                        &rec.scope,
                        rec.ts_ms,
                        &rec.list_effects,
                        &rec.rule_matches,
                        &rec.outbox,
                    )
                }
                Err(rusqlite::Error::SqliteFailure(e, Some(msg)))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation && msg.contains("events.request_id") =>
                {
                    Err(StoreError::DuplicateId)
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn profiles_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<StoredProfile>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT workspace_id, env, visitor_id, profile, first_seen_ms, last_seen_ms,
                        total_visits, matched_visits
                 FROM visitors WHERE visitor_id > ?1 ORDER BY visitor_id LIMIT ?2",
            )?;
            let rows = st.query_map(params![after.unwrap_or_default(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    (
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                    ),
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (ws, env, visitor_id, profile, (first_seen_ms, last_seen_ms, visits, matched)) =
                    row?;
                let Some(env) = Environment::parse(&env) else {
                    continue;
                };
                out.push(StoredProfile {
                    scope: Scope {
                        workspace_id: ws,
                        env,
                    },
                    visitor_id,
                    profile,
                    first_seen_ms,
                    last_seen_ms,
                    total_visits: visits.max(0) as u64,
                    matched_visits: matched.max(0) as u64,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn event(
        &self,
        scope: &Scope,
        request_id: &str,
        floor: i64,
    ) -> StoreResult<Option<EventRow>> {
        let (scope, id) = (scope.clone(), request_id.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT request_id, ts_ms, body, first_seen_ms FROM events
                 WHERE request_id = ?1 AND workspace_id = ?2 AND env = ?3 AND ts_ms >= ?4",
            )?
            .query_row(
                params![id, scope.workspace_id, scope.env.as_str(), floor],
                event_row,
            )
            .optional()?
            .map(to_event)
            .transpose()
        })
        .await
    }

    async fn events(&self, scope: &Scope, q: EventQuery) -> StoreResult<Vec<EventRow>> {
        let scope = scope.clone();
        self.read(move |c| {
            let index = choose_walk(c, &scope, &q)?;
            let (sql, args) = events_sql(&scope, &q, index);
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params_from_iter(args), event_row)?;
            rows.map(|r| to_event(r?)).collect()
        })
        .await
    }

    async fn visitor(
        &self,
        scope: &Scope,
        visitor_id: &str,
        floor: i64,
    ) -> StoreResult<Option<VisitorSummary>> {
        let (scope, id) = (scope.clone(), visitor_id.to_owned());
        self.read(move |c| {
            let env = scope.env.as_str();
            let head = c
                .prepare_cached(
                    "SELECT first_seen_ms, last_seen_ms, total_visits FROM visitors
                     WHERE visitor_id = ?1 AND workspace_id = ?2 AND env = ?3",
                )?
                .query_row(params![id, scope.workspace_id, env], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .optional()?;
            let Some((first, last, total)) = head else { return Ok(None) };
            let linked: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM visitor_links WHERE visitor_id = ?1")?
                .query_row([&id], |r| r.get(0))?;
            let mut st = c.prepare_cached(
                "SELECT json_extract(body, '$.device.platform'), json_extract(body, '$.device.browser'),
                        json_extract(body, '$.device.gpu'), max(ts_ms) AS last
                 FROM events WHERE workspace_id = ?1 AND env = ?2 AND visitor_id = ?3 AND ts_ms >= ?4
                 GROUP BY 1, 2, 3 ORDER BY last DESC LIMIT 50",
            )?;
            let devices = st
                .query_map(params![scope.workspace_id, env, id, floor], |r| {
                    Ok(DeviceSeen { platform: r.get(0)?, browser: r.get(1)?, gpu: r.get(2)?, last_seen_ms: r.get(3)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut st = c.prepare_cached(
                "SELECT json_extract(body, '$.ip.address') AS ip, COUNT(*), min(ts_ms), max(ts_ms) AS last
                 FROM events WHERE workspace_id = ?1 AND env = ?2 AND visitor_id = ?3 AND ts_ms >= ?4
                 GROUP BY 1 HAVING ip IS NOT NULL ORDER BY last DESC LIMIT 50",
            )?;
            let ips = st
                .query_map(params![scope.workspace_id, env, id, floor], |r| {
                    Ok(IpSeen { address: r.get(0)?, visits: r.get(1)?, first_seen_ms: r.get(2)?, last_seen_ms: r.get(3)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut st = c.prepare_cached(
                "SELECT l.name FROM list_entries e JOIN lists l ON l.id = e.list_id
                 WHERE e.value = ?1 AND l.workspace_id = ?2 AND l.env = ?3 AND l.type = 'visitor'
                   AND (e.expires_s IS NULL OR e.expires_s > ?4)
                 ORDER BY l.name",
            )?;
            let lists = st
                .query_map(params![id, scope.workspace_id, env, timefmt::now_unix()], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(Some(VisitorSummary {
                visitor_id: id,
                first_seen_ms: first,
                last_seen_ms: last,
                total_visits: total,
                linked_accounts: linked,
                devices,
                ips,
                lists,
            }))
        })
        .await
    }

    /// Erases the visitor with every copy of what its events carried: the events, its
    /// profile, links and visitor-list entries, the webhook payloads that name it or one of its
    /// events (rule matches, list updates; a delivery still due then finds its payload erased),
    /// and the identify answers kept for `Idempotency-Key` replays. Acknowledged once the WAL
    /// no longer holds the rows either (`write_erasing`).
    async fn delete_visitor(&self, scope: &Scope, visitor_id: &str) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), visitor_id.to_owned());
        self.write_erasing(move |c| {
            let env = scope.env.as_str();
            let first_seen: Option<i64> = c
                .query_row(
                    "DELETE FROM visitors WHERE visitor_id = ?1 AND workspace_id = ?2 AND env = ?3
                     RETURNING first_seen_ms",
                    params![id, scope.workspace_id, env],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(first_seen) = first_seen else {
                return Ok(false);
            };
            // Before the events go: the payloads are found by the events' request IDs too.
            // Nothing about the visitor was queued before its first visit (a minute's grace
            // for the clocks of other processes on the file).
            c.execute(
                "DELETE FROM outbox WHERE workspace_id = ?1 AND env = ?2 AND created_ms >= ?4
                    AND (instr(payload, ?3) > 0
                         OR (json_valid(payload) AND json_extract(payload, '$.data.requestId') IN
                             (SELECT request_id FROM events
                              WHERE workspace_id = ?1 AND env = ?2 AND visitor_id = ?3)))",
                params![scope.workspace_id, env, id, first_seen - 60_000],
            )?;
            c.execute(
                "DELETE FROM events WHERE workspace_id = ?1 AND env = ?2 AND visitor_id = ?3",
                params![scope.workspace_id, env, id],
            )?;
            c.execute("DELETE FROM visitor_links WHERE visitor_id = ?1", [&id])?;
            c.execute(
                "DELETE FROM list_entries WHERE value = ?1 AND list_id IN
                    (SELECT id FROM lists WHERE workspace_id = ?2 AND env = ?3 AND type = 'visitor')",
                params![id, scope.workspace_id, env],
            )?;
            // A replay would hand the erased visitor ID out again; without the kept answer a
            // retried identify runs anew. Visitor IDs are unique across workspaces. (A key is
            // claimed before its request runs, so its time says nothing about the visitor's.)
            c.execute(
                "DELETE FROM idempotency_keys
                 WHERE body IS NOT NULL AND instr(body, CAST(?1 AS BLOB)) > 0",
                [&id],
            )?;
            super::feed::note_visitor_deleted(c, &scope, &id)?;
            Ok(true)
        })
        .await
    }

    async fn linked_uses_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<LinkedUse>> {
        let scope = scope.clone();
        self.read(move |c| {
            super::events_page(
                c,
                "SELECT request_id, ts_ms, visitor_id, linked_id
                 FROM events
                 WHERE workspace_id = ?1 AND env = ?2 AND ts_ms >= ?3
                   AND (ts_ms > ?4 OR (ts_ms = ?4 AND request_id > ?5))
                   AND linked_id IS NOT NULL
                 ORDER BY ts_ms, request_id LIMIT ?6",
                &scope,
                from_ms,
                after,
                limit,
                |r| {
                    Ok(LinkedUse {
                        request_id: r.get(0)?,
                        ts_ms: r.get(1)?,
                        visitor_id: r.get(2)?,
                        linked_id: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    async fn events_ascending(
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

    async fn purge_events_before(&self, floor: i64) -> StoreResult<usize> {
        self.write(move |c| Ok(c.execute("DELETE FROM events WHERE ts_ms < ?1", [floor])?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of filters is served by walking one index in time order: no sort,
    /// no scan of the table.
    #[test]
    fn every_filter_combination_walks_an_index_in_time_order() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut c).unwrap();
        let scope = Scope {
            workspace_id: "ws_1".into(),
            env: Environment::Test,
        };
        for bits in 0u32..(1 << 9) {
            let on = |i: u32| bits & (1 << i) != 0;
            let q = EventQuery {
                visitor_id: on(0).then(|| "pv_a".to_owned()),
                verdict: match (on(1), on(2)) {
                    (true, true) => Some("block".into()),
                    (true, false) => Some("allow".into()),
                    _ => None,
                },
                bot: on(3).then_some(on(2)),
                event_type: on(4).then(|| "login".to_owned()),
                country: on(5).then(|| "us".to_owned()),
                before_ms: on(6).then_some(5_000),
                after_ms: on(7).then_some(1_000),
                cursor: on(8).then(|| (4_000, "req_4_aaaaaa".to_owned())),
                limit: 50,
                retention_floor_ms: 0,
            };
            let mut indexes: Vec<&str> = walks(&q).iter().map(|w| w.index).collect();
            if indexes.is_empty() {
                indexes.push("events_scope_time");
            }
            assert!(indexes.contains(&choose_walk(&c, &scope, &q).unwrap()));
            for index in indexes {
                let (sql, args) = events_sql(&scope, &q, index);
                let plan: Vec<String> = c
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .unwrap()
                    .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let text = plan.join(" | ");
                assert!(text.contains(&format!("INDEX {index}")), "{q:?}: {text}");
                assert!(!text.contains("TEMP B-TREE"), "{q:?}: {text}");
            }
        }
    }

    /// The walk follows the smaller part: verdicts an environment never set, a type without
    /// events, bots where nearly every event is one.
    #[test]
    fn the_walk_follows_the_filter_with_the_fewest_events() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut c).unwrap();
        let scope = Scope {
            workspace_id: "ws_1".into(),
            env: Environment::Test,
        };
        for i in 0..300 {
            c.execute(
                "INSERT INTO events (request_id, workspace_id, env, visitor_id, ts_ms, bot,
                                     event_type, country, body)
                 VALUES (?1, 'ws_1', 'test', 'pv_a', ?2, ?3, 'login', 'US', '{}')",
                params![format!("req_{i}_aaaaaa"), i, (i % 50 != 0) as i64],
            )
            .unwrap();
        }
        let pick = |q: EventQuery| choose_walk(&c, &scope, &q).unwrap();
        let login = || Some("login".to_owned());
        assert_eq!(
            pick(EventQuery {
                event_type: login(),
                verdict: Some("allow".into()),
                ..Default::default()
            }),
            "events_verdict"
        );
        assert_eq!(
            pick(EventQuery {
                event_type: Some("signup".into()),
                bot: Some(true),
                ..Default::default()
            }),
            "events_type"
        );
        assert_eq!(
            pick(EventQuery {
                event_type: login(),
                country: Some("us".into()),
                bot: Some(true),
                ..Default::default()
            }),
            "events_bot",
            "fewer bots than logins or events from the US"
        );
        assert_eq!(
            pick(EventQuery {
                visitor_id: Some("pv_b".into()),
                bot: Some(true),
                ..Default::default()
            }),
            "events_visitor_time"
        );
        assert_eq!(pick(EventQuery::default()), "events_scope_time");
        assert_eq!(
            pick(EventQuery {
                bot: Some(false),
                ..Default::default()
            }),
            "events_scope_time"
        );
    }
}
