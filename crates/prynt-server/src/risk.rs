//! Wires velocity to the server: one in-memory [`Velocity`] per workspace environment, asked
//! for an event's features before it is stored and taught the event once it is durable, and
//! pruned of day-old observations in the background.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prynt_core::Scope;
use prynt_signals::velocity::{Features, Observation, Velocity};

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
}
