//! Every store trait, for `use prynt_store::prelude::*;` at a call site: a method of a
//! per-resource trait can only be called where that trait is in scope.

pub use crate::{
    ChangeFeed, DeliveryQueue, EventStore, IdempotencyStore, KeyStore, ListStore, RuleStore, Store,
    StoreLifecycle, WebhookStore, WorkspaceStore,
};
