//! `/v1/visitors`: a visitor's history, its events, and erasure of every trace of it.

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::{ids, timefmt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::events::{event_query, EventPage};
use super::pagination;
use crate::error::{ApiError, ErrorBody};
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
    visitor_id: String,
    first_seen_at: String,
    last_seen_at: String,
    total_visits: i64,
    /// Distinct `linkedId`s seen with this visitor.
    linked_accounts: i64,
    #[schema(value_type = Vec<Object>)]
    devices: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    ips: Vec<Value>,
    /// Names of the lists that hold this visitor.
    lists: Vec<String>,
}

/// Retrieve a visitor: first and last seen, visits, linked accounts, devices and IPs.
#[utoipa::path(
    get, path = "/v1/visitors/{visitorId}", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "pv_*")),
    responses((status = 200, body = VisitorView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
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
            .map(|d| json!({"platform": d.platform, "browser": d.browser, "gpu": d.gpu, "lastSeenAt": ts(d.last_seen_ms)}))
            .collect(),
        ips: v
            .ips
            .into_iter()
            .map(|ip| json!({"address": ip.address, "visits": ip.visits, "firstSeenAt": ts(ip.first_seen_ms), "lastSeenAt": ts(ip.last_seen_ms)}))
            .collect(),
        lists: v.lists,
    }))
}

/// Delete every trace of a visitor: events, device profile, links and counts, and its entry in
/// the matching index, so the same browser returning later gets a new visitor ID.
#[utoipa::path(
    delete, path = "/v1/visitors/{visitorId}", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "pv_*")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_visitor(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(visitor_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&visitor_id)?;
    if !state.store.delete_visitor(&ctx.scope, &visitor_id).await? {
        return Err(not_found(&visitor_id));
    }
    state.identity.index(&ctx.scope).write().remove(&visitor_id);
    state.risk.forget_visitor(&ctx.scope, &visitor_id);
    let policy = state.policy.scope(&ctx.scope).await?;
    policy.forget_visitor(&visitor_id).await;
    policy.drop_visitor_entries(&visitor_id);
    Ok(Json(json!({ "deleted": true, "visitorId": visitor_id })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitorEvents {
    before: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List a visitor's events, newest first.
#[utoipa::path(
    get, path = "/v1/visitors/{visitorId}/events", tag = "Visitors",
    security(("bearer" = [])),
    params(("visitorId" = String, Path, description = "pv_*"), VisitorEvents),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn visitor_events(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(visitor_id): Path<String>,
    ApiQuery(q): ApiQuery<VisitorEvents>,
) -> Result<Json<Value>, ApiError> {
    check_id(&visitor_id)?;
    let query = event_query(
        &state,
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
    let (rows, has_more, next_cursor) = pagination::page(rows, &query);
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let b = r.body;
            let signal = |name: &str| match &b["signals"] {
                Value::Null => Value::Null,
                s => s[name]["detected"].clone(),
            };
            json!({
                "requestId": b["requestId"],
                "timestamp": b["timestamp"],
                "verdict": b["verdict"],
                "signals": { "bot": signal("bot"), "vpn": signal("vpn") },
            })
        })
        .collect();
    Ok(Json(
        json!({ "data": data, "hasMore": has_more, "nextCursor": next_cursor }),
    ))
}
