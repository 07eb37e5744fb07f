//! Plans and their request limits (docs/api.md, "Rate limits").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Starter,
    Pro,
    Enterprise,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starter" => Some(Plan::Starter),
            "pro" => Some(Plan::Pro),
            "enterprise" => Some(Plan::Enterprise),
            _ => None,
        }
    }

    /// The reference's published limits; enterprise starts from Pro's and is customised.
    pub fn default_limits(self) -> PlanLimits {
        match self {
            Plan::Starter => PlanLimits {
                server_per_min: 100,
                mgmt_per_min: 30,
                burst_per_sec: 10,
                identify_per_sec: 100,
            },
            Plan::Pro | Plan::Enterprise => PlanLimits {
                server_per_min: 1_000,
                mgmt_per_min: 100,
                burst_per_sec: 50,
                identify_per_sec: 10_000,
            },
        }
    }
}

/// Request budgets of one workspace: per key for the server and management APIs, per workspace
/// for identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanLimits {
    pub server_per_min: u32,
    pub mgmt_per_min: u32,
    pub burst_per_sec: u32,
    pub identify_per_sec: u32,
}
