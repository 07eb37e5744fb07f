//! Wires the identification engine to the server: one matching index per workspace
//! environment, rebuilt from the store at start-up and kept current after every durable write;
//! the token key; the device parser.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use prynt_core::Scope;
use prynt_identify::{Fingerprint, Index, ModelParams};
use prynt_signals::device::DeviceParser;
use prynt_store::{Store, StoreResult};

pub struct Identity {
    params: ModelParams,
    indexes: RwLock<HashMap<Scope, Arc<RwLock<Index>>>>,
    pub token_key: Vec<u8>,
    pub parser: &'static DeviceParser,
}

/// Profiles read from the store per round trip while loading.
const LOAD_PAGE: usize = 20_000;

impl Identity {
    /// Loads every stored profile into fresh indexes; `token_key` signs visitor tokens.
    pub async fn load(store: &dyn Store, token_key: Vec<u8>) -> Result<Identity, String> {
        let parser = DeviceParser::shared()?;
        let identity = Identity {
            params: ModelParams::default(),
            indexes: RwLock::new(HashMap::new()),
            token_key,
            parser,
        };
        identity.reload(store).await.map_err(|e| e.to_string())?;
        Ok(identity)
    }

    async fn reload(&self, store: &dyn Store) -> StoreResult<usize> {
        let mut after = None;
        let mut loaded = 0;
        loop {
            let page = store.profiles_page(after.take(), LOAD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.visitor_id.clone());
            for p in &page {
                if let Some(fp) = Fingerprint::from_bytes(&p.profile) {
                    self.index(&p.scope).write().load(
                        &p.visitor_id,
                        &fp,
                        p.total_visits,
                        p.matched_visits,
                        p.first_seen_ms,
                        p.last_seen_ms,
                    );
                    loaded += 1;
                }
            }
            if page.len() < LOAD_PAGE {
                break;
            }
        }
        Ok(loaded)
    }

    /// The index of one workspace environment, created empty on first use.
    pub fn index(&self, scope: &Scope) -> Arc<RwLock<Index>> {
        if let Some(i) = self.indexes.read().get(scope) {
            return Arc::clone(i);
        }
        let mut all = self.indexes.write();
        Arc::clone(
            all.entry(scope.clone())
                .or_insert_with(|| Arc::new(RwLock::new(Index::new(self.params.clone())))),
        )
    }

    /// Visitors known across every index.
    pub fn visitors(&self) -> usize {
        self.indexes.read().values().map(|i| i.read().len()).sum()
    }
}
