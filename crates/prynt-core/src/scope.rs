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
    /// Weights of the suspect score.
    pub suspect_weights: SuspectWeights,
    /// Store and show client addresses with their host part masked (`73.162.xxx.xxx`).
    pub mask_ip: bool,
}

/// Suspect-score weight of each signal (defaults in docs/signals.md, "scores").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SuspectWeights {
    pub bot: u32,
    pub incognito: u32,
    pub vpn_timezone: u32,
    pub vpn_public: u32,
    pub relay: u32,
    pub tampered: u32,
    pub emulator: u32,
    pub tor: u32,
    pub proxy: u32,
    pub blocklisted: u32,
}

impl Default for SuspectWeights {
    fn default() -> Self {
        SuspectWeights {
            bot: 7,
            incognito: 4,
            vpn_timezone: 3,
            vpn_public: 4,
            relay: 4,
            tampered: 8,
            emulator: 14,
            tor: 14,
            proxy: 14,
            blocklisted: 13,
        }
    }
}

impl SuspectWeights {
    /// Largest weight accepted for one signal.
    pub const MAX: u32 = 100;

    /// The first weight above [`SuspectWeights::MAX`], by name.
    pub fn out_of_range(&self) -> Option<&'static str> {
        [
            ("bot", self.bot),
            ("incognito", self.incognito),
            ("vpnTimezone", self.vpn_timezone),
            ("vpnPublic", self.vpn_public),
            ("relay", self.relay),
            ("tampered", self.tampered),
            ("emulator", self.emulator),
            ("tor", self.tor),
            ("proxy", self.proxy),
            ("blocklisted", self.blocklisted),
        ]
        .into_iter()
        .find(|(_, w)| *w > Self::MAX)
        .map(|(n, _)| n)
    }
}
