//! [`WorkspaceStore`]: the tenants of a store and their plans.

use async_trait::async_trait;
use prynt_core::{Plan, PlanLimits};

use crate::{StoreResult, Workspace};

/// Workspaces: created by the operator's CLI, looked up by name, each with a plan and, for
/// enterprise, custom limits. Every store holds a workspace named `default` from its creation,
/// so keys can be made before the first start.
#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
    /// Creates a workspace with a fresh `ws_` id; `Conflict` when the name is taken.
    async fn create_workspace(&self, name: &str, plan: Plan) -> StoreResult<Workspace>;
    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>>;
    /// Every workspace, oldest first.
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    /// Sets the plan and, for enterprise, custom limits (`None` returns to the plan's defaults);
    /// `NotFound` when there is no workspace of that name.
    async fn update_workspace_plan(
        &self,
        name: &str,
        plan: Plan,
        limits: Option<PlanLimits>,
    ) -> StoreResult<Workspace>;
}
