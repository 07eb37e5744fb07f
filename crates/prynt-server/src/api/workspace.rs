//! `/v1/workspace`: the calling key's workspace, its plan and limits, and the settings of the
//! key's environment (such as the origins allowed to call identify).

use axum::Json;
use prynt_core::scope::SuspectWeights;
use prynt_core::{EnvSettings, PlanLimits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::vocab::{Environment, Plan};
use crate::bounds::MAX_ORIGINS;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthContext, SecretKey};
use crate::origin::normalise_origin;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_workspace, update_workspace))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    id: String,
    name: String,
    /// The environment of the calling key.
    #[schema(value_type = Environment)]
    environment: String,
    #[schema(value_type = Plan)]
    plan: String,
    limits: LimitsView,
    /// Origins allowed to call identify from a browser; empty means any origin.
    allowed_origins: Vec<String>,
    /// Weight of each signal in `scores.suspect`.
    #[schema(schema_with = weights_schema)]
    suspect_weights: SuspectWeights,
    /// Whether events store the client address masked (`73.162.xxx.xxx`).
    mask_ip: bool,
}

fn weights_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("SuspectWeights")
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsView {
    server_api_per_minute: u32,
    management_api_per_minute: u32,
    burst_per_second: u32,
    identify_per_second: u32,
}

impl From<PlanLimits> for LimitsView {
    fn from(l: PlanLimits) -> Self {
        LimitsView {
            server_api_per_minute: l.server_per_min,
            management_api_per_minute: l.mgmt_per_min,
            burst_per_second: l.burst_per_sec,
            identify_per_second: l.identify_per_sec,
        }
    }
}

/// Settings to change; fields left out keep their value. Its schema is `UpdateWorkspace` in
/// `api::openapi`, which adds the shape of an origin.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// Replaces the allowed origins, e.g. `["https://shop.example"]`; `[]` allows any origin.
    allowed_origins: Option<Vec<String>>,
    /// Replaces the suspect-score weights (0 to 100 each); weights left out take their default.
    #[serde(default, deserialize_with = "prynt_core::shape::optional_object")]
    suspect_weights: Option<SuspectWeights>,
    /// Mask the host part of client addresses in events from now on.
    mask_ip: Option<bool>,
}

fn view(ctx: &AuthContext, settings: EnvSettings) -> WorkspaceView {
    WorkspaceView {
        id: ctx.workspace.id.clone(),
        name: ctx.workspace.name.clone(),
        environment: ctx.scope.env.as_str().to_owned(),
        plan: ctx.workspace.plan.as_str().to_owned(),
        limits: ctx.workspace.limits().into(),
        allowed_origins: settings.allowed_origins,
        suspect_weights: settings.suspect_weights,
        mask_ip: settings.mask_ip,
    }
}

/// Retrieve the calling key's workspace and environment settings.
#[utoipa::path(
    get, path = "/v1/workspace", tag = "Workspace",
    security(("bearer" = [])),
    responses((status = 200, body = WorkspaceView))
)]
async fn get_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    SecretKey(ctx): SecretKey,
) -> Result<Json<WorkspaceView>, ApiError> {
    let settings = state.store.env_settings(&ctx.scope).await?;
    Ok(Json(view(&ctx, settings)))
}

/// Update the settings of the calling key's environment.
#[utoipa::path(
    patch, path = "/v1/workspace", tag = "Workspace",
    security(("bearer" = [])),
    request_body(content = ref("#/components/schemas/UpdateWorkspace")),
    responses((status = 200, body = WorkspaceView))
)]
async fn update_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(body): ApiJson<UpdateWorkspace>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let mut settings = state.store.env_settings(&ctx.scope).await?;
    if let Some(origins) = body.allowed_origins {
        if origins.len() > MAX_ORIGINS {
            return Err(ApiError::validation(
                "allowedOrigins",
                format!("At most {MAX_ORIGINS} origins are allowed."),
            ));
        }
        let mut normalised = Vec::with_capacity(origins.len());
        for (i, o) in origins.iter().enumerate() {
            let n = normalise_origin(o).ok_or_else(|| {
                ApiError::validation(
                    format!("allowedOrigins[{i}]"),
                    "An origin is scheme://host[:port] with scheme http or https and nothing after it, e.g. https://shop.example.",
                )
            })?;
            if !normalised.contains(&n) {
                normalised.push(n);
            }
        }
        settings.allowed_origins = normalised;
    }
    if let Some(weights) = body.suspect_weights {
        if let Some(name) = weights.out_of_range() {
            return Err(ApiError::validation(
                format!("suspectWeights.{name}"),
                format!("A weight is between 0 and {}.", SuspectWeights::MAX),
            ));
        }
        settings.suspect_weights = weights;
    }
    if let Some(mask) = body.mask_ip {
        settings.mask_ip = mask;
    }
    state.store.put_env_settings(&ctx.scope, &settings).await?;
    state
        .cache
        .put_settings(ctx.scope.clone(), settings.clone());
    Ok(Json(view(&ctx, settings)))
}
