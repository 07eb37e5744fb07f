//! What every handler can reach: the store, the identification engine, metrics and settings.

use std::sync::Arc;

use prynt_store::Store;

use crate::identity::Identity;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub identity: Arc<Identity>,
    pub metrics: Arc<Metrics>,
    /// How long events stay visible, in milliseconds.
    pub retention_ms: i64,
    /// The agent script as a classic script and as an ES module.
    pub agent: Arc<crate::api::identify::AgentScripts>,
}

impl AppState {
    /// Events older than this (Unix ms) are past retention.
    pub fn retention_floor_ms(&self) -> i64 {
        prynt_core::timefmt::now_unix_ms() - self.retention_ms
    }
}
