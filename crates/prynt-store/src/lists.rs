//! [`ListStore`]: custom lists and their entries.

use async_trait::async_trait;
use prynt_core::Scope;

use crate::{EntryChange, EntryOutcome, ListEntry, ListRecord, NewList, OutboxItem, StoreResult};

/// Lists of a scope (names unique within it) and their entries. An entry with an expiry
/// (Unix seconds) stops counting once it has passed: listings, counts and searches skip it.
#[async_trait]
pub trait ListStore: Send + Sync + 'static {
    /// Creates a list; `Conflict` when the name is taken in the scope, `DuplicateId` when the
    /// generated id is.
    async fn create_list(
        &self,
        scope: &Scope,
        list: NewList,
        now_ms: i64,
    ) -> StoreResult<ListRecord>;
    /// Lists oldest first, optionally of one type, with the total count of that filter.
    async fn lists(
        &self,
        scope: &Scope,
        list_type: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListRecord>, usize)>;
    async fn list(&self, scope: &Scope, id: &str) -> StoreResult<Option<ListRecord>>;
    /// One page of the entries that have not expired, newest first, with how many there are;
    /// with `search`, only those whose value contains it literally (ASCII letters in either
    /// case; `%`, `_` and `\` are no wildcards).
    async fn list_entries(
        &self,
        scope: &Scope,
        list_id: &str,
        search: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<ListEntry>, usize)>;
    /// Removes then adds entries (an entry added again gets its new time and expiry) in one
    /// transaction with the change's outbox row; `NotFound` when the scope has no such list.
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
}
