//! [`EventStore`] on PostgreSQL: identification events, their visitors with profiles and links,
//! listings and replay.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use prynt_core::{timefmt, Environment, Scope};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::error::violated_constraint;
use super::PostgresStore;
use crate::{
    DeviceSeen, EventQuery, EventRow, EventStore, IpSeen, LinkedUse, ListEffect, NewIdentification,
    OutboxItem, RawEvent, StoreError, StoreResult, StoredProfile, VisitorSummary,
};

/// Columns every event query selects, in the order [`to_event`] reads them.
const EVENT_COLS: &str = "request_id, ts_ms, body, first_seen_ms";

/// An event as the API shows it: its stored body with `firstSeenAt` filled in from the
/// visitor's first-seen time.
fn to_event(row: &Row) -> StoreResult<EventRow> {
    let text: String = row.try_get(2)?;
    let first: Option<i64> = row.try_get(3)?;
    let mut body: serde_json::Value = serde_json::from_str(&text)?;
    if let (Some(first), Some(slot)) = (first, body.get_mut("firstSeenAt")) {
        *slot = serde_json::Value::String(timefmt::rfc3339(first.div_euclid(1000)));
    }
    Ok(EventRow {
        request_id: row.try_get(0)?,
        ts_ms: row.try_get(1)?,
        body,
    })
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// Borrows boxed parameters as `tokio_postgres` takes them.
pub(crate) fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Adds a parameter and returns its placeholder.
fn bind(params: &mut Params, value: impl ToSql + Sync + Send + 'static) -> String {
    params.push(Box::new(value));
    format!("${}", params.len())
}

/// The SQL of one page of a listing and its parameters. The planner picks the index from
/// its statistics (the per-filter partial indexes, the visitor's, or time order).
fn events_sql(scope: &Scope, q: &EventQuery) -> (String, Params) {
    let mut params: Params = Vec::new();
    let p = &mut params;
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE workspace_id = {} AND env = {} AND ts_ms >= {}",
        bind(p, scope.workspace_id.clone()),
        bind(p, scope.env.as_str().to_owned()),
        bind(p, q.retention_floor_ms)
    );
    if let Some(b) = q.before_ms {
        sql.push_str(&format!(" AND ts_ms < {}", bind(p, b)));
    }
    if let Some(a) = q.after_ms {
        sql.push_str(&format!(" AND ts_ms > {}", bind(p, a)));
    }
    if let Some(v) = &q.visitor_id {
        sql.push_str(&format!(" AND visitor_id = {}", bind(p, v.clone())));
    }
    if let Some(v) = &q.verdict {
        sql.push_str(&format!(" AND verdict = {}", bind(p, v.clone())));
    }
    // A literal, so that the bots' partial index (`WHERE bot`) applies.
    match q.bot {
        Some(true) => sql.push_str(" AND bot"),
        Some(false) => sql.push_str(" AND bot = false"),
        None => {}
    }
    if let Some(t) = &q.event_type {
        sql.push_str(&format!(" AND event_type = {}", bind(p, t.clone())));
    }
    if let Some(c) = &q.country {
        sql.push_str(&format!(
            " AND country = {}",
            bind(p, c.to_ascii_uppercase())
        ));
    }
    if let Some((ts, id)) = &q.cursor {
        let ts = bind(p, *ts);
        let id = bind(p, id.clone());
        // The first term bounds the index walk; the second steps past the cursor's own time.
        sql.push_str(&format!(
            " AND ts_ms <= {ts} AND (ts_ms < {ts} OR request_id < {id})"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY ts_ms DESC, request_id DESC LIMIT {}",
        bind(p, q.limit.min(i64::MAX as usize - 1) as i64 + 1)
    ));
    (sql, params)
}

/// Applies a rule's side effects, bumps the matched rules' statistics and queues the outbox,
/// all inside the identification's transaction. A list deleted meanwhile is skipped.
async fn apply_decision(
    tx: &impl GenericClient,
    scope: &Scope,
    ts_ms: i64,
    effects: &[ListEffect],
    rule_matches: &[String],
    outbox: &[OutboxItem],
) -> StoreResult<()> {
    // The lists' rows first, as a change of their entries takes them, and in id order in every
    // transaction, so that no two writers wait on each other's list and entry rows in a cycle.
    // A list deleted meanwhile is skipped.
    let list_of = |effect: &ListEffect| match effect {
        ListEffect::Add { list_id, .. } | ListEffect::Remove { list_id, .. } => list_id.clone(),
    };
    let mut wanted: Vec<String> = effects.iter().map(list_of).collect();
    wanted.sort();
    wanted.dedup();
    let mut existing = std::collections::HashSet::new();
    if !wanted.is_empty() {
        for row in tx
            .query(
                "SELECT id FROM lists WHERE id = ANY($1) AND workspace_id = $2 AND env = $3
                 ORDER BY id FOR UPDATE",
                &[&wanted, &scope.workspace_id, &scope.env.as_str()],
            )
            .await?
        {
            existing.insert(row.try_get::<_, String>(0)?);
        }
    }
    for effect in effects {
        let list_id = list_of(effect);
        if !existing.contains(&list_id) {
            continue;
        }
        match effect {
            ListEffect::Add {
                value, expires_s, ..
            } => super::lists::add_entry(tx, &list_id, value, *expires_s, ts_ms).await?,
            ListEffect::Remove { value, .. } => {
                super::lists::remove_entry(tx, &list_id, value).await?;
            }
        }
        super::lists::touch_list(tx, &list_id, ts_ms).await?;
    }
    // Rules in one order in every transaction, so two identifications matching the same
    // rules never wait on each other in a cycle.
    let mut matched: Vec<&String> = rule_matches.iter().collect();
    matched.sort();
    if !matched.is_empty() {
        let st = tx
            .prepare_cached(
                "UPDATE rules SET match_count = match_count + 1,
                        last_match_ms = GREATEST(coalesce(last_match_ms, 0), $2)
                 WHERE id = $1 AND workspace_id = $3 AND env = $4",
            )
            .await?;
        for id in matched {
            tx.execute(&st, &[id, &ts_ms, &scope.workspace_id, &scope.env.as_str()])
                .await?;
        }
    }
    for item in outbox {
        super::queue::insert_outbox(tx, scope, item).await?;
    }
    Ok(())
}

/// One keyset page of an environment's events in time order: `sql` selects from `events` with
/// `$1` workspace, `$2` environment, `$3` the first time, `$4`/`$5` the last `(ts_ms,
/// request_id)` already read and `$6` the page size, ordered by `ts_ms, request_id`.
async fn events_page(
    store: &PostgresStore,
    sql: &str,
    scope: &Scope,
    from_ms: i64,
    after: Option<(i64, String)>,
    limit: usize,
) -> StoreResult<Vec<Row>> {
    let (ts, id) = after.unwrap_or((i64::MIN, String::new()));
    let conn = store.conn().await?;
    let st = conn.prepare_cached(sql).await?;
    Ok(conn
        .query(
            &st,
            &[
                &scope.workspace_id,
                &scope.env.as_str(),
                &from_ms,
                &ts,
                &id,
                &(limit.min(i64::MAX as usize) as i64),
            ],
        )
        .await?)
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn record_identification(&self, rec: NewIdentification) -> StoreResult<()> {
        let env = rec.scope.env.as_str();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO visitors AS v (visitor_id, workspace_id, env, first_seen_ms, last_seen_ms,
                                           total_visits, matched_visits, profile)
                 VALUES ($1, $2, $3, $4, $4, 1, 0, $5)
                 ON CONFLICT (visitor_id) DO UPDATE SET
                    last_seen_ms = GREATEST(v.last_seen_ms, EXCLUDED.last_seen_ms),
                    total_visits = v.total_visits + 1,
                    matched_visits = v.matched_visits + $6,
                    profile = EXCLUDED.profile
                 WHERE v.workspace_id = EXCLUDED.workspace_id AND v.env = EXCLUDED.env
                 RETURNING v.first_seen_ms",
            )
            .await?;
        let Some(visitor) = tx
            .query_opt(
                &upsert,
                &[
                    &rec.visitor_id,
                    &rec.scope.workspace_id,
                    &env,
                    &rec.ts_ms,
                    &rec.profile,
                    &i64::from(rec.matched),
                ],
            )
            .await?
        else {
            // The id exists in another workspace: refuse rather than merge tenants.
            return Err(StoreError::Conflict(
                "visitor id belongs to another scope".into(),
            ));
        };
        let first_seen_ms: i64 = visitor.try_get(0)?;
        if let Some(linked) = &rec.linked_id {
            let st = tx
                .prepare_cached(
                    "INSERT INTO visitor_links (visitor_id, linked_id, first_seen_ms)
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(&st, &[&rec.visitor_id, linked, &rec.ts_ms])
                .await?;
        }
        // The feed's row rides in the same statement: no extra round trip.
        let insert = tx
            .prepare_cached(&format!(
                "WITH inserted AS (
                    INSERT INTO events (request_id, workspace_id, env, visitor_id, ts_ms, verdict, bot,
                                        body, first_seen_ms, event_type, linked_id, country, ip)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                    RETURNING request_id)
                 {}",
                super::feed::IDENTIFIED_FROM_INSERTED
            ))
            .await?;
        let inserted = tx
            .execute(
                &insert,
                &[
                    &rec.request_id,
                    &rec.scope.workspace_id,
                    &env,
                    &rec.visitor_id,
                    &rec.ts_ms,
                    &rec.verdict,
                    &rec.bot,
                    &rec.body,
                    &first_seen_ms,
                    &rec.event_type,
                    &rec.linked_id,
                    &rec.country.as_deref().map(str::to_ascii_uppercase),
                    &rec.ip,
                    &crate::ChangeFeed::writer_id(self),
                ],
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if violated_constraint(&e) == Some("events_pkey") => {
                return Err(StoreError::DuplicateId)
            }
            Err(e) => return Err(e.into()),
        }
        apply_decision(
            &tx,
            &rec.scope,
            rec.ts_ms,
            &rec.list_effects,
            &rec.rule_matches,
            &rec.outbox,
        )
        .await?;
        if !rec.list_effects.is_empty() {
            let scope = &rec.scope;
            self.note_marker(
                &tx,
                crate::ChangedResource::Lists,
                &scope.workspace_id,
                Some(scope.env),
            )
            .await?;
        }
        tx.commit().await?;
        self.identified.notify_one();
        Ok(())
    }

    async fn profiles_page(
        &self,
        after_visitor_id: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<StoredProfile>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT workspace_id, env, visitor_id, profile, first_seen_ms, last_seen_ms,
                        total_visits, matched_visits
                 FROM visitors WHERE visitor_id > $1 ORDER BY visitor_id LIMIT $2",
                &[
                    &after_visitor_id.unwrap_or_default(),
                    &(limit.min(i64::MAX as usize) as i64),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let env: String = r.try_get(1)?;
            let Some(env) = Environment::parse(&env) else {
                continue;
            };
            let visits: i64 = r.try_get(6)?;
            let matched: i64 = r.try_get(7)?;
            out.push(StoredProfile {
                scope: Scope {
                    workspace_id: r.try_get(0)?,
                    env,
                },
                visitor_id: r.try_get(2)?,
                profile: r.try_get(3)?,
                first_seen_ms: r.try_get(4)?,
                last_seen_ms: r.try_get(5)?,
                total_visits: visits.max(0) as u64,
                matched_visits: matched.max(0) as u64,
            });
        }
        Ok(out)
    }

    async fn event(
        &self,
        scope: &Scope,
        request_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<EventRow>> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM events
                 WHERE request_id = $1 AND workspace_id = $2 AND env = $3 AND ts_ms >= $4"
            ))
            .await?;
        conn.query_opt(
            &st,
            &[
                &request_id,
                &scope.workspace_id,
                &scope.env.as_str(),
                &retention_floor_ms,
            ],
        )
        .await?
        .as_ref()
        .map(to_event)
        .transpose()
    }

    async fn events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Vec<EventRow>> {
        let (sql, params) = events_sql(scope, &query);
        let conn = self.conn().await?;
        let st = conn.prepare_cached(&sql).await?;
        conn.query(&st, &refs(&params))
            .await?
            .iter()
            .map(to_event)
            .collect()
    }

    async fn visitor(
        &self,
        scope: &Scope,
        visitor_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<VisitorSummary>> {
        let env = scope.env.as_str();
        let conn = self.conn().await?;
        let Some(head) = conn
            .query_opt(
                "SELECT first_seen_ms, last_seen_ms, total_visits,
                        (SELECT count(*) FROM visitor_links l WHERE l.visitor_id = v.visitor_id)
                 FROM visitors v WHERE visitor_id = $1 AND workspace_id = $2 AND env = $3",
                &[&visitor_id, &scope.workspace_id, &env],
            )
            .await?
        else {
            return Ok(None);
        };
        let devices = conn
            .query(
                "SELECT body::jsonb #>> '{device,platform}', body::jsonb #>> '{device,browser}',
                        body::jsonb #>> '{device,gpu}', max(ts_ms) AS last
                 FROM events
                 WHERE workspace_id = $1 AND env = $2 AND visitor_id = $3 AND ts_ms >= $4
                 GROUP BY 1, 2, 3 ORDER BY last DESC LIMIT 50",
                &[&scope.workspace_id, &env, &visitor_id, &retention_floor_ms],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DeviceSeen {
                    platform: r.try_get(0)?,
                    browser: r.try_get(1)?,
                    gpu: r.try_get(2)?,
                    last_seen_ms: r.try_get(3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let ips = conn
            .query(
                "SELECT body::jsonb #>> '{ip,address}' AS address, count(*), min(ts_ms),
                        max(ts_ms) AS last
                 FROM events
                 WHERE workspace_id = $1 AND env = $2 AND visitor_id = $3 AND ts_ms >= $4
                   AND body::jsonb #>> '{ip,address}' IS NOT NULL
                 GROUP BY 1 ORDER BY last DESC LIMIT 50",
                &[&scope.workspace_id, &env, &visitor_id, &retention_floor_ms],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(IpSeen {
                    address: r.try_get(0)?,
                    visits: r.try_get(1)?,
                    first_seen_ms: r.try_get(2)?,
                    last_seen_ms: r.try_get(3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let lists = conn
            .query(
                "SELECT l.name FROM list_entries e JOIN lists l ON l.id = e.list_id
                 WHERE e.value = $1 AND l.workspace_id = $2 AND l.env = $3 AND l.type = 'visitor'
                   AND (e.expires_s IS NULL OR e.expires_s > $4)
                 ORDER BY l.name",
                &[&visitor_id, &scope.workspace_id, &env, &timefmt::now_unix()],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect::<StoreResult<Vec<String>>>()?;
        Ok(Some(VisitorSummary {
            visitor_id: visitor_id.to_owned(),
            first_seen_ms: head.try_get(0)?,
            last_seen_ms: head.try_get(1)?,
            total_visits: head.try_get(2)?,
            linked_accounts: head.try_get(3)?,
            devices,
            ips,
            lists,
        }))
    }

    /// Erases the visitor with every copy of what its events carried, as on SQLite: the
    /// events, its profile, links and visitor-list entries, the webhook payloads that name it
    /// or one of its events, and the identify answers kept for `Idempotency-Key` replays. The
    /// deleted tuples' bytes stay in the table files until the space is reused or the table is
    /// rewritten, and in WAL segments until they are recycled (docs/data-erasure.md).
    async fn delete_visitor(&self, scope: &Scope, visitor_id: &str) -> StoreResult<bool> {
        let env = scope.env.as_str();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "DELETE FROM visitors WHERE visitor_id = $1 AND workspace_id = $2 AND env = $3
                 RETURNING first_seen_ms",
                &[&visitor_id, &scope.workspace_id, &env],
            )
            .await?
        else {
            return Ok(false);
        };
        let first_seen: i64 = row.try_get(0)?;
        // Before the events go: the payloads are found by the events' request IDs too (read
        // as text, so that no payload has to parse for an erasure to go through). Nothing
        // about the visitor was queued before its first visit, give or take the nodes' clocks.
        tx.execute(
            "DELETE FROM outbox WHERE workspace_id = $1 AND env = $2 AND created_ms >= $4
                AND (strpos(payload, $3) > 0
                     OR substring(payload from '\"requestId\": ?\"([^\"]*)\"') IN
                        (SELECT request_id FROM events
                         WHERE workspace_id = $1 AND env = $2 AND visitor_id = $3))",
            &[
                &scope.workspace_id,
                &env,
                &visitor_id,
                &(first_seen - 60_000),
            ],
        )
        .await?;
        // A replay would hand the erased visitor ID out again. A key is claimed before its
        // request runs, so its time says nothing about the visitor's.
        tx.execute(
            "DELETE FROM idempotency_keys
             WHERE body IS NOT NULL AND position(convert_to($1, 'UTF8') in body) > 0",
            &[&visitor_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM events WHERE workspace_id = $1 AND env = $2 AND visitor_id = $3",
            &[&scope.workspace_id, &env, &visitor_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM visitor_links WHERE visitor_id = $1",
            &[&visitor_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM list_entries WHERE value = $1 AND list_id IN
                (SELECT id FROM lists WHERE workspace_id = $2 AND env = $3 AND type = 'visitor')",
            &[&visitor_id, &scope.workspace_id, &env],
        )
        .await?;
        self.note_visitor_deleted(&tx, scope, visitor_id).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_events_before(&self, floor_ms: i64) -> StoreResult<usize> {
        self.delete_in_batches("events", "ts_ms", floor_ms).await
    }

    async fn events_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<RawEvent>> {
        events_page(
            self,
            "SELECT request_id, ts_ms, verdict, body FROM events
             WHERE workspace_id = $1 AND env = $2 AND ts_ms >= $3
               AND (ts_ms > $4 OR (ts_ms = $4 AND request_id > $5))
             ORDER BY ts_ms, request_id LIMIT $6",
            scope,
            from_ms,
            after,
            limit,
        )
        .await?
        .iter()
        .map(|r| {
            Ok(RawEvent {
                request_id: r.try_get(0)?,
                ts_ms: r.try_get(1)?,
                verdict: r.try_get(2)?,
                body: r.try_get(3)?,
            })
        })
        .collect()
    }

    async fn linked_uses_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<LinkedUse>> {
        events_page(
            self,
            "SELECT request_id, ts_ms, visitor_id, linked_id FROM events
             WHERE workspace_id = $1 AND env = $2 AND ts_ms >= $3
               AND (ts_ms > $4 OR (ts_ms = $4 AND request_id > $5))
               AND linked_id IS NOT NULL
             ORDER BY ts_ms, request_id LIMIT $6",
            scope,
            from_ms,
            after,
            limit,
        )
        .await?
        .iter()
        .map(|r| {
            Ok(LinkedUse {
                request_id: r.try_get(0)?,
                ts_ms: r.try_get(1)?,
                visitor_id: r.try_get(2)?,
                linked_id: r.try_get(3)?,
            })
        })
        .collect()
    }
}
