//! Records the store reads and writes.

use prynt_core::{Environment, KeyType, Plan, PlanLimits, Scope};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// Custom limits (enterprise); `None` means the plan's defaults.
    pub custom_limits: Option<PlanLimits>,
    pub created_at: i64,
}

impl Workspace {
    /// The limits in force: custom ones when set, the plan's otherwise.
    pub fn limits(&self) -> PlanLimits {
        self.custom_limits
            .unwrap_or_else(|| self.plan.default_limits())
    }
}

/// A key to insert: only the digest and display prefix of the secret ever reach the store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub workspace_id: String,
    pub env: Environment,
    pub key_type: KeyType,
    pub key_hash: [u8; 32],
    pub display_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    pub id: String,
    pub workspace_id: String,
    pub env: Environment,
    pub key_type: KeyType,
    pub display_prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The result of a successful key lookup: the key, its stored digest and its workspace.
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    pub key: ApiKeyRecord,
    pub key_hash: Vec<u8>,
    pub workspace: Workspace,
}

/// One identification to persist atomically: the event, and the visitor it creates or updates.
#[derive(Debug, Clone)]
pub struct NewIdentification {
    pub scope: Scope,
    pub request_id: String,
    pub visitor_id: String,
    pub ts_ms: i64,
    /// The visitor's latest matching profile (an encoded fingerprint).
    pub profile: Vec<u8>,
    /// Whether the visit was a return recognised by its fingerprint, without a token: counted
    /// in the visitor's `matched_visits`.
    pub matched: bool,
    pub linked_id: Option<String>,
    pub verdict: Option<String>,
    pub bot: Option<bool>,
    /// The event's `type` as identify was given it.
    pub event_type: Option<String>,
    /// `ip.country`: ISO 3166-1 alpha-2 (stored upper-case).
    pub country: Option<String>,
    /// `ip.address` as the event shows it (masked when the environment masks addresses).
    pub ip: Option<String>,
    /// The full event as the API shows it, serialised; its `firstSeenAt` is filled in when
    /// the event is read.
    pub body: String,
    /// List changes made by the deciding rule's side effects.
    pub list_effects: Vec<ListEffect>,
    /// Rules (live or monitor) that matched, for their match statistics.
    pub rule_matches: Vec<String>,
    /// Webhook payloads this event causes.
    pub outbox: Vec<OutboxItem>,
}

/// Filters of an event listing, all within one scope; newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub visitor_id: Option<String>,
    /// Only events strictly before / after these times (Unix ms).
    pub before_ms: Option<i64>,
    pub after_ms: Option<i64>,
    pub verdict: Option<String>,
    pub bot: Option<bool>,
    /// Exact match on the event's `type`.
    pub event_type: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: Option<String>,
    /// Continue after this (ts_ms, request_id) position.
    pub cursor: Option<(i64, String)>,
    pub limit: usize,
    /// Events older than this are past retention and invisible.
    pub retention_floor_ms: i64,
}

/// A stored event: its position (for cursors) and its JSON.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub request_id: String,
    pub ts_ms: i64,
    pub body: serde_json::Value,
}

/// A visitor as `GET /v1/visitors/{id}` shows it.
#[derive(Debug, Clone)]
pub struct VisitorSummary {
    pub visitor_id: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub total_visits: i64,
    pub linked_accounts: i64,
    /// Devices seen, most recent first, from retained events.
    pub devices: Vec<DeviceSeen>,
    /// IP addresses seen, most recent first, from retained events.
    pub ips: Vec<IpSeen>,
    /// Names of the visitor lists that hold this visitor now.
    pub lists: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DeviceSeen {
    pub platform: Option<String>,
    pub browser: Option<String>,
    pub gpu: Option<String>,
    pub last_seen_ms: i64,
}

#[derive(Debug, Clone)]
pub struct IpSeen {
    pub address: String,
    pub visits: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// A stored matching profile, for rebuilding the in-memory index at start-up.
#[derive(Debug, Clone)]
pub struct StoredProfile {
    pub scope: Scope,
    pub visitor_id: String,
    pub profile: Vec<u8>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub total_visits: u64,
    /// Of those visits, the returns recognised by fingerprint without a token.
    pub matched_visits: u64,
}

/// A rule as stored. `conditions` and `action` are the canonical JSON the API shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRecord {
    pub id: String,
    pub name: String,
    pub status: String,
    pub priority: i64,
    pub conditions: String,
    pub action: String,
    /// Starts at 1; every change writes a new immutable version.
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub match_count: i64,
    pub last_match_ms: Option<i64>,
}

/// A rule to create; `priority: None` takes the next one after the scope's highest.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub id: String,
    pub name: String,
    pub status: String,
    pub priority: Option<i64>,
    pub conditions: String,
    pub action: String,
}

/// The parts of a rule an update replaces; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct RuleChange {
    pub name: Option<String>,
    pub status: Option<String>,
    pub priority: Option<i64>,
    pub conditions: Option<String>,
    pub action: Option<String>,
}

/// One stored version of a rule: what the rule was from `created_ms` on. `conditions` and
/// `action` are the canonical JSON the API shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleVersion {
    pub version: i64,
    pub name: String,
    pub status: String,
    pub priority: i64,
    pub conditions: String,
    pub action: String,
    pub created_ms: i64,
}

/// A list's metadata with its count of entries that have not expired.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRecord {
    pub id: String,
    pub name: String,
    pub list_type: String,
    pub description: Option<String>,
    pub ttl_s: Option<i64>,
    /// `allow`, `block` or `review`; what the list is for, when the workspace says so.
    pub purpose: Option<String>,
    pub entry_count: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone)]
pub struct NewList {
    pub id: String,
    pub name: String,
    pub list_type: String,
    pub description: Option<String>,
    pub ttl_s: Option<i64>,
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub value: String,
    pub added_ms: i64,
    /// Unix seconds after which the entry no longer counts.
    pub expires_s: Option<i64>,
}

/// One atomic change of a list's entries (already normalised and validated).
#[derive(Debug, Clone, Default)]
pub struct EntryChange {
    /// Entries with their expiry (Unix seconds).
    pub add: Vec<(String, Option<i64>)>,
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryOutcome {
    pub added: usize,
    pub removed: usize,
    pub entry_count: i64,
}

/// A change to a list made by a rule's side effect, stored with the event that caused it.
#[derive(Debug, Clone, PartialEq)]
pub enum ListEffect {
    Add {
        list_id: String,
        value: String,
        expires_s: Option<i64>,
    },
    Remove {
        list_id: String,
        value: String,
    },
}

/// A webhook payload waiting for delivery, written in the same transaction as its cause,
/// with one delivery per webhook in `webhook_ids`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The payload's `id`, the same across delivery attempts.
    pub id: String,
    /// `identification`, `rule_match`, `list_update` or `test`.
    pub kind: String,
    /// The payload without its per-attempt `timestamp`; for an identification, empty: the
    /// stored event (`request_id`) is the payload's data.
    pub payload: String,
    /// The identification whose stored event is the payload.
    pub request_id: Option<String>,
    pub created_ms: i64,
    pub webhook_ids: Vec<String>,
}

/// A webhook as stored; secrets sealed by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    pub scope: Scope,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of event types.
    pub events: String,
    /// JSON object of filters.
    pub filters: String,
    /// `active` or `paused`.
    pub status: String,
    pub secret: String,
    pub old_secret: Option<String>,
    pub old_secret_until_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Share of delivery attempts of the last 7 days that succeeded; `None` without attempts.
    pub success_rate: Option<f64>,
    pub last_delivery_ms: Option<i64>,
}

/// Parts of a webhook an update replaces.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub events: Option<String>,
    pub filters: Option<String>,
    pub status: Option<String>,
    /// A rotation: the new sealed secret, the old one and until when it still signs.
    pub rotate: Option<(String, String, i64)>,
}

/// A due delivery handed to a worker, with its payload text.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub kind: String,
    pub payload_id: String,
    /// The payload without `timestamp`; `None` when its event was erased meanwhile.
    pub payload: Option<String>,
    pub attempts: i64,
    pub created_ms: i64,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeliveryNext {
    Succeeded,
    RetryAt(i64),
    Failed,
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at_ms: i64,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// A delivery as `GET /v1/webhooks/{id}/deliveries` shows it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: i64,
    pub kind: String,
    pub payload_id: String,
    pub status: String,
    pub attempts: Vec<AttemptRecord>,
    pub next_attempt_ms: Option<i64>,
    pub created_ms: i64,
}

/// A stored event's use of a linked account, as the account history behind
/// `newDeviceForAccount` is rebuilt from: the event's position, its visitor and linked id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedUse {
    pub request_id: String,
    pub ts_ms: i64,
    pub visitor_id: String,
    pub linked_id: String,
}

/// A stored event as the backtest reads it: its position, verdict and raw JSON.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub request_id: String,
    pub ts_ms: i64,
    pub verdict: Option<String>,
    pub body: String,
}

/// A response kept for an `Idempotency-Key`, replayed to a retry of the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The headers that belong to the answer itself (content type, a visitor token), not to
    /// one delivery of it (request id, rate-limit state).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a request carrying an `Idempotency-Key` may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is new (or its earlier attempt failed or expired): run the request.
    Claimed,
    /// The same request was answered before: send this again.
    Replay(StoredResponse),
    /// The same request is being served right now.
    InFlight,
    /// The key was used for another request (another path or body).
    Mismatch,
}
