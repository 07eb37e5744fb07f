//! `/v1/webhooks`: subscriptions (URL checked against SSRF at save time, filters naming only
//! rules of the key's own workspace and environment, secret generated or given, sealed at
//! rest, shown once), their deliveries with every attempt, test deliveries, secret rotation
//! and manual redelivery.

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::{ids, timefmt};
use prynt_store::{StoreError, WebhookChange, WebhookRecord};
use prynt_webhooks::{signing, ssrf};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::Body;
use super::openapi::vocab::{DeliveryEvent, DeliveryStatus, WebhookEvent, WebhookStatus};
use super::pagination::{self, OffsetPage};
use super::ts;
use crate::decide::payload;
use crate::error::ApiError;
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    #[schema(pattern = "^whk_[0-9a-f]{12}$")]
    id: String,
    url: String,
    #[schema(required = true)]
    description: Option<String>,
    /// The events delivered.
    #[schema(value_type = Vec<WebhookEvent>)]
    events: Value,
    #[schema(schema_with = filters_schema)]
    filters: Value,
    #[schema(value_type = WebhookStatus)]
    status: String,
    /// Share of delivery attempts of the last 7 days that succeeded; `null` before any.
    #[schema(minimum = 0, maximum = 1, required = true)]
    success_rate: Option<f64>,
    #[schema(format = DateTime, required = true)]
    last_delivery_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

fn filters_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("WebhookFilters")
}

fn view(r: &WebhookRecord) -> WebhookView {
    WebhookView {
        id: r.id.clone(),
        url: r.url.clone(),
        description: r.description.clone(),
        events: serde_json::from_str::<Value>(&r.events).unwrap_or(Value::Null),
        filters: serde_json::from_str::<Value>(&r.filters).unwrap_or(Value::Null),
        status: r.status.clone(),
        success_rate: r.success_rate.map(|x| (x * 10_000.0).round() / 10_000.0),
        last_delivery_at: r.last_delivery_ms.map(ts),
        created_at: ts(r.created_ms),
        updated_at: ts(r.updated_ms),
    }
}

/// A new webhook with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The signing secret (`whsec_…` when generated).
    secret: String,
}

/// The answer of a webhook's deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeleted {
    deleted: bool,
    #[schema(pattern = "^whk_[0-9a-f]{12}$")]
    webhook_id: String,
}

/// A delivery and every attempt at it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    #[schema(pattern = "^dlv_[0-9a-f]{12}$")]
    id: String,
    #[schema(value_type = DeliveryEvent)]
    event: String,
    /// The payload's `id`, the same across retries.
    payload_id: String,
    #[schema(value_type = DeliveryStatus)]
    status: String,
    attempts: Vec<AttemptView>,
    #[schema(format = DateTime, required = true)]
    next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

/// A queued test delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestQueued {
    queued: bool,
    payload_id: String,
}

/// The new signing secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    #[schema(pattern = "^whk_[0-9a-f]{12}$")]
    id: String,
    secret: String,
    /// Until when the previous secret keeps signing beside the new one.
    #[schema(format = DateTime)]
    previous_secret_expires_at: String,
}

/// A queued redelivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeliveryQueued {
    queued: bool,
    #[schema(pattern = "^dlv_[0-9a-f]{12}$")]
    delivery_id: String,
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

/// `{verdict?, ruleId?, botDetected?}`; a single verdict or rule id may be given bare. Every
/// rule id must name a rule of the key's workspace and environment ([`own_rules`]).
async fn filters(
    state: &AppState,
    ctx: &AuthContext,
    body: &Body,
) -> Result<Option<String>, ApiError> {
    let Some(out) = filter_shape(body)? else {
        return Ok(None);
    };
    own_rules(state, ctx, &out).await?;
    Ok(Some(Value::Object(out).to_string()))
}

/// Refuses a `ruleId` filter naming a rule that the key's workspace and environment do not
/// hold: such a filter could never match here, and a webhook must not point into another
/// scope. The refusal is the same for another scope's rule as for no rule at all, so it tells
/// nothing about other workspaces.
async fn own_rules(
    state: &AppState,
    ctx: &AuthContext,
    filters: &Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(ids) = filters.get("ruleId").and_then(Value::as_array) else {
        return Ok(());
    };
    let mut checked: Vec<&str> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let id = id.as_str().unwrap_or_default();
        if checked.contains(&id) {
            continue;
        }
        if state.store.rule(&ctx.scope, id).await?.is_none() {
            return Err(ApiError::validation(
                format!("filters.ruleId[{i}]"),
                format!("No rule {id} in this workspace and environment."),
            ));
        }
        checked.push(id);
    }
    Ok(())
}

/// The filters as given, checked for shape only.
fn filter_shape(body: &Body) -> Result<Option<Map<String, Value>>, ApiError> {
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
    Ok(Some(out))
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
    request_body(content = ref("#/components/schemas/CreateWebhook")),
    responses((status = 200, body = WebhookCreated))
)]
async fn create_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<WebhookCreated>, ApiError> {
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
    let filters = filters(&state, &ctx, &body)
        .await?
        .unwrap_or_else(|| "{}".into());
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
    Ok(Json(WebhookCreated {
        webhook: view(&rec),
        secret,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhooks {
    /// Only webhooks with this status.
    #[param(value_type = Option<WebhookStatus>)]
    status: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Webhooks to skip.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
}

/// List webhooks with their delivery figures (success rate over 7 days, last delivery).
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "Webhooks",
    security(("bearer" = [])),
    params(ListWebhooks),
    responses((status = 200, body = OffsetPage<WebhookView>))
)]
async fn list_webhooks(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<ListWebhooks>,
) -> Result<Json<OffsetPage<WebhookView>>, ApiError> {
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
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits.")),
    responses((status = 200, body = WebhookView))
)]
async fn get_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(view(&load(&state, &ctx, &id).await?)))
}

/// Update a webhook (partial): url, events, filters, description, status.
#[utoipa::path(
    method(put, patch), path = "/v1/webhooks/{id}", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits.")),
    request_body(content = ref("#/components/schemas/UpdateWebhook"), description = "Any of url, events, filters, description, status."),
    responses((status = 200, body = WebhookView))
)]
async fn update_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<WebhookView>, ApiError> {
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
        filters: filters(&state, &ctx, &body).await?,
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
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits.")),
    responses((status = 200, body = WebhookDeleted))
)]
async fn delete_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<WebhookDeleted>, ApiError> {
    check_id(&id)?;
    if !state.store.delete_webhook(&ctx.scope, &id).await? {
        return Err(not_found(&id));
    }
    refresh(&state, &ctx).await?;
    Ok(Json(WebhookDeleted {
        deleted: true,
        webhook_id: id,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Deliveries to skip.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    #[schema(format = DateTime)]
    at: String,
    /// The receiver's status; `null` when it could not be reached.
    #[schema(required = true)]
    status_code: Option<u16>,
    latency_ms: u64,
    #[schema(required = true)]
    error: Option<String>,
}

fn delivery_id(n: i64) -> String {
    format!("dlv_{n:012x}")
}

/// A webhook's deliveries, newest first, each with every attempt.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits."), Page),
    responses((status = 200, body = OffsetPage<DeliveryView>))
)]
async fn list_deliveries(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<Page>,
) -> Result<Json<OffsetPage<DeliveryView>>, ApiError> {
    load(&state, &ctx, &id).await?;
    let (limit, offset) = pagination::offset_page(q.limit, q.offset)?;
    let (rows, total) = state
        .store
        .deliveries(&ctx.scope, &id, limit, offset)
        .await?;
    let data = rows
        .into_iter()
        .map(|d| DeliveryView {
            id: delivery_id(d.id),
            event: d.kind,
            payload_id: d.payload_id,
            status: d.status,
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptView {
                    at: ts(a.at_ms),
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
            next_attempt_at: d.next_attempt_ms.map(ts),
            created_at: ts(d.created_ms),
        })
        .collect();
    Ok(Json(OffsetPage::new(data, offset, total)))
}

/// Queue a signed test delivery (`event: "test"`) to this webhook, whatever it subscribes to.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits.")),
    responses((status = 200, body = TestQueued))
)]
async fn test_webhook(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<TestQueued>, ApiError> {
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
    Ok(Json(TestQueued {
        queued: true,
        payload_id,
    }))
}

/// Replace the signing secret; the previous one keeps signing beside it for 24 hours.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", tag = "Webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits.")),
    responses((status = 200, body = SecretRotated))
)]
async fn rotate_secret(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<SecretRotated>, ApiError> {
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
    Ok(Json(SecretRotated {
        id,
        secret,
        previous_secret_expires_at: ts(until),
    }))
}

/// Deliver a finished (failed, succeeded or cancelled) delivery again, now.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/deliveries/{deliveryId}/retry", tag = "Webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The webhook ID: `whk_` and 12 hex digits."),
        ("deliveryId" = String, Path, description = "The delivery ID: `dlv_` and 12 hex digits.")
    ),
    responses(
        (status = 200, body = RedeliveryQueued),
        (status = 409, description = "`conflict`: no finished delivery of this id (pending ones are retried on their own).")
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<RedeliveryQueued>, ApiError> {
    load(&state, &ctx, &id).await?;
    // Exactly the shape `delivery_id` writes: from_str_radix alone would also take a sign and
    // upper-case digits.
    let n = delivery
        .strip_prefix("dlv_")
        .filter(|h| h.len() == 12 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
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
    Ok(Json(RedeliveryQueued {
        queued: true,
        delivery_id: delivery,
    }))
}
