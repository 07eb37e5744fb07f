//! [`WorkspaceStore`] on PostgreSQL: workspaces and their plans.

use async_trait::async_trait;
use prynt_core::{timefmt, Plan, PlanLimits};
use tokio_postgres::Row;

use super::error::violated_constraint;
use super::PostgresStore;
use crate::{StoreError, StoreResult, Workspace, WorkspaceStore};

pub(crate) const WORKSPACE_COLS: &str = "w.id, w.name, w.plan, w.custom_limits, w.created_at";

/// Reads a workspace from the columns of [`WORKSPACE_COLS`] starting at `at`.
pub(crate) fn workspace_from_row(row: &Row, at: usize) -> StoreResult<Workspace> {
    let plan: String = row.try_get(at + 2)?;
    let limits: Option<String> = row.try_get(at + 3)?;
    Ok(Workspace {
        id: row.try_get(at)?,
        name: row.try_get(at + 1)?,
        plan: Plan::parse(&plan)
            .ok_or_else(|| StoreError::Backend(format!("unknown plan {plan:?}")))?,
        custom_limits: limits.map(|j| serde_json::from_str(&j)).transpose()?,
        created_at: row.try_get(at + 4)?,
    })
}

#[async_trait]
impl WorkspaceStore for PostgresStore {
    async fn create_workspace(&self, name: &str, plan: Plan) -> StoreResult<Workspace> {
        let ws = Workspace {
            id: prynt_core::ids::prefixed_hex_id("ws"),
            name: name.to_owned(),
            plan,
            custom_limits: None,
            created_at: timefmt::now_unix(),
        };
        let conn = self.conn().await?;
        let inserted = conn
            .execute(
                "INSERT INTO workspaces (id, name, plan, custom_limits, created_at)
                 VALUES ($1, $2, $3, NULL, $4)",
                &[&ws.id, &ws.name, &ws.plan.as_str(), &ws.created_at],
            )
            .await;
        match inserted {
            Ok(_) => Ok(ws),
            Err(e) if violated_constraint(&e) == Some("workspaces_pkey") => {
                Err(StoreError::DuplicateId)
            }
            Err(e) if violated_constraint(&e).is_some() => Err(StoreError::Conflict(format!(
                "a workspace named {:?} exists",
                ws.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        let conn = self.conn().await?;
        let st = conn
            .prepare_cached(&format!(
                "SELECT {WORKSPACE_COLS} FROM workspaces w WHERE w.name = $1"
            ))
            .await?;
        conn.query_opt(&st, &[&name])
            .await?
            .map(|r| workspace_from_row(&r, 0))
            .transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        let conn = self.conn().await?;
        conn.query(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces w ORDER BY w.created_at, w.name"),
            &[],
        )
        .await?
        .iter()
        .map(|r| workspace_from_row(r, 0))
        .collect()
    }

    async fn update_workspace_plan(
        &self,
        name: &str,
        plan: Plan,
        limits: Option<PlanLimits>,
    ) -> StoreResult<Workspace> {
        let limits_json = limits.map(|l| serde_json::to_string(&l)).transpose()?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE workspaces w SET plan = $1, custom_limits = $2 WHERE w.name = $3
                     RETURNING {WORKSPACE_COLS}"
                ),
                &[&plan.as_str(), &limits_json, &name],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let ws = workspace_from_row(&row, 0)?;
        // The plan rides along with every cached key of the workspace.
        self.note_marker(&tx, crate::ChangedResource::Keys, &ws.id, None)
            .await?;
        tx.commit().await?;
        Ok(ws)
    }
}
