//! Keeps this node's in-memory caches current with what the other nodes of a shared store
//! write: one task follows the store's change feed ([`prynt_store::ChangeFeed`]) after a
//! cursor and applies each change to the cache it concerns.
//!
//! - An identification made elsewhere teaches the matching index (so the visitor is recognised
//!   here, token-less too), the velocity counts and account history, and the event table of
//!   backtests and analytics, as the record stage does for this node's own.
//! - An erased visitor is taken out of the same caches.
//! - A marker (rules, lists, webhooks, keys or settings of a workspace environment changed)
//!   reloads that resource of that scope from the store, or drops the cached keys and
//!   settings so the next request looks them up.
//!
//! **Own changes.** This node applied its own identifications when it made them (the record
//! stage teaches the memory right after the store commits), and teaching them twice would count
//! a visit, a velocity observation and a table row twice; so identifications whose writer id is
//! this store's are skipped. Markers and erasures are applied whoever wrote them: a reload
//! from the store is idempotent, and reloading after one's own change also repairs the one
//! race a reload has (a reload for another node's change that read the store just before this
//! node's own change committed and swapped the older state in after it).
//!
//! **Ahead of the cursor.** On PostgreSQL the cursor passes a change only once every write
//! transaction begun before it has ended, on any database of the server; a slow one (a
//! migration, a `CREATE DATABASE`) would hold every node back. Changes already committed beyond
//! the cursor come with each read as well; they are applied at once and remembered until the
//! cursor reaches them, so each is applied once.
//!
//! **Catching up.** The node reads the feed's head before it loads its caches at start, so
//! whatever commits during the load is read from the feed afterwards (an identification seen
//! by both is harmless to the index, which keeps absolute state per visitor, and the event
//! table drops rows it already holds). The cursor lives in memory; a lost `NOTIFY`, a broken
//! listening connection or a database restart only delays the next read, which continues from
//! the cursor, so nothing is missed. The task wakes on a notification or every
//! [`POLL_EVERY`] at the latest, every 50 ms while changes keep coming (identifications notify
//! at most once per 50 ms per database connection).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use prynt_core::{Environment, Scope};
use prynt_identify::Fingerprint;
use prynt_rules::condition::Verdict;
use prynt_rules::facts::Facts;
use prynt_store::{Change, ChangeCursor, ChangeItem, ChangedResource, RawEvent, StoreError};

use crate::policy::Lists;
use crate::risk::StoredObservation;
use crate::state::AppState;

/// The longest the task sleeps between two reads when no notification wakes it.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How soon the task reads again after a read that brought something new: identifications wake
/// the nodes at most once per 50 ms per database connection, so while changes keep coming the
/// task does not wait for a notification that may not come.
const BUSY_POLL_EVERY: Duration = Duration::from_millis(50);
/// Items read per round trip.
const PAGE: usize = 1_000;
/// How long to wait after the store failed to answer: the first time (a pooled connection that
/// broke is replaced on the next call), doubled on each failure in a row up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_AT_MOST: Duration = Duration::from_secs(1);

/// Follows the feed from `cursor` until the store closes.
pub async fn follow(state: AppState, mut cursor: ChangeCursor) {
    let own = state.store.writer_id();
    let mut last_caught_up = Instant::now();
    // Reloads that failed, retried on every round until they succeed.
    let mut dirty: HashSet<(ChangedResource, Scope)> = HashSet::new();
    // Items applied ahead of the cursor, to skip when the cursor reaches them.
    let mut early: HashSet<ChangeCursor> = HashSet::new();
    let mut retry = RETRY_FIRST;
    loop {
        let mut fresh = false;
        let before = cursor;
        match state.store.changes_after(cursor, PAGE).await {
            Ok(page) => {
                retry = RETRY_FIRST;
                for item in &page.items {
                    if !early.remove(&item.cursor) {
                        fresh = true;
                        apply(&state, own, item, &mut dirty).await;
                    }
                }
                cursor = page.cursor;
                // Committed, but behind a transaction still running elsewhere on the database
                // server: applied now rather than when that transaction ends.
                early.retain(|c| *c > cursor);
                for item in &page.ahead {
                    if early.insert(item.cursor) {
                        fresh = true;
                        apply(&state, own, item, &mut dirty).await;
                    }
                }
                reload_all(&state, &mut dirty).await;
                if page.caught_up {
                    last_caught_up = Instant::now();
                } else if cursor != before {
                    // More is waiting: read on at once. (A full page that did not move the
                    // cursor is all ahead of it, behind a transaction still running: the rest
                    // waits for that transaction rather than for a busy loop.)
                    state.metrics.sync_lag_seconds.set(lag(last_caught_up));
                    continue;
                }
            }
            Err(StoreError::Closed) => return,
            Err(e) => {
                state.metrics.sync_errors.inc();
                // The lag keeps growing while the store cannot be read, so an alert on it fires
                // during an outage too.
                state.metrics.sync_lag_seconds.set(lag(last_caught_up));
                tracing::warn!("change feed: cannot read the store's changes: {e}");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_AT_MOST);
                continue;
            }
        }
        state.metrics.sync_lag_seconds.set(lag(last_caught_up));
        let wait = if fresh { BUSY_POLL_EVERY } else { POLL_EVERY };
        match state.store.wait_for_change(wait).await {
            Ok(_) => {}
            Err(StoreError::Closed) => return,
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}

fn lag(last_caught_up: Instant) -> f64 {
    last_caught_up.elapsed().as_secs_f64()
}

/// Applies one item; the reloads its markers ask for are collected in `dirty` and done once
/// per page.
async fn apply(
    state: &AppState,
    own: i64,
    item: &ChangeItem,
    dirty: &mut HashSet<(ChangedResource, Scope)>,
) {
    match &item.change {
        Change::Identified {
            scope,
            event,
            visitor,
            linked_id,
        } => {
            if item.writer_id == own {
                return;
            }
            identified(state, scope, event, visitor, linked_id.as_deref()).await;
            let delay_ms = prynt_core::timefmt::now_unix_ms() - item.at_ms;
            state
                .metrics
                .sync_propagation
                .observe(delay_ms.max(0) as f64 / 1000.0);
            state
                .metrics
                .sync_applied
                .with_label_values(&["identified"])
                .inc();
        }
        Change::VisitorDeleted { scope, visitor_id } => {
            state.identity.index(scope).write().remove(visitor_id);
            state.risk.forget_visitor(scope, visitor_id).await;
            if let Some(policy) = state.policy.loaded(scope) {
                policy.forget_visitor(visitor_id).await;
                policy.drop_visitor_entries(visitor_id);
            }
            state
                .metrics
                .sync_applied
                .with_label_values(&["visitor_deleted"])
                .inc();
        }
        Change::Marker {
            resource,
            workspace_id,
            env,
        } => {
            let envs = match env {
                Some(e) => vec![*e],
                None => vec![Environment::Test, Environment::Live],
            };
            for env in envs {
                let scope = Scope {
                    workspace_id: workspace_id.clone(),
                    env,
                };
                dirty.insert((*resource, scope));
            }
            state
                .metrics
                .sync_applied
                .with_label_values(&[resource.as_str()])
                .inc();
        }
    }
}

/// Teaches the caches an identification another node made.
async fn identified(
    state: &AppState,
    scope: &Scope,
    event: &RawEvent,
    visitor: &prynt_store::StoredProfile,
    linked_id: Option<&str>,
) {
    if let Some(fp) = Fingerprint::from_bytes(&visitor.profile) {
        state.identity.index(scope).write().upsert_stored(
            &visitor.visitor_id,
            &fp,
            event.ts_ms,
            visitor.total_visits,
            visitor.matched_visits,
        );
    }
    let Ok(facts) = Facts::from_json(&event.body) else {
        tracing::warn!(request_id = %event.request_id, "change feed: an event does not parse");
        return;
    };
    if let Some(o) = StoredObservation::of_facts(&facts, Some(&visitor.visitor_id), linked_id) {
        state
            .risk
            .record_from_feed(scope, &o.observation(event.ts_ms));
    }
    if let Some(policy) = state.policy.loaded(scope) {
        let verdict = event.verdict.as_deref().and_then(Verdict::parse);
        policy.observe(event.ts_ms, &event.request_id, verdict, facts);
    }
}

/// Does the reloads collected from a page; those that fail stay for the next round.
async fn reload_all(state: &AppState, dirty: &mut HashSet<(ChangedResource, Scope)>) {
    let pending: Vec<_> = dirty.drain().collect();
    for (resource, scope) in pending {
        if let Err(e) = reload(state, resource, &scope).await {
            state.metrics.sync_errors.inc();
            tracing::warn!(
                workspace = %scope.workspace_id,
                env = scope.env.as_str(),
                resource = resource.as_str(),
                "change feed: reload failed, retrying: {e}"
            );
            dirty.insert((resource, scope));
        }
    }
}

async fn reload(
    state: &AppState,
    resource: ChangedResource,
    scope: &Scope,
) -> Result<(), StoreError> {
    match resource {
        ChangedResource::Keys => {
            state.cache.forget_keys_of(&scope.workspace_id);
            Ok(())
        }
        ChangedResource::Settings => {
            state.cache.forget_settings(scope);
            Ok(())
        }
        // A scope this node has not loaded yet loads everything fresh when first used.
        _ => {
            let Some(policy) = state.policy.loaded(scope) else {
                return Ok(());
            };
            // In step with this node's own changes of the scope, so the memory follows the
            // store in order.
            let _changes = policy.changes.lock().await;
            let store = state.store.as_ref();
            match resource {
                ChangedResource::Rules => policy.reload_rules(store, scope).await,
                ChangedResource::Webhooks => policy.reload_webhooks(store, scope).await,
                _ => {
                    let all = store.all_list_entries(scope).await?;
                    let mut lists = Lists::default();
                    for (rec, entries) in &all {
                        lists.insert(rec, entries);
                    }
                    *policy.lists.write() = lists;
                    Ok(())
                }
            }
        }
    }
}
