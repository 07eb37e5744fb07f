//! Velocity held in this node's memory: one [`Velocity`] per workspace environment, asked
//! for an event's features before it is stored and taught the event once it is durable (and
//! the other nodes' events from the change feed), and pruned of expired observations in the
//! background. At start-up the counts are rebuilt from the stored events of the last 24 hours
//! before the server takes traffic, so a restart does not reset them; the account history
//! behind `newDeviceForAccount` (90 days, or the retention if shorter) is rebuilt from the
//! stored events with a linked id in the background after the start, and until an
//! environment's history is loaded its events report `newDeviceForAccount: false` rather than
//! judge from part of the history. The server runs this without `--redis-url`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prynt_core::{Environment, Scope};
use prynt_signals::velocity::{Features, Observation, Velocity};
use prynt_store::{Store, StoreError};

use super::{account_window_s, StoredObservation, PAGE};

pub struct LocalVelocity {
    scopes: RwLock<HashMap<Scope, Arc<Mutex<Velocity>>>>,
    /// How far back the account history reaches, in seconds.
    account_window_s: i64,
    /// Environments whose account history is still loading from the store, each with the
    /// visitors erased meanwhile, so that the load does not bring them back.
    loading: Mutex<HashMap<Scope, HashSet<String>>>,
}

impl LocalVelocity {
    /// Velocity for a server that keeps events `retention_ms`: the account history reaches
    /// back 90 days, or the retention if shorter, since that is all a restart can rebuild.
    pub fn new(retention_ms: i64) -> Self {
        LocalVelocity {
            scopes: RwLock::default(),
            account_window_s: account_window_s(retention_ms),
            loading: Mutex::default(),
        }
    }

    fn of(&self, scope: &Scope) -> Arc<Mutex<Velocity>> {
        if let Some(v) = self.scopes.read().get(scope) {
            return Arc::clone(v);
        }
        Arc::clone(self.scopes.write().entry(scope.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(Velocity::with_account_window(
                self.account_window_s,
            )))
        }))
    }

    pub fn features(&self, scope: &Scope, o: &Observation<'_>) -> Features {
        let mut f = self.of(scope).lock().features(o);
        if f.new_device_for_account && self.loading.lock().contains_key(scope) {
            // Only part of the account's history is known yet: an older use by this visitor
            // may still be on its way, so claim nothing.
            f.new_device_for_account = false;
        }
        f
    }

    pub fn record(&self, scope: &Scope, o: &Observation<'_>) {
        self.of(scope).lock().record(o);
    }

    /// Part of erasing a visitor: no count may remember it.
    pub fn forget_visitor(&self, scope: &Scope, visitor_id: &str) {
        if let Some(erased) = self.loading.lock().get_mut(scope) {
            erased.insert(visitor_id.to_owned());
        }
        self.of(scope).lock().forget_visitor(visitor_id);
    }

    pub fn prune(&self, now_s: i64) {
        let all: Vec<_> = self.scopes.read().values().cloned().collect();
        for v in all {
            v.lock().prune(now_s);
        }
    }

    /// Teaches the counters every stored event of the last 24 hours, oldest first, before the
    /// server takes traffic. Returns how many events were replayed.
    pub async fn rebuild(&self, store: &dyn Store, now_ms: i64) -> Result<usize, StoreError> {
        let from = now_ms - 86_400_000;
        let mut replayed = 0;
        for ws in store.list_workspaces().await? {
            for env in [Environment::Test, Environment::Live] {
                let scope = Scope {
                    workspace_id: ws.id.clone(),
                    env,
                };
                let mut after = None;
                loop {
                    let page = store.events_ascending(&scope, from, after, PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = Some((last.ts_ms, last.request_id.clone()));
                    let full = page.len() == PAGE;
                    let velocity = self.of(&scope);
                    let mut v = velocity.lock();
                    for e in &page {
                        if let Some(o) = StoredObservation::of_event(&e.body) {
                            v.record(&o.observation(e.ts_ms));
                            replayed += 1;
                        }
                    }
                    if !full {
                        break;
                    }
                }
            }
        }
        Ok(replayed)
    }

    /// Marks the account history of `scopes` as loading: until [`LocalVelocity::load_account_history`]
    /// has run for one, its events report `newDeviceForAccount: false`. Called before the
    /// server takes traffic, with every environment that may have stored events.
    pub fn begin_account_history(&self, scopes: impl IntoIterator<Item = Scope>) {
        let mut loading = self.loading.lock();
        for scope in scopes {
            loading.entry(scope).or_default();
        }
    }

    /// Environments whose account history is still loading.
    pub fn account_history_loading(&self) -> usize {
        self.loading.lock().len()
    }

    /// Teaches the scope's account history every stored use of a linked account within the
    /// window (90 days, or the retention), oldest first, then lets its events report
    /// `newDeviceForAccount` again. Events identified meanwhile are merged, not lost: the
    /// history keeps each visitor's latest time whatever the order. Returns how many uses
    /// were read. On an error the scope stays loading; calling again starts over.
    pub async fn load_account_history(
        &self,
        store: &dyn Store,
        scope: &Scope,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        let velocity = self.of(scope);
        let from = now_ms - self.account_window_s * 1000;
        let mut after = None;
        let mut loaded = 0;
        loop {
            let page = store
                .linked_uses_ascending(scope, from, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.ts_ms, last.request_id.clone()));
            {
                let mut v = velocity.lock();
                let loading = self.loading.lock();
                let erased = loading.get(scope);
                for u in &page {
                    if erased.is_some_and(|e| e.contains(&u.visitor_id)) {
                        continue;
                    }
                    v.note_account_use(&u.visitor_id, &u.linked_id, u.ts_ms / 1000);
                    loaded += 1;
                }
            }
            if page.len() < PAGE {
                break;
            }
        }
        self.loading.lock().remove(scope);
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_store::prelude::*;
    use prynt_store::sqlite::SqliteStore;
    use prynt_store::NewIdentification;

    const DAY_MS: i64 = 86_400_000;

    fn login(visitor_id: &str, ts_s: i64) -> Observation<'_> {
        Observation {
            visitor_id,
            ip: "198.51.100.1",
            country: None,
            linked_id: Some("u1"),
            location: None,
            ts_s,
        }
    }

    #[tokio::test]
    async fn the_account_history_loads_after_the_start_and_claims_nothing_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let ws = store.workspace_by_name("default").await.unwrap().unwrap();
        let scope = Scope {
            workspace_id: ws.id,
            env: Environment::Test,
        };
        let now_ms = prynt_core::timefmt::now_unix_ms();
        let now_s = now_ms / 1000;
        // Stored before the restart: u1 used from A three days ago, from "gone" two days ago,
        // and from "old" 91 days ago.
        for (i, (visitor, days)) in [("pv_a", 3), ("pv_gone", 2), ("pv_old", 91)]
            .into_iter()
            .enumerate()
        {
            let body = serde_json::json!({"visitorId": visitor, "linkedId": "u1"});
            store
                .record_identification(NewIdentification {
                    scope: scope.clone(),
                    request_id: format!("req_{i}"),
                    visitor_id: visitor.into(),
                    ts_ms: now_ms - days * DAY_MS,
                    profile: vec![1],
                    matched: false,
                    linked_id: Some("u1".into()),
                    verdict: None,
                    bot: None,
                    event_type: None,
                    country: None,
                    ip: None,
                    body: body.to_string(),
                    list_effects: vec![],
                    rule_matches: vec![],
                    outbox: vec![],
                })
                .await
                .unwrap();
        }
        let risk = LocalVelocity::new(365 * DAY_MS);
        risk.begin_account_history([scope.clone()]);
        let new_device = |v| {
            risk.features(&scope, &login(v, now_s))
                .new_device_for_account
        };
        // B arrives before the load: the history may hold an older use of B, so no claim.
        risk.record(&scope, &login("pv_c", now_s - 10));
        assert!(!new_device("pv_b"), "nothing is new on part of the history");
        // Identified and erased while the load runs (the erasure racing the load's read).
        risk.record(&scope, &login("pv_b", now_s));
        risk.forget_visitor(&scope, "pv_gone");
        assert_eq!(risk.account_history_loading(), 1);

        let uses = risk
            .load_account_history(&store, &scope, now_ms)
            .await
            .unwrap();
        assert_eq!(uses, 1, "A only: gone was erased, old is past 90 days");
        assert_eq!(risk.account_history_loading(), 0);
        assert!(!new_device("pv_a"), "A used u1 three days ago");
        assert!(!new_device("pv_b"), "B used u1 during the load");
        assert!(!new_device("pv_c"), "C used u1 before the load");
        assert!(
            new_device("pv_gone"),
            "an erased visitor is not brought back"
        );
        assert!(new_device("pv_old"), "a use 91 days ago is past the window");
        assert!(new_device("pv_d"));

        // With a 30-day retention the window is 30 days: A's use is kept, a 40-day-old one not.
        let short = LocalVelocity::new(30 * DAY_MS);
        short.record(&scope, &login("pv_a", now_s - 40 * 86_400));
        assert!(
            !short
                .features(&scope, &login("pv_b", now_s))
                .new_device_for_account
        );
    }
}
