//! The tenancy boundary: every piece of customer data belongs to one workspace and one
//! environment, and every lookup is made within exactly one [`Scope`].

use crate::keys::Environment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub workspace_id: String,
    pub env: Environment,
}

/// Per-environment workspace settings that the API exposes at `/v1/workspace`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvSettings {
    /// Origins allowed to call identify from a browser; empty means any origin.
    pub allowed_origins: Vec<String>,
}
