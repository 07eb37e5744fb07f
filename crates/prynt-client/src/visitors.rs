//! Visitors (`/v1/visitors`): a visitor's history, its events, and erasure of every trace of it
//! (GDPR/CCPA deletion).

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::common::{CursorPage, Verdict};
use crate::error::Result;
use crate::pager::Pager;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Visitor {
    pub visitor_id: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Every visit ever.
    pub total_visits: u64,
    /// Distinct `linkedId`s seen with this visitor.
    pub linked_accounts: u64,
    pub devices: Vec<VisitorDevice>,
    pub ips: Vec<VisitorIp>,
    /// Names of the lists that hold this visitor.
    pub lists: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VisitorDevice {
    pub platform: Option<String>,
    pub browser: Option<String>,
    pub gpu: Option<String>,
    pub last_seen_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VisitorIp {
    pub address: String,
    pub visits: u64,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
}

/// An event in a visitor's history.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VisitorEvent {
    pub request_id: String,
    pub timestamp: String,
    pub verdict: Option<Verdict>,
    pub signals: VisitorEventSignals,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VisitorEventSignals {
    pub bot: Option<bool>,
    pub vpn: Option<bool>,
}

/// Time filters and paging of `GET /v1/visitors/{visitorId}/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorEventsParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// 1 to 100; the server's default is 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VisitorDeleted {
    pub deleted: bool,
    pub visitor_id: String,
}

impl Client {
    /// `GET /v1/visitors/{visitorId}`.
    pub async fn get_visitor(&self, visitor_id: &str) -> Result<Visitor> {
        self.get(self.url(&["v1", "visitors", visitor_id])?).await
    }

    /// `DELETE /v1/visitors/{visitorId}`: erases the visitor's events, device profile, list
    /// entries and counts. Irreversible.
    pub async fn delete_visitor(&self, visitor_id: &str) -> Result<VisitorDeleted> {
        self.delete(self.url(&["v1", "visitors", visitor_id])?)
            .await
    }

    /// `GET /v1/visitors/{visitorId}/events`: one page of the visitor's events, newest first.
    pub async fn list_visitor_events(
        &self,
        visitor_id: &str,
        params: &VisitorEventsParams,
    ) -> Result<CursorPage<VisitorEvent>> {
        self.get(self.url_with_query(&["v1", "visitors", visitor_id, "events"], params)?)
            .await
    }

    /// Every event of the visitor (from `params.cursor` on), page by page or as a stream.
    pub fn visitor_events_pager(
        &self,
        visitor_id: &str,
        params: VisitorEventsParams,
    ) -> Result<Pager<VisitorEvent>> {
        let cursor = params.cursor.clone();
        let params = VisitorEventsParams {
            cursor: None,
            ..params
        };
        let url = self.url_with_query(&["v1", "visitors", visitor_id, "events"], &params)?;
        Ok(Pager::new(self.clone(), url, cursor))
    }
}
