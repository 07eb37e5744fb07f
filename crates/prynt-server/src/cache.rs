//! Short-lived caches in front of the store for what every request reads: the key behind a
//! bearer token and the settings of its environment. Entries live one second, so a key revoked
//! by the CLI (another process) stops working within a second; changes made through this
//! server's API are applied to the cache at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prynt_core::{EnvSettings, Scope};
use prynt_store::AuthenticatedKey;

const TTL: Duration = Duration::from_secs(1);
/// Entries kept before the oldest are dropped wholesale.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct AuthCache {
    keys: Mutex<HashMap<[u8; 32], (Instant, AuthenticatedKey)>>,
    settings: Mutex<HashMap<Scope, (Instant, EnvSettings)>>,
}

fn fresh<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, (Instant, V)>>,
    k: &K,
) -> Option<V> {
    let m = map.lock();
    m.get(k)
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

fn put<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, (Instant, V)>>, k: K, v: V) {
    let mut m = map.lock();
    if m.len() >= MAX_ENTRIES {
        m.retain(|_, (at, _)| at.elapsed() < TTL);
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
    }
    m.insert(k, (Instant::now(), v));
}

impl AuthCache {
    /// Only keys found active are cached; an unknown key is asked for every time, so a key
    /// just created by the CLI works at once.
    pub fn key(&self, digest: &[u8; 32]) -> Option<AuthenticatedKey> {
        fresh(&self.keys, digest)
    }

    pub fn put_key(&self, digest: [u8; 32], key: AuthenticatedKey) {
        put(&self.keys, digest, key);
    }

    pub fn settings(&self, scope: &Scope) -> Option<EnvSettings> {
        fresh(&self.settings, scope)
    }

    pub fn put_settings(&self, scope: Scope, settings: EnvSettings) {
        put(&self.settings, scope, settings);
    }
}
