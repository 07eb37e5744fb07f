//! Velocity for the server: where the counts live and how the pipeline reaches them. The
//! counting itself is the pure engine's ([`prynt_signals::velocity`]); this module only holds
//! its observations somewhere.
//!
//! - Without `--redis-url`, each node holds them in its own memory ([`local`]), rebuilt from
//!   the store at start and taught the other nodes' events through the change feed.
//! - With `--redis-url`, they live in Redis ([`shared`]), one set of counts for every node, so
//!   that two events made at the same moment on two nodes see each other. The node then keeps
//!   no velocity in memory.
//!
//! Either way an event's features are read before it is recorded (they exclude it), and it is
//! recorded only once it is durable.

pub mod local;
pub mod shared;

use std::sync::Arc;

use prynt_core::Scope;
use prynt_rules::facts::{Facts, Value};
use prynt_rules::fields;
use prynt_signals::velocity::{Features, Observation, ACCOUNT_WINDOW_S};
use prynt_store::{Store, StoreError};

pub use local::LocalVelocity;
pub use shared::SharedVelocity;

/// Rows read from the store per page while rebuilding or seeding.
pub const PAGE: usize = 5_000;

/// How far back the account history behind `newDeviceForAccount` reaches for a server that
/// keeps events `retention_ms`: 90 days, or the retention if shorter, since that is all that
/// can be rebuilt from the store.
pub fn account_window_s(retention_ms: i64) -> i64 {
    ACCOUNT_WINDOW_S.min(retention_ms / 1000).max(1)
}

/// Where this node's velocity counts live.
pub enum Risk {
    /// In this node's memory.
    Local(LocalVelocity),
    /// In Redis, shared by every node.
    Shared(Arc<SharedVelocity>),
}

impl Risk {
    /// In-memory velocity for a server that keeps events `retention_ms`.
    pub fn new(retention_ms: i64) -> Self {
        Risk::Local(LocalVelocity::new(retention_ms))
    }

    /// Velocity in Redis with `--redis-url`, else in memory, for a server that keeps events
    /// `retention_ms`. `token_key` is the store's, which keys the hashes stored in Redis.
    pub fn for_server(
        redis_url: Option<&str>,
        retention_ms: i64,
        token_key: &[u8],
        store: &Arc<dyn Store>,
        failures: &prometheus::IntCounter,
    ) -> Result<Self, shared::VelocityRedisError> {
        Ok(match redis_url {
            None => Risk::new(retention_ms),
            Some(url) => Risk::Shared(Arc::new(SharedVelocity::connect(
                url,
                token_key,
                retention_ms,
                Arc::clone(store),
                Some(failures.clone()),
            )?)),
        })
    }

    /// Brings the counts up at start, before the server takes traffic: in memory, rebuilt
    /// from the stored events of the last 24 hours; in Redis, checked and seeded where need
    /// be by a background task (see [`shared`]), which also catches up after Redis failures.
    pub async fn start(&self, store: &dyn Store) -> Result<(), StoreError> {
        match self {
            Risk::Local(l) => {
                let started = std::time::Instant::now();
                let replayed = l.rebuild(store, prynt_core::timefmt::now_unix_ms()).await?;
                tracing::info!(
                    events = replayed,
                    ms = started.elapsed().as_millis() as u64,
                    "velocity counts rebuilt from the last 24 hours"
                );
            }
            Risk::Shared(s) => {
                match s.ping().await {
                    Ok(()) => tracing::info!("velocity counts are shared through Redis"),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "Redis does not answer: events are scored without velocity until it does"
                    ),
                }
                tokio::spawn(Arc::clone(s).maintain());
            }
        }
        Ok(())
    }

    /// Marks the account history of `scopes` as loading (in memory; Redis is seeded whole).
    pub fn begin_account_history(&self, scopes: impl IntoIterator<Item = Scope>) {
        if let Risk::Local(l) = self {
            l.begin_account_history(scopes);
        }
    }

    /// The in-memory counts, when they are kept in memory.
    pub fn local(&self) -> Option<&LocalVelocity> {
        match self {
            Risk::Local(l) => Some(l),
            Risk::Shared(_) => None,
        }
    }

    /// The features of `o` from what was recorded before it. Never fails: without an answer
    /// from Redis the event claims nothing (zero counts, no new device, no travel).
    pub async fn features(&self, scope: &Scope, o: &Observation<'_>) -> Features {
        match self {
            Risk::Local(l) => l.features(scope, o),
            Risk::Shared(s) => s.features(scope, o).await,
        }
    }

    /// Teaches the counts `o`, the durable event `event_id` of this node.
    pub async fn record(&self, scope: &Scope, o: &Observation<'_>, event_id: &str) {
        match self {
            Risk::Local(l) => l.record(scope, o),
            Risk::Shared(s) => s.record(scope, o, event_id).await,
        }
    }

    /// Teaches the counts an event another node made, read from the change feed. Shared
    /// counts already have it: the node that made it recorded it in Redis.
    pub fn record_from_feed(&self, scope: &Scope, o: &Observation<'_>) {
        if let Risk::Local(l) = self {
            l.record(scope, o);
        }
    }

    /// Part of erasing a visitor (here, or on another node as the change feed says): no count
    /// may remember it. Shared counts are cleaned by every node that hears of the erasure,
    /// so that one node failing to reach Redis, or dying, leaves nothing behind.
    pub async fn forget_visitor(&self, scope: &Scope, visitor_id: &str) {
        match self {
            Risk::Local(l) => l.forget_visitor(scope, visitor_id),
            Risk::Shared(s) => s.forget_visitor(scope, visitor_id).await,
        }
    }

    /// Drops expired observations held in memory (Redis expires its own).
    pub fn prune(&self, now_s: i64) {
        if let Risk::Local(l) = self {
            l.prune(now_s);
        }
    }

    /// Environments whose counts are not complete yet: in memory, those whose account history
    /// is still loading; in Redis, those waiting to be seeded from the store.
    pub fn account_history_loading(&self) -> usize {
        match self {
            Risk::Local(l) => l.account_history_loading(),
            Risk::Shared(s) => s.unseeded(),
        }
    }
}

/// What velocity needs of a stored event, read from its facts.
pub struct StoredObservation {
    pub visitor_id: String,
    pub ip: String,
    pub country: Option<String>,
    pub linked_id: Option<String>,
    pub location: Option<(f64, f64)>,
}

impl StoredObservation {
    /// From a stored event's JSON; `None` when it names no visitor or no address.
    pub fn of_event(body: &str) -> Option<Self> {
        let facts = Facts::from_json(body).ok()?;
        Self::of_facts(&facts, None, None)
    }

    /// From a stored event's facts; the visitor and linked account, when given, are the
    /// store's (an event's body may predate its visitor's merge), else the body's. `None` when
    /// it names no visitor or no address.
    pub fn of_facts(
        facts: &Facts,
        visitor_id: Option<&str>,
        linked_id: Option<&str>,
    ) -> Option<Self> {
        let text = |path: &str| match facts.get(fields::lookup(path)?) {
            Value::Str(s) => Some(s.to_string()),
            _ => None,
        };
        let num = |path: &str| match facts.get(fields::lookup(path)?) {
            Value::Num(x) => Some(*x),
            _ => None,
        };
        Some(StoredObservation {
            visitor_id: match visitor_id {
                Some(v) => v.to_owned(),
                None => text("visitorId")?,
            },
            ip: text("ip.address")?,
            country: text("ip.country"),
            linked_id: linked_id
                .map(str::to_owned)
                .or_else(|| text("event.linkedId")),
            location: num("ip.lat").zip(num("ip.lng")),
        })
    }

    /// An owned copy of what velocity was given, to record later.
    pub fn of_observation(o: &Observation<'_>) -> Self {
        StoredObservation {
            visitor_id: o.visitor_id.to_owned(),
            ip: o.ip.to_owned(),
            country: o.country.map(str::to_owned),
            linked_id: o.linked_id.map(str::to_owned),
            location: o.location,
        }
    }

    pub fn observation(&self, ts_ms: i64) -> Observation<'_> {
        Observation {
            visitor_id: &self.visitor_id,
            ip: &self.ip,
            country: self.country.as_deref(),
            linked_id: self.linked_id.as_deref(),
            location: self.location,
            ts_s: ts_ms / 1000,
        }
    }
}
