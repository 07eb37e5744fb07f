//! Short-lived caches in front of the store for what every request reads: the key behind a
//! bearer token and the settings of its environment. Entries live one second, so a key revoked
//! by the CLI (another process) stops working within a second; changes made through this
//! server's API are applied to the cache at once.
//!
//! Entries are refreshed ahead of their expiry by a single request while every other request
//! keeps using the entry, which is still within its lifetime. Letting entries simply expire
//! would send every request in flight at that moment to the store at once, each on its own
//! blocking thread: under load that stampede stalled the whole server once a second.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prynt_core::{EnvSettings, Scope};
use prynt_store::AuthenticatedKey;

const TTL: Duration = Duration::from_secs(1);
/// Age after which one request reloads the entry while the others keep using it.
const REFRESH_AFTER: Duration = Duration::from_millis(500);
/// Entries kept before the oldest are dropped wholesale.
const MAX_ENTRIES: usize = 10_000;

struct Entry<V> {
    at: Instant,
    /// A request has taken on reloading this entry.
    refreshing: bool,
    value: V,
}

type Map<K, V> = Mutex<HashMap<K, Entry<V>>>;

#[derive(Default)]
pub struct AuthCache {
    keys: Map<[u8; 32], AuthenticatedKey>,
    settings: Map<Scope, EnvSettings>,
}

enum Lookup<V> {
    Fresh(V),
    /// Still valid, and this caller was chosen to reload it.
    Refresh(V),
    Miss,
}

fn lookup<K: Hash + Eq, V: Clone>(map: &Map<K, V>, k: &K) -> Lookup<V> {
    let mut m = map.lock();
    match m.get_mut(k) {
        Some(e) if e.at.elapsed() < TTL => {
            if !e.refreshing && e.at.elapsed() >= REFRESH_AFTER {
                e.refreshing = true;
                Lookup::Refresh(e.value.clone())
            } else {
                Lookup::Fresh(e.value.clone())
            }
        }
        _ => Lookup::Miss,
    }
}

fn put<K: Hash + Eq, V>(map: &Map<K, V>, k: K, value: V) {
    let mut m = map.lock();
    if m.len() >= MAX_ENTRIES {
        m.retain(|_, e| e.at.elapsed() < TTL);
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
    }
    let entry = Entry {
        at: Instant::now(),
        refreshing: false,
        value,
    };
    m.insert(k, entry);
}

/// The cached value of `k`, loading it when missing or due for a refresh. `load` answering
/// `None` (the key is gone) removes the entry. A failed refresh keeps serving the entry,
/// which is still within its lifetime, and lets a later request try again.
async fn through<K, V, E, Fut>(
    map: &Map<K, V>,
    k: K,
    load: impl FnOnce() -> Fut,
) -> Result<Option<V>, E>
where
    K: Hash + Eq,
    V: Clone,
    Fut: Future<Output = Result<Option<V>, E>>,
{
    let stale = match lookup(map, &k) {
        Lookup::Fresh(v) => return Ok(Some(v)),
        Lookup::Refresh(v) => Some(v),
        Lookup::Miss => None,
    };
    match (load().await, stale) {
        (Ok(Some(v)), _) => {
            put(map, k, v.clone());
            Ok(Some(v))
        }
        (Ok(None), _) => {
            map.lock().remove(&k);
            Ok(None)
        }
        (Err(e), None) => Err(e),
        (Err(_), Some(v)) => {
            if let Some(e) = map.lock().get_mut(&k) {
                e.refreshing = false;
            }
            Ok(Some(v))
        }
    }
}

impl AuthCache {
    /// The key with this digest. Only keys found active are cached; an unknown key is asked
    /// for every time, so a key just created by the CLI works at once.
    pub async fn key<E, Fut>(
        &self,
        digest: [u8; 32],
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<AuthenticatedKey>, E>
    where
        Fut: Future<Output = Result<Option<AuthenticatedKey>, E>>,
    {
        through(&self.keys, digest, load).await
    }

    /// The settings of an environment.
    pub async fn settings<E, Fut>(
        &self,
        scope: &Scope,
        load: impl FnOnce() -> Fut,
    ) -> Result<EnvSettings, E>
    where
        Fut: Future<Output = Result<EnvSettings, E>>,
    {
        let found = through(&self.settings, scope.clone(), || async {
            load().await.map(Some)
        })
        .await?;
        Ok(found.unwrap_or_default())
    }

    pub fn put_settings(&self, scope: Scope, settings: EnvSettings) {
        put(&self.settings, scope, settings);
    }

    /// Drops the workspace's cached keys (one was revoked, or the plan changed elsewhere), so
    /// that the next request with one looks it up.
    pub fn forget_keys_of(&self, workspace_id: &str) {
        self.keys
            .lock()
            .retain(|_, e| e.value.workspace.id != workspace_id);
    }

    /// Drops an environment's cached settings (changed elsewhere).
    pub fn forget_settings(&self, scope: &Scope) {
        self.settings.lock().remove(scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn aged(map: &Map<u32, u32>, k: u32, age: Duration) {
        if let Some(e) = map.lock().get_mut(&k) {
            e.at = Instant::now() - age;
        }
    }

    #[tokio::test]
    async fn one_request_refreshes_while_the_others_keep_the_entry() {
        let map: Map<u32, u32> = Mutex::default();
        let loads = Cell::new(0);
        let load = |v: u32| {
            loads.set(loads.get() + 1);
            async move { Ok::<_, ()>(Some(v)) }
        };
        assert_eq!(through(&map, 1, || load(10)).await, Ok(Some(10)));
        assert_eq!(
            through(&map, 1, || load(11)).await,
            Ok(Some(10)),
            "fresh: cached"
        );
        assert_eq!(loads.get(), 1);

        aged(&map, 1, REFRESH_AFTER + Duration::from_millis(10));
        // Due for refresh: the first caller is elected and sees its own reload...
        assert!(matches!(lookup(&map, &1), Lookup::Refresh(10)));
        // ...and everyone else meanwhile keeps the still-valid entry without loading.
        assert!(matches!(lookup(&map, &1), Lookup::Fresh(10)));
        assert_eq!(through(&map, 1, || load(12)).await, Ok(Some(10)));
        assert_eq!(loads.get(), 1);

        // Past its lifetime the entry is not served at all.
        aged(&map, 1, TTL + Duration::from_millis(10));
        assert_eq!(through(&map, 1, || load(13)).await, Ok(Some(13)));
        assert_eq!(loads.get(), 2);
    }

    #[tokio::test]
    async fn a_vanished_key_is_dropped_and_a_failed_refresh_keeps_the_entry() {
        let map: Map<u32, u32> = Mutex::default();
        through(&map, 1, || async { Ok::<_, ()>(Some(1)) })
            .await
            .ok();
        aged(&map, 1, REFRESH_AFTER + Duration::from_millis(10));
        let failed = through(&map, 1, || async { Err::<Option<u32>, _>(()) }).await;
        assert_eq!(failed, Ok(Some(1)), "still within its lifetime");
        // The failed refresh released the election: the next caller reloads, and learns that
        // the key is gone.
        let gone = through(&map, 1, || async { Ok::<Option<u32>, ()>(None) }).await;
        assert_eq!(gone, Ok(None));
        assert!(matches!(lookup(&map, &1), Lookup::Miss));
        // Without a cached entry a failure is the caller's error.
        assert_eq!(
            through(&map, 2, || async { Err::<Option<u32>, _>(()) }).await,
            Err(())
        );
    }
}
