//! Prynt's storage layer: the [`Store`] trait every handler talks to, its records, and the
//! embedded SQLite implementation ([`sqlite::SqliteStore`]).
//!
//! Handlers only ever see `Arc<dyn Store>`, so a second backend (PostgreSQL for scale-out) slots
//! in by implementing the trait, without touching the server.

pub mod error;
pub mod model;
pub mod sqlite;

use async_trait::async_trait;
use prynt_core::{EnvSettings, Plan, PlanLimits, Scope};

pub use error::StoreError;
pub use model::{
    ApiKeyRecord, AuthenticatedKey, DeviceSeen, EntryChange, EntryOutcome, EventQuery, EventRow,
    IdempotencyClaim, IpSeen, LinkedUse, ListEffect, ListEntry, ListRecord, NewApiKey,
    NewIdentification, NewList, NewRule, OutboxItem, RawEvent, RuleChange, RuleRecord, RuleVersion,
    StoredProfile, StoredResponse, VisitorSummary, Workspace,
};
pub use model::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DeliveryRecord, WebhookChange, WebhookRecord,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server persists. Every method that touches customer data takes a [`Scope`],
/// so no query can reach another workspace's or environment's rows.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- workspaces -------------------------------------------------------------------------
    async fn create_workspace(&self, name: &str, plan: Plan) -> StoreResult<Workspace>;
    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    /// Sets the plan and, for enterprise, custom limits (`None` returns to the plan's defaults).
    async fn update_workspace_plan(
        &self,
        name: &str,
        plan: Plan,
        limits: Option<PlanLimits>,
    ) -> StoreResult<Workspace>;

    // ---- API keys ---------------------------------------------------------------------------
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord>;
    /// Inserts `keys` only if the store holds no key at all; returns whether it did. This is how
    /// the first start of an empty data dir gets its test key pair exactly once.
    async fn create_initial_keys(&self, keys: Vec<NewApiKey>) -> StoreResult<bool>;
    /// The active (not revoked) key with this SHA-256 digest, and its workspace.
    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<AuthenticatedKey>>;
    async fn list_api_keys(&self, workspace_id: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key by id; `NotFound` when there is no such key.
    async fn revoke_api_key(&self, key_id: &str) -> StoreResult<ApiKeyRecord>;

    // ---- per-environment settings -----------------------------------------------------------
    async fn env_settings(&self, scope: &Scope) -> StoreResult<EnvSettings>;
    async fn put_env_settings(&self, scope: &Scope, settings: &EnvSettings) -> StoreResult<()>;

    // ---- identification ---------------------------------------------------------------------
    /// The key that signs visitor tokens (created with the store, shared by all its nodes).
    async fn token_key(&self) -> StoreResult<Vec<u8>>;
    /// Persists an event and creates or updates its visitor, atomically and durably.
    async fn record_identification(&self, rec: NewIdentification) -> StoreResult<()>;
    /// One page of stored profiles after `after_visitor_id`, ordered by visitor id.
    async fn profiles_page(
        &self,
        after_visitor_id: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<StoredProfile>>;
    /// An event by request id, unless it is past `retention_floor_ms`.
    async fn event(
        &self,
        scope: &Scope,
        request_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<EventRow>>;
    /// Up to `query.limit + 1` events matching the query, newest first.
    async fn events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Vec<EventRow>>;
    async fn visitor(
        &self,
        scope: &Scope,
        visitor_id: &str,
        retention_floor_ms: i64,
    ) -> StoreResult<Option<VisitorSummary>>;
    /// Erases a visitor and every event, link and count of it; returns whether it existed.
    async fn delete_visitor(&self, scope: &Scope, visitor_id: &str) -> StoreResult<bool>;
    /// Deletes events older than `floor_ms` in every workspace; returns how many.
    async fn purge_events_before(&self, floor_ms: i64) -> StoreResult<usize>;

    // ---- rules ------------------------------------------------------------------------------
    /// Creates a rule and its first version; `DuplicateId` if the generated id is taken.
    async fn create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord>;
    /// Rules ordered by priority then creation, optionally of one status, with the total count.
    async fn rules(
        &self,
        scope: &Scope,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<RuleRecord>, usize)>;
    async fn rule(&self, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>>;
    /// Every stored version of a rule of the scope, newest first; `None` when the scope has
    /// no such rule.
    async fn rule_versions(&self, scope: &Scope, id: &str)
        -> StoreResult<Option<Vec<RuleVersion>>>;
    /// Applies a change as a new version; `NotFound` when there is no such rule.
    async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord>;
    async fn delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool>;

    // ---- lists ------------------------------------------------------------------------------
    /// Creates a list; `Conflict` when the name is taken in the scope.
    async fn create_list(
        &self,
        scope: &Scope,
        list: NewList,
        now_ms: i64,
    ) -> StoreResult<ListRecord>;
    async fn lists(
        &self,
        scope: &Scope,
        list_type: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListRecord>, usize)>;
    async fn list(&self, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>>;
    /// One page of the entries that have not expired, newest first, with how many there are;
    /// with `search`, only those whose value contains it (ASCII letters in either case).
    async fn list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        search: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListEntry>, usize)>;
    /// Removes then adds entries in one transaction with the change's outbox row.
    async fn change_list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        change: EntryChange,
        outbox: Option<OutboxItem>,
        now_ms: i64,
    ) -> StoreResult<EntryOutcome>;
    /// Deletes a list and its entries with the change's outbox row; whether it existed.
    async fn delete_list(
        &self,
        scope: &Scope,
        id: &str,
        outbox: Option<OutboxItem>,
    ) -> StoreResult<bool>;
    /// Every list of the scope with its live entries, to build the in-memory lists.
    async fn all_list_entries(
        &self,
        scope: &Scope,
    ) -> StoreResult<Vec<(ListRecord, Vec<ListEntry>)>>;

    // ---- replay and outbox ------------------------------------------------------------------
    /// Events from `from_ms` on, oldest first, after the `(ts_ms, request_id)` position.
    async fn events_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<RawEvent>>;
    /// Like [`Store::events_ascending`], but only the events with a linked id, and of each
    /// only its visitor and linked id: what rebuilding the account history at start needs.
    async fn linked_uses_ascending(
        &self,
        scope: &Scope,
        from_ms: i64,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> StoreResult<Vec<LinkedUse>>;

    // ---- webhooks ---------------------------------------------------------------------------
    async fn create_webhook(&self, rec: WebhookRecord) -> StoreResult<WebhookRecord>;
    /// Webhooks of one scope (or of every scope, for the delivery workers), oldest first.
    async fn webhooks(
        &self,
        scope: Option<Scope>,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<WebhookRecord>, usize)>;
    async fn webhook(&self, scope: &Scope, id: &str) -> StoreResult<Option<WebhookRecord>>;
    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        change: WebhookChange,
        now_ms: i64,
    ) -> StoreResult<WebhookRecord>;
    /// Deletes a webhook and cancels its pending deliveries in the same transaction.
    async fn delete_webhook(&self, scope: &Scope, id: &str) -> StoreResult<bool>;
    /// Leases up to `limit` due deliveries of a webhook for `lease_ms`.
    async fn claim_deliveries(
        &self,
        webhook_id: &str,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records attempts and their deliveries' new states, in one transaction.
    async fn record_attempts(
        &self,
        batch: Vec<(i64, AttemptRecord, DeliveryNext)>,
    ) -> StoreResult<()>;
    /// A webhook's deliveries, newest first, with their attempts.
    async fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<DeliveryRecord>, usize)>;
    /// Makes a finished delivery pending again; whether there was such a delivery.
    async fn redeliver(
        &self,
        scope: &Scope,
        webhook_id: &str,
        delivery_id: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Queues a payload outside an identification (a test delivery).
    async fn enqueue(&self, scope: &Scope, item: OutboxItem) -> StoreResult<()>;
    /// Turns up to `limit` queued payloads into one delivery per subscribed webhook; how many.
    async fn fan_out(&self, limit: usize) -> StoreResult<usize>;
    /// Frees every lease (a single node starting: nobody else can hold one).
    async fn release_leases(&self) -> StoreResult<usize>;

    // ---- idempotency ------------------------------------------------------------------------
    /// Claims `key` of `owner` (a caller's credential, hashed) for a request whose method,
    /// path and body hash to `request_hash`. A claim older than `ttl_ms` is forgotten; one
    /// still unanswered after `stale_ms` was abandoned (its server stopped) and is taken over.
    async fn claim_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        request_hash: [u8; 32],
        now_ms: i64,
        ttl_ms: i64,
        stale_ms: i64,
    ) -> StoreResult<IdempotencyClaim>;
    /// Settles a claim: keeps `response` for replays, or, with `None` (the request failed),
    /// releases the key so that a retry runs again.
    async fn settle_idempotency_key(
        &self,
        owner: [u8; 32],
        key: &str,
        response: Option<StoredResponse>,
    ) -> StoreResult<()>;
    /// Deletes the keys claimed before `floor_ms`; how many.
    async fn purge_idempotency_keys_before(&self, floor_ms: i64) -> StoreResult<usize>;

    // ---- lifecycle --------------------------------------------------------------------------
    /// Whether the store answers queries (used by `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Waits for every queued write to be durable, then stops accepting writes.
    async fn close(&self) -> StoreResult<()>;
}
