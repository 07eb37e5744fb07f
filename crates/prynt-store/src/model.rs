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
    pub linked_id: Option<String>,
    pub verdict: Option<String>,
    pub bot: Option<bool>,
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

/// A webhook payload waiting for delivery, written in the same transaction as its cause.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The payload's `id`, the same across delivery attempts.
    pub id: String,
    /// `identification`, `rule_match` or `list_update`.
    pub kind: String,
    pub payload: String,
    pub created_ms: i64,
}

/// A stored event as the backtest reads it: its position, verdict and raw JSON.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub request_id: String,
    pub ts_ms: i64,
    pub verdict: Option<String>,
    pub body: String,
}
