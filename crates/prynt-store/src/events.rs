//! [`EventStore`]: identification events, the visitors they create, and their replay.

use async_trait::async_trait;
use prynt_core::Scope;

use crate::{
    EventQuery, EventRow, LinkedUse, NewIdentification, RawEvent, StoreResult, StoredProfile,
    VisitorSummary,
};

/// Events and visitors. A visitor id belongs to exactly one scope; events are written once and
/// never changed; `firstSeenAt` in a returned event body is the visitor's first-seen time.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Persists an event and creates or updates its visitor (last seen, visit count, profile),
    /// together with the decision's list effects (skipping lists deleted meanwhile), the matched
    /// rules' statistics and the outbox rows, atomically and durably. `DuplicateId` when the
    /// request id is taken; `Conflict` when the visitor id belongs to another scope.
    async fn record_identification(&self, rec: NewIdentification) -> StoreResult<()>;
    /// One page of stored profiles of every scope after `after_visitor_id`, ordered by visitor
    /// id: how a node rebuilds its matching index at start.
    async fn profiles_page(
        &self,
        after_visitor_id: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<StoredProfile>>;
    /// An event by request id, unless it is older than `retention_floor_ms`.
    async fn event(
        &self,
        scope: &Scope,
        request_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<EventRow>>;
    /// Up to `query.limit + 1` events matching the query, newest first (by time, then request
    /// id), so the caller can tell whether another page follows.
    async fn events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Vec<EventRow>>;
    /// A visitor with its devices, addresses and visitor lists; `None` when the scope has no
    /// such visitor.
    async fn visitor(
        &self,
        scope: &Scope,
        visitor_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<VisitorSummary>>;
    /// Erases a visitor with every event and linked account of it and its entries in the
    /// scope's visitor lists; returns whether it existed.
    async fn delete_visitor(&self, scope: &Scope, visitor_id: &str) -> StoreResult<bool>;
    /// Deletes events older than `floor_ms` in every workspace; returns how many.
    async fn purge_events_before(&self, floor_ms: i64) -> StoreResult<usize>;
    /// Events from `from_ms` on, oldest first, after the `(ts_ms, request_id)` position: what
    /// backtests and the in-memory event table read.
    async fn events_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<RawEvent>>;
    /// Like [`EventStore::events_ascending`], but only the events with a linked id, and of each
    /// only its visitor and linked id: what rebuilding the account history at start needs.
    async fn linked_uses_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<LinkedUse>>;
}
