//! `/v1/workspace`: the calling key's workspace, its plan and limits, and the settings of the
//! key's environment (such as the origins allowed to call identify).

use axum::Json;
use prynt_core::scope::SuspectWeights;
use prynt_core::{EnvSettings, PlanLimits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::vocab::{Environment, Plan};
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthContext, SecretKey};
use crate::state::AppState;

/// Most allowed origins per environment.
pub const MAX_ORIGINS: usize = 100;

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

/// `scheme://host[:port]`, lowercased, default ports dropped, as browsers send `Origin`.
pub fn normalise_origin(origin: &str) -> Option<String> {
    if origin.len() > 255 {
        return None;
    }
    let lower = origin.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (inner, after) = v6.split_once(']')?;
        inner.parse::<std::net::Ipv6Addr>().ok()?;
        // Nothing may follow the address but a port.
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (format!("[{inner}]"), after.strip_prefix(':'))
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    let host_ok = host.starts_with('[')
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0)?),
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::normalise_origin;

    #[test]
    fn origins_are_normalised_or_refused() {
        assert_eq!(
            normalise_origin("https://Shop.Example").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(
            normalise_origin("https://shop.example:443").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(
            normalise_origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            normalise_origin("http://[::1]:3000").as_deref(),
            Some("http://[::1]:3000")
        );
        for bad in [
            "shop.example",
            "ftp://x.example",
            "https://x.example/",
            "https://x.example/path",
            "https://",
            "https://a..b",
            "https://x.example:0",
            "https://x.example:99999",
            "https://user@x.example",
            "javascript://x",
            "https://x_y.example",
            "http://[::1]x",
            "http://[::1]/",
        ] {
            assert_eq!(normalise_origin(bad), None, "{bad}");
        }
    }
}
