//! [`RuleStore`]: decision rules with their immutable versions.

use async_trait::async_trait;
use prynt_core::Scope;

use crate::{NewRule, RuleChange, RuleRecord, RuleVersion, StoreResult};

/// Rules of a scope. Every change writes a new immutable version (computed by
/// [`crate::merge::apply_rule_change`]); versions outlive their rule, since events keep naming
/// the version that decided them.
#[async_trait]
pub trait RuleStore: Send + Sync + 'static {
    /// Creates a rule and its first version; `priority: None` takes the next one after the
    /// scope's highest; `DuplicateId` if the generated id is taken.
    async fn create_rule(
        &self,
        scope: &Scope,
        rule: NewRule,
        now_ms: i64,
    ) -> StoreResult<RuleRecord>;
    /// Rules ordered by priority then creation, optionally of one status, with the total count
    /// of that filter.
    async fn rules(
        &self,
        scope: &Scope,
        status: Option<String>,
        limit: usize,
        offset: usize,
    ) -> StoreResult<(Vec<RuleRecord>, usize)>;
    async fn rule(&self, scope: &Scope, id: &str) -> StoreResult<Option<RuleRecord>>;
    /// Every stored version of a rule of the scope, newest first; `None` when the scope has
    /// no such rule (a deleted rule included).
    async fn rule_versions(&self, scope: &Scope, id: &str)
        -> StoreResult<Option<Vec<RuleVersion>>>;
    /// Applies a change as a new version, atomically; `NotFound` when there is no such rule.
    async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        change: RuleChange,
        now_ms: i64,
    ) -> StoreResult<RuleRecord>;
    /// Deletes a rule (its versions stay); whether it existed.
    async fn delete_rule(&self, scope: &Scope, id: &str) -> StoreResult<bool>;
}
