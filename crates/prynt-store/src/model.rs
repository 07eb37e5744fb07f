//! Records the store reads and writes.

use prynt_core::{Environment, KeyType, Plan, PlanLimits};
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
