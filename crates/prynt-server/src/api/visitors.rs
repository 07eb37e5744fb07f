//! `/v1/visitors`: a visitor's history, its events, and erasure of every trace of it.

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::{ids, timefmt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::events::event_query;
use super::openapi::vocab::Verdict as VerdictName;
use super::pagination::{Cursors, Listing};
use crate::error::ApiError;
use crate::extract::{ApiQuery, SecretKey};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_visitor, delete_visitor))
        .routes(routes!(visitor_events))
}

fn check_id(visitor_id: &str) -> Result<(), ApiError> {
    if ids::is_visitor_id(visitor_id) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "visitorId",
            "'visitorId' must look like pv_8kX2mNqR3jT7p.",
        ))
    }
}

fn not_found(visitor_id: &str) -> ApiError {
    ApiError::NotFound(format!("No visitor {visitor_id}."))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorView {
    #[schema(pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: String,
    #[schema(format = DateTime)]
    first_seen_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(minimum = 0)]
    total_visits: i64,
    /// Distinct `linkedId`s seen with this visitor.
    #[schema(minimum = 0)]
    linked_accounts: i64,
    /// The browsers seen, most recent first (at most 50, from events within retention).
    devices: Vec<DeviceSeen>,
    /// The addresses seen, most recent first (at most 50, from events within retention).
    ips: Vec<IpSeen>,
    /// Names of the lists that hold this visitor.
    lists: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSeen {
    #[schema(required = true)]
    platform: Option<String>,
    #[schema(required = true)]
    browser: Option<String>,
    #[schema(required = true)]
    gpu: Option<String>,
    #[schema(format = DateTime)]
    last_seen_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpSeen {
    address: String,
    #[schema(minimum = 0)]
    visits: i64,
    #[schema(format = DateTime)]
    first_seen_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
}

/// The answer of an erasure.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorDeleted {
    deleted: bool,
    #[schema(pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: String,
}

/// One page of a visitor's events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorEventPage {
    data: Vec<VisitorEvent>,
    has_more: bool,
    /// The `cursor` of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// An event in a visitor's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorEvent {
    #[schema(value_type = String, pattern = "^req_[0-9]{1,12}_[0-9a-f]{6}$")]
    request_id: Value,
    #[schema(value_type = String, format = DateTime)]
    timestamp: Value,
    /// `null` when no live rule was configured.
    #[schema(value_type = Option<VerdictName>, required = true)]
    verdict: Value,
    signals: SignalFlags,
}

/// Whether the bot and VPN signals fired.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalFlags {
    #[schema(value_type = Option<bool>, required = true)]
    bot: Value,
    #[schema(value_type = Option<bool>, required = true)]
    vpn: Value,
}

/// Retrieve a visitor: first and last seen, visits, linked accounts, devices and IPs.
#[utoipa::path(
    get, path = "/v1/visitors/{visitorId}", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "The visitor ID: `pv_` and 13 letters or digits.")),
    responses((status = 200, body = VisitorView))
)]
async fn get_visitor(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(visitor_id): Path<String>,
) -> Result<Json<VisitorView>, ApiError> {
    check_id(&visitor_id)?;
    let v = state
        .store
        .visitor(&ctx.scope, &visitor_id, state.retention_floor_ms())
        .await?
        .ok_or_else(|| not_found(&visitor_id))?;
    let ts = |ms: i64| timefmt::rfc3339(ms.div_euclid(1000));
    Ok(Json(VisitorView {
        visitor_id: v.visitor_id,
        first_seen_at: ts(v.first_seen_ms),
        last_seen_at: ts(v.last_seen_ms),
        total_visits: v.total_visits,
        linked_accounts: v.linked_accounts,
        devices: v
            .devices
            .into_iter()
            .map(|d| DeviceSeen {
                platform: d.platform,
                browser: d.browser,
                gpu: d.gpu,
                last_seen_at: ts(d.last_seen_ms),
            })
            .collect(),
        ips: v
            .ips
            .into_iter()
            .map(|ip| IpSeen {
                address: ip.address,
                visits: ip.visits,
                first_seen_at: ts(ip.first_seen_ms),
                last_seen_at: ts(ip.last_seen_ms),
            })
            .collect(),
        lists: v.lists,
    }))
}

/// Delete every trace of a visitor: events, device profile, links and counts, and its entry in
/// the matching index, so the same browser returning later gets a new visitor ID.
#[utoipa::path(
    delete, path = "/v1/visitors/{visitorId}", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "The visitor ID: `pv_` and 13 letters or digits.")),
    responses((status = 200, body = VisitorDeleted))
)]
async fn delete_visitor(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(visitor_id): Path<String>,
) -> Result<Json<VisitorDeleted>, ApiError> {
    check_id(&visitor_id)?;
    if !state.store.delete_visitor(&ctx.scope, &visitor_id).await? {
        return Err(not_found(&visitor_id));
    }
    state.identity.index(&ctx.scope).write().remove(&visitor_id);
    state.risk.forget_visitor(&ctx.scope, &visitor_id).await;
    let policy = state.policy.scope(&ctx.scope).await?;
    policy.forget_visitor(&visitor_id).await;
    policy.drop_visitor_entries(&visitor_id);
    Ok(Json(VisitorDeleted {
        deleted: true,
        visitor_id,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitorEvents {
    /// Events before this ISO 8601 timestamp.
    #[param(format = DateTime)]
    before: Option<String>,
    /// Events after this ISO 8601 timestamp.
    #[param(format = DateTime)]
    after: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^cur_[A-Za-z0-9_-]{44}$")]
    cursor: Option<String>,
}

/// List a visitor's events, newest first.
#[utoipa::path(
    get, path = "/v1/visitors/{visitorId}/events", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "The visitor ID: `pv_` and 13 letters or digits."), VisitorEvents),
    responses((status = 200, body = VisitorEventPage))
)]
async fn visitor_events(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(visitor_id): Path<String>,
    ApiQuery(q): ApiQuery<VisitorEvents>,
) -> Result<Json<VisitorEventPage>, ApiError> {
    check_id(&visitor_id)?;
    let cursors = Cursors::new(
        &state.identity.token_key,
        &ctx.scope,
        Listing::VisitorEvents(&visitor_id),
    );
    let query = event_query(
        &state,
        &cursors,
        Some(visitor_id.clone()),
        q.before.as_deref(),
        q.after.as_deref(),
        q.limit,
        q.cursor.as_deref(),
    )?;
    let rows = state.store.events(&ctx.scope, query.clone()).await?;
    if rows.is_empty()
        && query.cursor.is_none()
        && state
            .store
            .visitor(&ctx.scope, &visitor_id, i64::MAX)
            .await?
            .is_none()
    {
        return Err(not_found(&visitor_id));
    }
    let (rows, has_more, next_cursor) = cursors.page(rows, &query);
    let data = rows
        .into_iter()
        .map(|r| {
            let b = r.body;
            let signal = |name: &str| match &b["signals"] {
                Value::Null => Value::Null,
                s => s[name]["detected"].clone(),
            };
            VisitorEvent {
                request_id: b["requestId"].clone(),
                timestamp: b["timestamp"].clone(),
                verdict: b["verdict"].clone(),
                signals: SignalFlags {
                    bot: signal("bot"),
                    vpn: signal("vpn"),
                },
            }
        })
        .collect();
    Ok(Json(VisitorEventPage {
        data,
        has_more,
        next_cursor,
    }))
}
