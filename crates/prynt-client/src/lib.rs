//! Async Rust client of the Prynt API (docs/rust-client.md).
//!
//! One [`Client`] holds the secret key, the server's address and the retry policy; it has a
//! method per endpoint, each taking and returning typed structs (camelCase on the wire, as the
//! API reference spells the fields). Response types ignore fields they do not know and enums
//! have an `Unknown` variant, so a newer server does not break an older client.
//!
//! - Failures are one [`Error`] type: the API's error body (status, code, message, field,
//!   `Retry-After`, `X-Request-Id`), transport and timeout failures, and undecodable answers.
//! - 429, 5xx and transport failures are retried with exponential backoff and full jitter
//!   (429 after `Retry-After`); a POST is retried only with an `Idempotency-Key`, which the
//!   client sends, fresh per call, on every POST unless told not to.
//! - Event listings can be walked to the end with a [`Pager`], page by page or as a stream.
//! - [`verify_webhook_signature`] checks what a webhook receiver got.
//!
//! TLS is rustls on the ring provider; building a client installs ring as the process's
//! default provider when no provider is installed yet.

mod analytics;
mod client;
mod common;
mod error;
mod events;
mod identify;
mod lists;
mod pager;
mod retry;
mod rules;
pub mod signature;
mod visitors;
mod webhooks;
mod workspace;

pub use analytics::{
    EventAnalytics, EventAnalyticsParams, EventGroup, EventGroupBy, SignalAnalytics,
    SignalAnalyticsParams, SignalFigure, SignalGroupBy, SignalPoint, Trend,
};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_TIMEOUT};
pub use common::{CursorPage, OffsetPage, PageParams, Verdict};
pub use error::{Error, ErrorKind, Result};
pub use events::{
    BotSignal, Device, Event, EventListParams, EventSummary, IpInfo, RuleRef, Scores, ScreenSize,
    Signals, VpnSignal,
};
pub use futures_core::Stream;
pub use identify::{Identification, VISITOR_TOKEN_HEADER};
pub use lists::{
    EntriesChange, EntriesChanged, EntrySearch, List, ListDeleted, ListEntry, ListListParams,
    ListPurpose, ListType, ListWithEntries, NewList,
};
pub use pager::Pager;
/// The HTTP client underneath, for [`ClientBuilder::http_client`] and header types.
pub use reqwest;
pub use retry::RetryPolicy;
pub use rules::{
    Action, Backtest, BacktestParams, BacktestSample, Condition, ConditionSummary, GroupOperator,
    NewRule, Operator, Rule, RuleCreated, RuleDeleted, RuleListParams, RuleStats, RuleStatus,
    RuleSummary, RuleUpdate, RuleUpdated, RuleVersion, SideEffect, UnsavedBacktest,
};
pub use signature::{verify_webhook_signature, verify_webhook_signature_with, VerifyOptions};
pub use visitors::{
    Visitor, VisitorDeleted, VisitorDevice, VisitorEvent, VisitorEventSignals, VisitorEventsParams,
    VisitorIp,
};
pub use webhooks::{
    Delivery, DeliveryAttempt, NewWebhook, RedeliveryQueued, SecretRotated, TestQueued, Webhook,
    WebhookCreated, WebhookDeleted, WebhookEvent, WebhookFilters, WebhookListParams, WebhookStatus,
    WebhookUpdate,
};
pub use workspace::{Limits, Workspace, WorkspaceUpdate};
