//! What every handler can reach: the store, metrics and the server's configuration.

use std::sync::Arc;

use prynt_store::Store;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
}
