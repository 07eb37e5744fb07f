//! Wires velocity to the server: one in-memory [`Velocity`] per workspace environment, asked
//! for an event's features before it is stored and taught the event once it is durable, and
//! pruned of day-old observations in the background. At start-up the counts are rebuilt from
//! the stored events of the last 24 hours, so a restart does not reset them.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prynt_core::{Environment, Scope};
use prynt_rules::facts::{Facts, Value};
use prynt_rules::fields;
use prynt_signals::velocity::{Features, Observation, Velocity};
use prynt_store::{Store, StoreError};

#[derive(Default)]
pub struct Risk {
    scopes: RwLock<HashMap<Scope, Arc<Mutex<Velocity>>>>,
}

impl Risk {
    fn of(&self, scope: &Scope) -> Arc<Mutex<Velocity>> {
        if let Some(v) = self.scopes.read().get(scope) {
            return Arc::clone(v);
        }
        Arc::clone(self.scopes.write().entry(scope.clone()).or_default())
    }

    pub fn features(&self, scope: &Scope, o: &Observation<'_>) -> Features {
        self.of(scope).lock().features(o)
    }

    pub fn record(&self, scope: &Scope, o: &Observation<'_>) {
        self.of(scope).lock().record(o);
    }

    /// Part of erasing a visitor: no count may remember it.
    pub fn forget_visitor(&self, scope: &Scope, visitor_id: &str) {
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
        let path = |p: &str| fields::lookup(p);
        let (Some(visitor), Some(ip), Some(country), Some(linked), Some(lat), Some(lng)) = (
            path("visitorId"),
            path("ip.address"),
            path("ip.country"),
            path("event.linkedId"),
            path("ip.lat"),
            path("ip.lng"),
        ) else {
            return Ok(0);
        };
        let text = |f: &Facts, id| match f.get(id) {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        };
        let num = |f: &Facts, id| match f.get(id) {
            Value::Num(x) => Some(*x),
            _ => None,
        };
        let mut replayed = 0;
        for ws in store.list_workspaces().await? {
            for env in [Environment::Test, Environment::Live] {
                let scope = Scope {
                    workspace_id: ws.id.clone(),
                    env,
                };
                let mut after = None;
                loop {
                    let page = store.events_ascending(&scope, from, after, 5_000).await?;
                    let Some(last) = page.last() else { break };
                    after = Some((last.ts_ms, last.request_id.clone()));
                    let full = page.len() == 5_000;
                    let velocity = self.of(&scope);
                    let mut v = velocity.lock();
                    for e in &page {
                        let Ok(f) = Facts::from_json(&e.body) else {
                            continue;
                        };
                        let (Some(visitor_id), Some(address)) = (text(&f, visitor), text(&f, ip))
                        else {
                            continue;
                        };
                        let country_code = text(&f, country);
                        let linked_id = text(&f, linked);
                        v.record(&Observation {
                            visitor_id: &visitor_id,
                            ip: &address,
                            country: country_code.as_deref(),
                            linked_id: linked_id.as_deref(),
                            location: num(&f, lat).zip(num(&f, lng)),
                            ts_s: e.ts_ms / 1000,
                        });
                        replayed += 1;
                    }
                    if !full {
                        break;
                    }
                }
            }
        }
        Ok(replayed)
    }
}
