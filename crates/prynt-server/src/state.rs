//! What every handler can reach: the store, the identification engine, metrics and settings.
//! Cloned per request, so it is one shared pointer.

use std::ops::Deref;
use std::sync::Arc;

use prynt_store::Store;

use crate::cache::AuthCache;
use crate::identity::Identity;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub identity: Arc<Identity>,
    pub metrics: Arc<Metrics>,
    /// Recently verified keys and environment settings.
    pub cache: AuthCache,
    /// How long events stay visible, in milliseconds.
    pub retention_ms: i64,
    /// The agent script as a classic script and as an ES module.
    pub agent: crate::agent::AgentScripts,
    /// Geolocation, ASN and range feeds.
    pub ip_intel: prynt_signals::ip::IpIntel,
    /// Velocity per workspace environment.
    pub risk: crate::risk::Risk,
    /// Rules, lists and backtest tables per workspace environment.
    pub policy: crate::policy::Policy,
    /// How webhooks are delivered.
    pub webhook_config: crate::config::WebhookConfig,
    /// Seals webhook secrets at rest.
    pub secret_box: prynt_webhooks::sealing::SecretBox,
    /// Wakes the delivery worker when deliveries are queued.
    pub delivery_wake: Arc<tokio::sync::Notify>,
    /// Rate budgets per key and, for identify, per workspace.
    pub limits: crate::limits::RateLimits,
    /// Failed authentications per client address.
    pub auth_failures: crate::auth_failures::AuthFailures,
    /// Identifications served, for the delivery worker to tell a busy server from an idle one.
    pub identified: std::sync::atomic::AtomicU64,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<(std::net::IpAddr, std::net::IpAddr)>,
    /// This run's demo key, on a server that listens on loopback only (set once bound).
    pub demo: std::sync::OnceLock<Demo>,
}

/// The demo key of this run (see `crate::demo`). Held here, not in the demo's module, so that
/// the state depends on no handler.
pub struct Demo {
    pub public_key: String,
    pub key_id: String,
    pub scope: prynt_core::Scope,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }

    /// Events older than this (Unix ms) are past retention.
    pub fn retention_floor_ms(&self) -> i64 {
        prynt_core::timefmt::now_unix_ms() - self.retention_ms
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
