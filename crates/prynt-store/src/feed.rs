//! [`ChangeFeed`]: the ordered stream of what changed in the store, which every node of a
//! shared store follows to keep its in-memory caches (matching index, velocity, event table,
//! compiled rules and lists, keys and settings) current with what the other nodes wrote.
//!
//! Every write that changes shared state appends one row to the feed in its own transaction,
//! so a change is in the feed exactly when it is durable. An identification's row points at
//! its event and visitor, and the feed hands both back; any other change is a marker naming
//! the resource and the workspace (and environment) whose copy a node must reload.
//!
//! The feed is read after a [`ChangeCursor`]; a reader that keeps its cursor never misses a
//! change and never sees one twice, whatever the order in which concurrent writers commit.
//! [`ChangeFeed::wait_for_change`] only wakes a reader early: the items always come from
//! [`ChangeFeed::changes_after`], so a missed wake-up delays a change, never loses it.

use std::time::Duration;

use async_trait::async_trait;
use prynt_core::{Environment, Scope};

use crate::{RawEvent, StoreResult, StoredProfile};

/// A position in the feed: everything at or before it has been read. Ordered; the default is
/// the position before the first change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeCursor {
    /// The writing transaction's id on stores with concurrent writers (PostgreSQL's `xid8`);
    /// 0 on a store whose one writer commits in order.
    pub xid: i64,
    /// The change's number within the feed.
    pub seq: i64,
}

/// The kinds of resource a node caches besides identifications, each reloaded whole for the
/// scope a marker names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangedResource {
    /// Rules created, changed or deleted.
    Rules,
    /// Lists created or deleted, or their entries changed (by the API or a rule's side
    /// effect).
    Lists,
    /// A key revoked, or the workspace's plan or limits changed: cached keys of the workspace
    /// must be looked up again.
    Keys,
    /// An environment's settings changed.
    Settings,
    /// Webhooks created, changed or deleted.
    Webhooks,
}

impl ChangedResource {
    pub const ALL: [ChangedResource; 5] = [
        ChangedResource::Rules,
        ChangedResource::Lists,
        ChangedResource::Keys,
        ChangedResource::Settings,
        ChangedResource::Webhooks,
    ];

    /// The name stored in the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangedResource::Rules => "rules",
            ChangedResource::Lists => "lists",
            ChangedResource::Keys => "keys",
            ChangedResource::Settings => "settings",
            ChangedResource::Webhooks => "webhooks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What one feed item says changed.
#[derive(Debug, Clone)]
pub enum Change {
    /// An identification was recorded: its event, and its visitor as stored now (profile,
    /// visits, first and last seen).
    Identified {
        scope: Scope,
        event: RawEvent,
        visitor: StoredProfile,
        linked_id: Option<String>,
    },
    /// A visitor was erased, with its events.
    VisitorDeleted { scope: Scope, visitor_id: String },
    /// A resource of a workspace changed: of one environment, or of both when `env` is `None`.
    Marker {
        resource: ChangedResource,
        workspace_id: String,
        env: Option<Environment>,
    },
}

/// One change, where it sits in the feed and which store wrote it.
#[derive(Debug, Clone)]
pub struct ChangeItem {
    pub cursor: ChangeCursor,
    /// The [`ChangeFeed::writer_id`] of the store (the process) that made the change.
    pub writer_id: i64,
    /// When the change was made (Unix ms, the writer's clock).
    pub at_ms: i64,
    pub change: Change,
}

/// A page of the feed and the cursor to read the next one after. The cursor may move past
/// rows that yield no item (an identification whose event was erased since).
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    /// The items up to `cursor`, in feed order.
    pub items: Vec<ChangeItem>,
    /// Items already committed beyond `cursor` that the cursor cannot pass yet, because a
    /// transaction ordered before them is still running (on PostgreSQL any write transaction
    /// of the server, of any database, begun earlier). A reader may apply them now instead of
    /// waiting for that transaction; each comes again in `items` of a later page (same
    /// cursor), where such a reader must skip it. Always empty on SQLite.
    pub ahead: Vec<ChangeItem>,
    pub cursor: ChangeCursor,
    /// Whether the page ended at the feed's readable end (a reader is caught up).
    pub caught_up: bool,
}

/// The ordered stream of changes a node follows. See the module documentation.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// The number this store object tags its own writes with: random per opened store, so per
    /// process. A node skips its own items, which it applied when it wrote them.
    fn writer_id(&self) -> i64;
    /// Where a node about to load its caches from the store starts following: no change
    /// committed after the call lies at or before it. It may lie before changes committed
    /// earlier (which the load then sees too), so such a change can be read again afterwards.
    async fn change_head(&self) -> StoreResult<ChangeCursor>;
    /// Up to `limit` committed changes after `after`, in feed order, and the cursor to continue
    /// from. The cursor passes a change only once its transaction and every transaction that
    /// could come before it in the order have ended, so a reader never skips one that commits
    /// later; committed changes beyond that point come as [`ChangePage::ahead`].
    async fn changes_after(&self, after: ChangeCursor, limit: usize) -> StoreResult<ChangePage>;
    /// Waits until a change may have been committed (by any node) or `timeout` has passed;
    /// whether it was woken. A wake-up that comes while nobody waits is kept for the next
    /// call.
    async fn wait_for_change(&self, timeout: Duration) -> StoreResult<bool>;
    /// Deletes the feed's rows older than `floor_ms`; returns how many. A node further behind
    /// than that must restart to reload its caches.
    async fn purge_changes_before(&self, floor_ms: i64) -> StoreResult<usize>;
}

/// A fresh writer id for a store being opened: random and positive.
pub(crate) fn new_writer_id() -> i64 {
    let bytes = prynt_core::ids::random_bytes(8);
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    (i64::from_le_bytes(raw) & i64::MAX).max(1)
}
