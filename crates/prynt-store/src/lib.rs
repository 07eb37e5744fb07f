//! Prynt's storage layer: one trait per resource, the [`Store`] umbrella every handler talks
//! to, the records they exchange ([`model`]), the backend-neutral merging and versioning of
//! partial updates ([`merge`]), and the embedded SQLite implementation
//! ([`sqlite::SqliteStore`]).
//!
//! Handlers only ever see `Arc<dyn Store>`, so a second backend (PostgreSQL for scale-out)
//! slots in by implementing the per-resource traits, without touching the server. With the
//! `conformance` feature, [`conformance_tests!`] checks a backend against the behaviour the
//! server relies on.

pub mod error;
pub mod merge;
pub mod model;
pub mod postgres;
pub mod prelude;
pub mod sqlite;

pub mod events;
pub mod feed;
pub mod idempotency;
pub mod keys;
pub mod lifecycle;
pub mod lists;
pub mod queue;
pub mod rules;
pub mod webhooks;
pub mod workspaces;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::StoreError;
pub use events::EventStore;
pub use feed::{Change, ChangeCursor, ChangeFeed, ChangeItem, ChangePage, ChangedResource};
pub use idempotency::IdempotencyStore;
pub use keys::KeyStore;
pub use lifecycle::StoreLifecycle;
pub use lists::ListStore;
pub use model::{
    ApiKeyRecord, AuthenticatedKey, DeviceSeen, EntryChange, EntryOutcome, EventQuery, EventRow,
    IdempotencyClaim, IpSeen, LinkedUse, ListEffect, ListEntry, ListRecord, NewApiKey,
    NewIdentification, NewList, NewRule, OutboxItem, RawEvent, RuleChange, RuleRecord, RuleVersion,
    StoredProfile, StoredResponse, VisitorSummary, Workspace,
};
pub use model::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryRecord, WebhookChange, WebhookRecord,
};
pub use queue::DeliveryQueue;
pub use rules::RuleStore;
pub use webhooks::WebhookStore;
pub use workspaces::WorkspaceStore;

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server persists: the sum of the per-resource traits, implemented for every
/// type that implements them all. Every method that touches customer data takes a
/// [`prynt_core::Scope`], so no query can reach another workspace's or environment's rows.
pub trait Store:
    WorkspaceStore
    + KeyStore
    + EventStore
    + RuleStore
    + ListStore
    + WebhookStore
    + DeliveryQueue
    + IdempotencyStore
    + StoreLifecycle
    + ChangeFeed
{
}

impl<T> Store for T where
    T: WorkspaceStore
        + KeyStore
        + EventStore
        + RuleStore
        + ListStore
        + WebhookStore
        + DeliveryQueue
        + IdempotencyStore
        + StoreLifecycle
        + ChangeFeed
        + ?Sized
{
}
