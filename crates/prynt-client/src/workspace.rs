//! The workspace (`/v1/workspace`): the calling key's workspace, its plan and limits, and the
//! settings of the key's environment.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Result;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    /// The calling key's environment: `test` or `live`.
    pub environment: String,
    /// `starter`, `pro` or `enterprise`.
    pub plan: String,
    pub limits: Limits,
    /// Origins allowed to call identify from a browser; empty means any origin.
    pub allowed_origins: Vec<String>,
    /// Weight of each signal in `scores.suspect`.
    pub suspect_weights: BTreeMap<String, u32>,
    /// Whether events store the client address masked.
    pub mask_ip: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    pub server_api_per_minute: u32,
    pub management_api_per_minute: u32,
    pub burst_per_second: u32,
    pub identify_per_second: u32,
}

/// Settings to change; fields left out keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceUpdate {
    /// Replaces the allowed origins (`scheme://host[:port]`); empty allows any origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Replaces the suspect-score weights (0 to 100 each); those left out take their default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspect_weights: Option<BTreeMap<String, u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_ip: Option<bool>,
}

impl Client {
    /// `GET /v1/workspace`.
    pub async fn get_workspace(&self) -> Result<Workspace> {
        self.get(self.url(&["v1", "workspace"])?).await
    }

    /// `PATCH /v1/workspace`.
    pub async fn update_workspace(&self, update: &WorkspaceUpdate) -> Result<Workspace> {
        self.send(Method::PATCH, self.url(&["v1", "workspace"])?, Some(update))
            .await
    }
}
