//! `/v1/webhooks`: subscriptions (URL checked against SSRF at save time, secret generated or
//! given, sealed at rest, shown once), their deliveries with every attempt, test deliveries,
//! secret rotation and manual redelivery.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use prynt_core::{ids, timefmt};
use prynt_store::{StoreError, WebhookChange, WebhookRecord};
use prynt_webhooks::{signing, ssrf};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::Body;
use super::pagination::{self, OffsetPage};
use super::ts;
use crate::decide::payload;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, AuthContext, SecretKey};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(test_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(redeliver))
}

pub const EVENTS: &[&str] = &["identification", "rule_match", "list_update"];
const STATUSES: &[&str] = &["active", "paused"];
const VERDICTS: &[&str] = &["allow", "challenge", "block"];
/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP_MS: i64 = 86_400_000;

fn check_id(id: &str) -> Result<(), ApiError> {
    super::check_hex_id(id, "whk", "id")
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("No webhook {id}."))
}

/// A webhook as the API shows it; the secret only ever at creation and rotation.
fn view(r: &WebhookRecord) -> Value {
    json!({
        "id": r.id,
        "url": r.url,
        "description": r.description,
        "events": serde_json::from_str::<Value>(&r.events).unwrap_or(Value::Null),
        "filters": serde_json::from_str::<Value>(&r.filters).unwrap_or(Value::Null),
        "status": r.status,
        "successRate": r.success_rate.map(|x| (x * 10_000.0).round() / 10_000.0),
        "lastDeliveryAt": r.last_delivery_ms.map(ts),
        "createdAt": ts(r.created_ms),
        "updatedAt": ts(r.updated_ms),
    })
}

fn check_url(state: &AppState, body: &Body) -> Result<Option<String>, ApiError> {
    let Some(url) = body.string("url", 2048)? else {
        return Ok(None);
    };
    ssrf::check_url(&url, state.webhook_config.allow_loopback)
        .map(Some)
        .map_err(|e| ApiError::validation("url", e.to_string()))
}

fn events(body: &Body) -> Result<Option<String>, ApiError> {
    let Some(v) = body.get("events") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::validation(
            "events",
            format!(
                "'events' must be a non-empty array of: {}.",
                EVENTS.join(", ")
            ),
        )
    };
    let arr = v.as_array().filter(|a| !a.is_empty()).ok_or_else(bad)?;
    let mut out: Vec<&str> = Vec::new();
    for (i, e) in arr.iter().enumerate() {
        let name = e.as_str().filter(|n| EVENTS.contains(n)).ok_or_else(|| {
            ApiError::validation(
                format!("events[{i}]"),
                format!("Unknown event type; one of: {}.", EVENTS.join(", ")),
            )
        })?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(Some(json!(out).to_string()))
}

/// `{verdict?, ruleId?, botDetected?}`; a single verdict or rule id may be given bare.
fn filters(body: &Body) -> Result<Option<String>, ApiError> {
    let Some(v) = body.get("filters") else {
        return Ok(None);
    };
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::validation("filters", "'filters' must be an object."))?;
    let mut out = Map::new();
    for (k, val) in obj {
        let field = format!("filters.{k}");
        match k.as_str() {
            "verdict" | "ruleId" => {
                let items: Vec<Value> = match val {
                    Value::String(_) => vec![val.clone()],
                    Value::Array(a) if !a.is_empty() && a.len() <= 100 => a.clone(),
                    _ => {
                        return Err(ApiError::validation(
                            field,
                            "Give one value or a non-empty array (at most 100).",
                        ))
                    }
                };
                for (i, item) in items.iter().enumerate() {
                    let ok = match (k.as_str(), item.as_str()) {
                        ("verdict", Some(s)) => VERDICTS.contains(&s),
                        ("ruleId", Some(s)) => ids::is_prefixed_hex_id(s, "rul"),
                        _ => false,
                    };
                    if !ok {
                        return Err(ApiError::validation(
                            format!("{field}[{i}]"),
                            if k == "verdict" {
                                "A verdict is allow, challenge or block."
                            } else {
                                "A rule id looks like rul_9a7f2c4e8b1d."
                            },
                        ));
                    }
                }
                out.insert(k.clone(), Value::Array(items));
            }
            "botDetected" => {
                let b = val.as_bool().ok_or_else(|| {
                    ApiError::validation(field, "'botDetected' must be true or false.")
                })?;
                out.insert(k.clone(), Value::Bool(b));
            }
            _ => {
                return Err(ApiError::validation(
                    field,
                    "Unknown filter; filters are verdict, ruleId and botDetected.",
                ))
            }
        }
    }
    Ok(Some(Value::Object(out).to_string()))
}

fn description(body: &Body) -> Result<Option<String>, ApiError> {
    body.string("description", 500)
}

async fn refresh(state: &AppState, ctx: &AuthContext) -> Result<(), ApiError> {
    let policy = state.policy.scope(&ctx.scope).await?;
    policy
        .reload_webhooks(state.store.as_ref(), &ctx.scope)
        .await?;
    state.delivery_wake.notify_one();
    Ok(())
}

/// Create a webhook. The answer shows the signing secret; it is never shown again.
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "Webhooks",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{url, events?, filters?: {verdict?, ruleId?, botDetected?}, secret?, description?, status?}`"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody))
)]
async fn create_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = Body::new(
        map,
        &[
            "url",
            "events",
            "filters",
            "secret",
            "description",
            "status",
        ],
    )?;
    let url = check_url(&state, &body)?
        .ok_or_else(|| ApiError::validation("url", "'url' is required."))?;
    let events = events(&body)?.unwrap_or_else(|| json!(EVENTS).to_string());
    let filters = filters(&body)?.unwrap_or_else(|| "{}".into());
    let secret = match body.string("secret", 128)? {
        Some(s) if s.len() >= 16 && s.chars().all(|c| c.is_ascii_graphic()) => s,
        Some(_) => {
            return Err(ApiError::validation(
                "secret",
                "'secret' must be 16 to 128 printable ASCII characters.",
            ))
        }
        None => signing::new_secret(),
    };
    let status = body
        .one_of("status", STATUSES)?
        .unwrap_or_else(|| "active".into());
    let now_ms = timefmt::now_unix_ms();
    let mut attempt = 0;
    let rec = loop {
        let rec = WebhookRecord {
            id: ids::prefixed_hex_id("whk"),
            scope: ctx.scope.clone(),
            url: url.clone(),
            description: description(&body)?,
            events: events.clone(),
            filters: filters.clone(),
            status: status.clone(),
            secret: state.secret_box.seal(&secret),
            old_secret: None,
            old_secret_until_ms: None,
            created_ms: now_ms,
            updated_ms: now_ms,
            success_rate: None,
            last_delivery_ms: None,
        };
        match state.store.create_webhook(rec).await {
            Err(StoreError::DuplicateId) if attempt < 3 => attempt += 1,
            other => break other?,
        }
    };
    refresh(&state, &ctx).await?;
    let mut out = view(&rec);
    out["secret"] = Value::String(secret);
    Ok((StatusCode::OK, Json(out)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhooks {
    /// active or paused.
    status: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<u32>,
    offset: Option<u64>,
}

/// List webhooks with their delivery figures (success rate over 7 days, last delivery).
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "Webhooks",
    security(("bearer" = [])),
    params(ListWebhooks),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody))
)]
async fn list_webhooks(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<ListWebhooks>,
) -> Result<Json<OffsetPage<Value>>, ApiError> {
    let (limit, offset) = pagination::offset_page(q.limit, q.offset)?;
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::validation(
                "status",
                "'status' must be active or paused.",
            ));
        }
    }
    let (rows, total) = state
        .store
        .webhooks(Some(ctx.scope.clone()), q.status, limit, offset)
        .await?;
    Ok(Json(OffsetPage::new(
        rows.iter().map(view).collect(),
        offset,
        total,
    )))
}

async fn load(state: &AppState, ctx: &AuthContext, id: &str) -> Result<WebhookRecord, ApiError> {
    check_id(id)?;
    state
        .store
        .webhook(&ctx.scope, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Retrieve a webhook (without its secret).
#[utoipa::path(
    get, path = "/v1/webhooks/{id}", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
async fn get_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&load(&state, &ctx, &id).await?)))
}

/// Update a webhook (partial): url, events, filters, description, status.
#[utoipa::path(
    method(put, patch), path = "/v1/webhooks/{id}", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*")),
    request_body(content = Object, description = "Any of url, events, filters, description, status"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn update_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    let body = Body::new(map, &["url", "events", "filters", "description", "status"])?;
    if body.is_empty() {
        return Err(ApiError::validation(
            "body",
            "Send at least one of url, events, filters, description, status.",
        ));
    }
    let change = WebhookChange {
        url: check_url(&state, &body)?,
        description: body
            .0
            .contains_key("description")
            .then(|| description(&body))
            .transpose()?,
        events: events(&body)?,
        filters: filters(&body)?,
        status: body.one_of("status", STATUSES)?,
        rotate: None,
    };
    let rec = match state
        .store
        .update_webhook(&ctx.scope, &id, change, timefmt::now_unix_ms())
        .await
    {
        Err(StoreError::NotFound) => return Err(not_found(&id)),
        other => other?,
    };
    refresh(&state, &ctx).await?;
    Ok(Json(view(&rec)))
}

/// Delete a webhook; its pending deliveries are cancelled at once.
#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
async fn delete_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    if !state.store.delete_webhook(&ctx.scope, &id).await? {
        return Err(not_found(&id));
    }
    refresh(&state, &ctx).await?;
    Ok(Json(json!({"deleted": true, "webhookId": id})))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 100, default 20.
    limit: Option<u32>,
    offset: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AttemptView {
    at: String,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
}

fn delivery_id(n: i64) -> String {
    format!("dlv_{n:012x}")
}

/// A webhook's deliveries, newest first, each with every attempt.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*"), Page),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
async fn list_deliveries(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<Page>,
) -> Result<Json<OffsetPage<Value>>, ApiError> {
    load(&state, &ctx, &id).await?;
    let (limit, offset) = pagination::offset_page(q.limit, q.offset)?;
    let (rows, total) = state
        .store
        .deliveries(&ctx.scope, &id, limit, offset)
        .await?;
    let data = rows
        .into_iter()
        .map(|d| {
            json!({
                "id": delivery_id(d.id),
                "event": d.kind,
                "payloadId": d.payload_id,
                "status": d.status,
                "attempts": d.attempts.into_iter().map(|a| AttemptView {
                    at: ts(a.at_ms),
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                }).collect::<Vec<_>>(),
                "nextAttemptAt": d.next_attempt_ms.map(ts),
                "createdAt": ts(d.created_ms),
            })
        })
        .collect();
    Ok(Json(OffsetPage::new(data, offset, total)))
}

/// Queue a signed test delivery (`event: "test"`) to this webhook, whatever it subscribes to.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*")),
    responses((status = 202, body = Object), (status = 404, body = ErrorBody))
)]
async fn test_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    load(&state, &ctx, &id).await?;
    let item = payload(
        "test",
        timefmt::now_unix_ms(),
        json!({"message": "A test delivery from Prynt.", "webhookId": id}),
        vec![id.clone()],
    );
    let payload_id = item.id.clone();
    state.store.enqueue(&ctx.scope, item).await?;
    state.delivery_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"queued": true, "payloadId": payload_id})),
    ))
}

/// Replace the signing secret; the previous one keeps signing beside it for 24 hours.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
async fn rotate_secret(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rec = load(&state, &ctx, &id).await?;
    let secret = signing::new_secret();
    let now_ms = timefmt::now_unix_ms();
    let until = now_ms + ROTATION_OVERLAP_MS;
    let change = WebhookChange {
        rotate: Some((state.secret_box.seal(&secret), rec.secret, until)),
        ..WebhookChange::default()
    };
    state
        .store
        .update_webhook(&ctx.scope, &id, change, now_ms)
        .await?;
    Ok(Json(json!({
        "id": id,
        "secret": secret,
        "previousSecretExpiresAt": ts(until),
    })))
}

/// Deliver a finished (failed, succeeded or cancelled) delivery again, now.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/deliveries/{deliveryId}/retry", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "whk_*"), ("deliveryId" = String, Path, description = "dlv_*")),
    responses((status = 202, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
async fn redeliver(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    load(&state, &ctx, &id).await?;
    let n = delivery
        .strip_prefix("dlv_")
        .filter(|h| h.len() == 12)
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            ApiError::validation(
                "deliveryId",
                "The delivery id must look like dlv_00000000002a.",
            )
        })?;
    if !state
        .store
        .redeliver(&ctx.scope, &id, n, timefmt::now_unix_ms())
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "No finished delivery {delivery} of webhook {id} (pending deliveries are retried on their own)."
        )));
    }
    state.delivery_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"queued": true, "deliveryId": delivery})),
    ))
}
