//! Lists (`/v1/lists`): typed lists of visitor IDs, IP addresses or CIDRs, and emails, and
//! atomic batch changes of their entries.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::common::{OffsetPage, PageParams};
use crate::error::Result;

/// What a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListType {
    Visitor,
    /// Addresses or CIDRs.
    Ip,
    Email,
    #[serde(other)]
    Unknown,
}

/// What a list is for: an `ip` list with purpose `block` is a blocklist, `allow` lists are
/// evidence of legitimacy for backtests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListPurpose {
    Allow,
    Block,
    Review,
    #[serde(other)]
    Unknown,
}

/// The body of `POST /v1/lists`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewList {
    /// Unique in the environment; letters, digits, `_`, `-` and `.`.
    pub name: String,
    #[serde(rename = "type")]
    pub list_type: ListType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds an entry lives; `None` for permanent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<ListPurpose>,
}

impl NewList {
    pub fn new(name: impl Into<String>, list_type: ListType) -> Self {
        NewList {
            name: name.into(),
            list_type,
            description: None,
            ttl: None,
            purpose: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub list_type: ListType,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub purpose: Option<ListPurpose>,
    /// Entries that have not expired.
    #[serde(default)]
    pub entry_count: u64,
    #[serde(default)]
    pub ttl: Option<u64>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A list with one page of its live entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListWithEntries {
    #[serde(flatten)]
    pub list: List,
    pub entries: OffsetPage<ListEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListEntry {
    pub value: String,
    pub added_at: String,
    pub expires_at: Option<String>,
}

/// Filters and paging of `GET /v1/lists`; without a `limit` the server returns every list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListListParams {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub list_type: Option<ListType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A search of a list's entries: those whose value contains `q` (ASCII letters in either
/// case; `%` and `_` are plain characters), paged like [`PageParams`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntrySearch {
    /// 1 to 256 characters.
    pub q: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl EntrySearch {
    pub fn new(q: impl Into<String>) -> Self {
        EntrySearch {
            q: q.into(),
            ..Default::default()
        }
    }
}

/// Entries to add and remove together (at most 1,000 in all), all applied or none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntriesChange {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Seconds the added entries live, instead of the list's TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntriesChanged {
    pub list_id: String,
    pub added: u64,
    /// Entries that were present and are gone (absent ones are not counted).
    pub removed: u64,
    pub entry_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListDeleted {
    pub deleted: bool,
    pub list_id: String,
}

impl Client {
    /// `POST /v1/lists`. A name taken in the environment is a 409 (`ErrorKind::Conflict`).
    pub async fn create_list(&self, list: &NewList) -> Result<List> {
        self.send(Method::POST, self.url(&["v1", "lists"])?, Some(list))
            .await
    }

    /// `GET /v1/lists`: oldest first.
    pub async fn list_lists(&self, params: &ListListParams) -> Result<OffsetPage<List>> {
        self.get(self.url_with_query(&["v1", "lists"], params)?)
            .await
    }

    /// `GET /v1/lists/{listId}` with a page of its entries (`limit`, `offset`).
    pub async fn get_list(&self, list_id: &str, entries: &PageParams) -> Result<ListWithEntries> {
        self.get(self.url_with_query(&["v1", "lists", list_id], entries)?)
            .await
    }

    /// `GET /v1/lists/{listId}?q=…`: the list with a page of the entries containing `q`;
    /// `entries.total` counts the entries found.
    pub async fn search_list_entries(
        &self,
        list_id: &str,
        search: &EntrySearch,
    ) -> Result<ListWithEntries> {
        self.get(self.url_with_query(&["v1", "lists", list_id], search)?)
            .await
    }

    /// `POST /v1/lists/{listId}/entries`: adds and removes entries in one atomic call.
    pub async fn update_list_entries(
        &self,
        list_id: &str,
        change: &EntriesChange,
    ) -> Result<EntriesChanged> {
        let url = self.url(&["v1", "lists", list_id, "entries"])?;
        self.send(Method::POST, url, Some(change)).await
    }

    /// Adds entries to a list (their TTL: the list's).
    pub async fn add_list_entries(
        &self,
        list_id: &str,
        entries: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<EntriesChanged> {
        let change = EntriesChange {
            add: entries.into_iter().map(Into::into).collect(),
            ..EntriesChange::default()
        };
        self.update_list_entries(list_id, &change).await
    }

    /// Removes entries from a list; absent ones are no-ops, not counted in `removed`.
    pub async fn remove_list_entries(
        &self,
        list_id: &str,
        entries: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<EntriesChanged> {
        let change = EntriesChange {
            remove: entries.into_iter().map(Into::into).collect(),
            ..EntriesChange::default()
        };
        self.update_list_entries(list_id, &change).await
    }

    /// `DELETE /v1/lists/{listId}`: rules naming the list stop matching on it.
    pub async fn delete_list(&self, list_id: &str) -> Result<ListDeleted> {
        self.delete(self.url(&["v1", "lists", list_id])?).await
    }
}
