//! `/v1/rules`: create, list, retrieve, update and delete rules, list a rule's versions, and
//! backtest a saved or an unsaved rule over the stored events. Every change is a new immutable
//! version and is live in this node's evaluator before the answer leaves.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::{ids, timefmt};
use prynt_rules::backtest::{self, Evidence};
use prynt_rules::condition::{self, Action, Condition};
use prynt_rules::eval;
use prynt_store::{NewRule, RuleChange, RuleRecord, RuleVersion, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::Body;
use super::openapi::vocab::{RuleStatus, Verdict as VerdictName};
use super::pagination::{self, OffsetPage};
use super::ts;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, AuthContext, OptionalObject, SecretKey};
use crate::policy::{self, ScopePolicy};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(rule_versions))
        .routes(routes!(backtest_rule))
        .routes(routes!(backtest_unsaved))
}

const STATUSES: &[&str] = &["live", "monitor", "draft", "paused"];
const MAX_NAME: usize = 200;
const MAX_PRIORITY: i64 = 1_000_000_000;
const DAY_MS: i64 = 86_400_000;

fn rule_error(e: condition::RuleError) -> ApiError {
    ApiError::validation(e.field, e.message)
}

fn check_id(id: &str) -> Result<(), ApiError> {
    super::check_hex_id(id, "rul", "ruleId")
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("No rule {id}."))
}

/// Milliseconds with microsecond resolution: a node applies a change in well under one.
/// Whole milliseconds since `since`, rounded up: the reference's durations are integers, and
/// a change that took 0.2 ms did not take none.
fn millis(since: Instant) -> u64 {
    since.elapsed().as_micros().div_ceil(1000) as u64
}

/// Reloads the scope's evaluator and reports how long the change took to become live.
async fn propagate(
    state: &AppState,
    ctx: &AuthContext,
    policy: &ScopePolicy,
    committed: Instant,
) -> Result<u64, ApiError> {
    policy
        .reload_rules(state.store.as_ref(), &ctx.scope)
        .await?;
    Ok(millis(committed))
}

/// A rule in listings: its top-level condition summarised.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleSummary {
    #[schema(pattern = "^rul_[0-9a-f]{12}$")]
    id: String,
    name: String,
    #[schema(value_type = RuleStatus)]
    status: String,
    #[schema(minimum = 0)]
    priority: i64,
    conditions: ConditionSummary,
    /// The verdict the rule sets.
    #[schema(value_type = VerdictName)]
    action: String,
    #[schema(minimum = 1)]
    version: i64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// The top group's operator and its number of direct children.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionSummary {
    #[schema(value_type = String, pattern = "^(AND|OR|NOT)$")]
    operator: Value,
    #[schema(minimum = 0)]
    count: usize,
}

/// A rule in full, with its match statistics.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[schema(pattern = "^rul_[0-9a-f]{12}$")]
    id: String,
    name: String,
    #[schema(value_type = RuleStatus)]
    status: String,
    #[schema(minimum = 0)]
    priority: i64,
    #[schema(schema_with = rule_group)]
    conditions: Value,
    #[schema(schema_with = rule_action)]
    action: Value,
    stats: RuleStats,
    #[schema(minimum = 1)]
    version: i64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// Live and monitor matches.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStats {
    #[schema(minimum = 0)]
    match_count: i64,
    #[schema(format = DateTime)]
    last_match_at: Option<String>,
}

fn rule_group() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("RuleGroup")
}

fn rule_action() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("RuleActionView")
}

/// A rule's stored versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleVersions {
    data: Vec<RuleVersionView>,
}

/// What a rule was from `createdAt` on; `conditions` and `action` as `GET /v1/rules/{ruleId}`
/// shows them, so that two versions can be compared.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleVersionView {
    #[schema(minimum = 1)]
    version: i64,
    name: String,
    #[schema(value_type = RuleStatus)]
    status: String,
    #[schema(minimum = 0)]
    priority: i64,
    #[schema(schema_with = rule_group)]
    conditions: Value,
    #[schema(schema_with = rule_action)]
    action: Value,
    /// When this version was written.
    #[schema(format = DateTime)]
    created_at: String,
}

fn version_view(v: RuleVersion) -> RuleVersionView {
    RuleVersionView {
        version: v.version,
        name: v.name,
        status: v.status,
        priority: v.priority,
        conditions: serde_json::from_str(&v.conditions).unwrap_or(Value::Null),
        action: serde_json::from_str(&v.action).unwrap_or(Value::Null),
        created_at: ts(v.created_ms),
    }
}

/// A created rule, with how long it took to go live.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleCreated {
    #[schema(pattern = "^rul_[0-9a-f]{12}$")]
    id: String,
    name: String,
    #[schema(minimum = 0)]
    priority: i64,
    #[schema(value_type = RuleStatus)]
    status: String,
    #[schema(minimum = 1)]
    version: i64,
    #[schema(format = DateTime)]
    created_at: String,
    propagated: bool,
    /// Milliseconds from the rule being stored to this node's evaluator holding it.
    #[schema(minimum = 0)]
    propagation_ms: u64,
}

/// An updated rule, with how long the change took to go live.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleUpdated {
    #[schema(pattern = "^rul_[0-9a-f]{12}$")]
    id: String,
    name: String,
    #[schema(value_type = RuleStatus)]
    status: String,
    #[schema(minimum = 0)]
    priority: i64,
    #[schema(minimum = 1)]
    version: i64,
    #[schema(format = DateTime)]
    updated_at: String,
    propagated: bool,
    #[schema(minimum = 0)]
    propagation_ms: u64,
}

/// The answer of a rule's deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleDeleted {
    deleted: bool,
    #[schema(pattern = "^rul_[0-9a-f]{12}$")]
    rule_id: String,
}

/// What a backtest found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacktestResult {
    /// The saved rule's id; `null` for an unsaved rule.
    #[schema(pattern = "^rul_[0-9a-f]{12}$", required = true)]
    rule_id: Option<String>,
    match_count: u64,
    total_events: u64,
    #[schema(minimum = 0, maximum = 1)]
    match_rate: f64,
    /// Share of matched events whose visitor shows evidence of being legitimate.
    #[schema(minimum = 0, maximum = 1)]
    estimated_fpr: f64,
    legit_evidence_count: u64,
    /// Matched events with no evidence either way.
    no_evidence_count: u64,
    matched_visitors: u64,
    #[schema(minimum = 1, maximum = 30)]
    days: i64,
    #[schema(minimum = 0)]
    duration_ms: u64,
    sample: Vec<BacktestSample>,
}

/// A matched event of a backtest.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacktestSample {
    #[schema(pattern = "^req_[0-9]{1,12}_[0-9a-f]{6}$")]
    request_id: String,
    #[schema(pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: String,
    #[schema(format = DateTime)]
    timestamp: String,
}

fn summary(r: RuleRecord) -> RuleSummary {
    let cond: Value = serde_json::from_str(&r.conditions).unwrap_or(Value::Null);
    let action: Value = serde_json::from_str(&r.action).unwrap_or(Value::Null);
    RuleSummary {
        conditions: ConditionSummary {
            operator: cond.get("operator").cloned().unwrap_or(Value::Null),
            count: cond
                .get("rules")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        },
        action: action
            .get("verdict")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        id: r.id,
        name: r.name,
        status: r.status,
        priority: r.priority,
        version: r.version,
        created_at: ts(r.created_ms),
        updated_at: ts(r.updated_ms),
    }
}

fn full(r: RuleRecord) -> Rule {
    Rule {
        conditions: serde_json::from_str(&r.conditions).unwrap_or(Value::Null),
        action: serde_json::from_str(&r.action).unwrap_or(Value::Null),
        stats: RuleStats {
            match_count: r.match_count,
            last_match_at: r.last_match_ms.map(ts),
        },
        id: r.id,
        name: r.name,
        status: r.status,
        priority: r.priority,
        version: r.version,
        created_at: ts(r.created_ms),
        updated_at: ts(r.updated_ms),
    }
}

/// The conditions and action of a body, validated against the scope's lists.
fn parse_definition(
    body: &Body,
    policy: &ScopePolicy,
    required: bool,
) -> Result<(Option<Condition>, Option<Action>), ApiError> {
    let lists = policy.lists.read();
    let conditions = match (body.get("conditions"), required) {
        (Some(v), _) => {
            Some(condition::parse_conditions(v, "conditions", &*lists).map_err(rule_error)?)
        }
        (None, true) => {
            return Err(ApiError::validation(
                "conditions",
                "'conditions' is required.",
            ))
        }
        (None, false) => None,
    };
    let action = match (body.get("action"), required) {
        (Some(v), _) => Some(condition::parse_action(v, "action", &*lists).map_err(rule_error)?),
        (None, true) => return Err(ApiError::validation("action", "'action' is required.")),
        (None, false) => None,
    };
    Ok((conditions, action))
}

/// Create a rule. It is evaluated from the next identification on when `live` or `monitor`.
#[utoipa::path(
    post, path = "/v1/rules", tag = "Rules",
    security(("bearer" = [])),
    request_body(content = ref("#/components/schemas/CreateRule"), description = "The rule; see the rules guide."),
    responses((status = 200, description = "The rule, with how long it took to go live", body = RuleCreated))
)]
async fn create_rule(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<RuleCreated>, ApiError> {
    let body = Body::new(map, &["name", "conditions", "action", "priority", "status"])?;
    let name = body
        .string("name", MAX_NAME)?
        .ok_or_else(|| ApiError::validation("name", "'name' is required."))?;
    let priority = body.int("priority", 0, MAX_PRIORITY)?;
    let status = body
        .one_of("status", STATUSES)?
        .unwrap_or_else(|| "draft".into());
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    let (conditions, action) = parse_definition(&body, &policy, true)?;
    let (Some(conditions), Some(action)) = (conditions, action) else {
        return Err(ApiError::validation(
            "conditions",
            "'conditions' is required.",
        ));
    };
    let (conditions, action) = (
        conditions.to_json().to_string(),
        action.to_json().to_string(),
    );
    let now_ms = timefmt::now_unix_ms();
    let mut attempt = 0;
    let rec = loop {
        let new = NewRule {
            id: ids::prefixed_hex_id("rul"),
            name: name.clone(),
            status: status.clone(),
            priority,
            conditions: conditions.clone(),
            action: action.clone(),
        };
        match state.store.create_rule(&ctx.scope, new, now_ms).await {
            Err(StoreError::DuplicateId) if attempt < 3 => attempt += 1,
            other => break other?,
        }
    };
    let propagation_ms = propagate(&state, &ctx, &policy, Instant::now()).await?;
    policy.warm_table(
        std::sync::Arc::clone(&state.store),
        ctx.scope.clone(),
        state.retention_floor_ms(),
    );
    Ok(Json(RuleCreated {
        id: rec.id,
        name: rec.name,
        priority: rec.priority,
        status: rec.status,
        version: rec.version,
        created_at: ts(rec.created_ms),
        propagated: true,
        propagation_ms,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRules {
    /// Only rules with this status.
    #[param(value_type = Option<RuleStatus>)]
    status: Option<String>,
    /// 1 to 1000; all of them (up to 1000) when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Rules to skip.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
}

/// List rules, ordered by priority (ties by creation).
#[utoipa::path(
    get, path = "/v1/rules", tag = "Rules",
    security(("bearer" = [])),
    params(ListRules),
    responses((status = 200, body = OffsetPage<RuleSummary>))
)]
async fn list_rules(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<ListRules>,
) -> Result<Json<OffsetPage<RuleSummary>>, ApiError> {
    let (limit, offset) = pagination::offset_page_all(q.limit, q.offset)?;
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::validation(
                "status",
                format!("'status' must be one of: {}.", STATUSES.join(", ")),
            ));
        }
    }
    let (rows, total) = state
        .store
        .rules(&ctx.scope, q.status, limit, offset)
        .await?;
    Ok(Json(OffsetPage::new(
        rows.into_iter().map(summary).collect(),
        offset,
        total,
    )))
}

/// Retrieve a rule with its full conditions and match statistics.
#[utoipa::path(
    get, path = "/v1/rules/{ruleId}", tag = "Rules",
    security(("bearer" = [])),
    params(("ruleId" = String, Path, description = "The rule ID: `rul_` and 12 hex digits.")),
    responses((status = 200, body = Rule))
)]
async fn get_rule(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    check_id(&id)?;
    let rec = state
        .store
        .rule(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(full(rec)))
}

/// List a rule's versions, newest first: every create and update wrote one.
#[utoipa::path(
    get, path = "/v1/rules/{ruleId}/versions", tag = "Rules",
    security(("bearer" = [])),
    params(("ruleId" = String, Path, description = "The rule ID: `rul_` and 12 hex digits.")),
    responses((status = 200, body = RuleVersions))
)]
async fn rule_versions(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<RuleVersions>, ApiError> {
    check_id(&id)?;
    let versions = state
        .store
        .rule_versions(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(RuleVersions {
        data: versions.into_iter().map(version_view).collect(),
    }))
}

/// Update a rule (partial: only the fields sent change).
#[utoipa::path(
    method(put, patch), path = "/v1/rules/{ruleId}", tag = "Rules",
    security(("bearer" = [])),
    params(("ruleId" = String, Path, description = "The rule ID: `rul_` and 12 hex digits.")),
    request_body(content = ref("#/components/schemas/UpdateRule"), description = "Any of name, conditions, action, priority, status, sideEffects."),
    responses((status = 200, body = RuleUpdated))
)]
async fn update_rule(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<RuleUpdated>, ApiError> {
    check_id(&id)?;
    let body = Body::new(
        map,
        &[
            "name",
            "conditions",
            "action",
            "priority",
            "status",
            "sideEffects",
        ],
    )?;
    if body.is_empty() {
        return Err(ApiError::validation(
            "body",
            "Send at least one of name, conditions, action, priority, status, sideEffects.",
        ));
    }
    let name = body.string("name", MAX_NAME)?;
    let priority = body.int("priority", 0, MAX_PRIORITY)?;
    let status = body.one_of("status", STATUSES)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    let (conditions, mut action) = parse_definition(&body, &policy, false)?;
    if let Some(v) = body.get("sideEffects") {
        let effects = {
            let lists = policy.lists.read();
            condition::parse_side_effects(v, "sideEffects", &*lists).map_err(rule_error)?
        };
        let mut base = match action {
            Some(a) => a,
            None => {
                let rec = state
                    .store
                    .rule(&ctx.scope, &id)
                    .await?
                    .ok_or_else(|| not_found(&id))?;
                policy::stored_definition(&rec)
                    .map_err(|e| ApiError::Internal(format!("stored rule {id}: {e}")))?
                    .1
            }
        };
        base.side_effects = effects;
        action = Some(base);
    }
    let change = RuleChange {
        name,
        status,
        priority,
        conditions: conditions.map(|c| c.to_json().to_string()),
        action: action.map(|a| a.to_json().to_string()),
    };
    let rec = match state
        .store
        .update_rule(&ctx.scope, &id, change, timefmt::now_unix_ms())
        .await
    {
        Err(StoreError::NotFound) => return Err(not_found(&id)),
        other => other?,
    };
    let propagation_ms = propagate(&state, &ctx, &policy, Instant::now()).await?;
    Ok(Json(RuleUpdated {
        id: rec.id,
        name: rec.name,
        status: rec.status,
        priority: rec.priority,
        version: rec.version,
        updated_at: ts(rec.updated_ms),
        propagated: true,
        propagation_ms,
    }))
}

/// Delete a rule; it stops being evaluated at once.
#[utoipa::path(
    delete, path = "/v1/rules/{ruleId}", tag = "Rules",
    security(("bearer" = [])),
    params(("ruleId" = String, Path, description = "The rule ID: `rul_` and 12 hex digits.")),
    responses((status = 200, body = RuleDeleted))
)]
async fn delete_rule(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<RuleDeleted>, ApiError> {
    check_id(&id)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    if !state.store.delete_rule(&ctx.scope, &id).await? {
        return Err(not_found(&id));
    }
    propagate(&state, &ctx, &policy, Instant::now()).await?;
    Ok(Json(RuleDeleted {
        deleted: true,
        rule_id: id,
    }))
}

/// `days` (1–30, default 7) and `sampleSize` (0–100, default 10) of a backtest body.
fn window(body: &Body) -> Result<(i64, usize), ApiError> {
    let days = body.int("days", 1, policy::MAX_BACKTEST_DAYS)?.unwrap_or(7);
    let sample = body.int("sampleSize", 0, 100)?.unwrap_or(10) as usize;
    Ok((days, sample))
}

async fn run_backtest(
    state: &AppState,
    ctx: &AuthContext,
    policy: &ScopePolicy,
    rule_id: Option<String>,
    cond: &Condition,
    days: i64,
    sample_size: usize,
) -> Result<BacktestResult, ApiError> {
    let started = Instant::now();
    let compiled = eval::compile(cond);
    let now_ms = timefmt::now_unix_ms();
    let from_ms = (now_ms - days * DAY_MS).max(state.retention_floor_ms());
    let out = policy
        .with_table(
            state.store.as_ref(),
            &ctx.scope,
            now_ms,
            state.retention_floor_ms(),
            |table| {
                let lists = policy.lists.read();
                let evidence = Evidence {
                    allow_lists: lists.allow_lists(),
                };
                backtest::backtest(
                    table,
                    &compiled,
                    &*lists,
                    &evidence,
                    from_ms,
                    now_ms + 1,
                    now_ms / 1000,
                    sample_size,
                )
            },
        )
        .await?;
    let rate = |n: u64, d: u64| {
        if d == 0 {
            0.0
        } else {
            ((n as f64 / d as f64) * 1_000_000.0).round() / 1_000_000.0
        }
    };
    Ok(BacktestResult {
        rule_id,
        match_count: out.match_count,
        total_events: out.total_events,
        match_rate: rate(out.match_count, out.total_events),
        estimated_fpr: rate(out.legit_evidence, out.match_count),
        legit_evidence_count: out.legit_evidence,
        no_evidence_count: out.no_evidence,
        matched_visitors: out.matched_visitors,
        days,
        duration_ms: millis(started),
        sample: out
            .sample
            .iter()
            .map(|s| BacktestSample {
                request_id: s.request_id.clone(),
                visitor_id: s.visitor_id.clone(),
                timestamp: ts(s.ts_ms),
            })
            .collect(),
    })
}

/// Backtest a saved rule over the stored events of the last `days` (whatever its status).
#[utoipa::path(
    post, path = "/v1/rules/{ruleId}/backtest", tag = "Rules",
    security(("bearer" = [])),
    params(("ruleId" = String, Path, description = "The rule ID: `rul_` and 12 hex digits.")),
    request_body(content = ref("#/components/schemas/BacktestWindow"), description = "May be left out: 7 days and 10 samples."),
    responses((status = 200, body = BacktestResult))
)]
async fn backtest_rule(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    OptionalObject(map): OptionalObject,
) -> Result<Json<BacktestResult>, ApiError> {
    check_id(&id)?;
    let body = Body::new(map, &["days", "sampleSize"])?;
    let (days, sample) = window(&body)?;
    let rec = state
        .store
        .rule(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let (cond, _) = policy::stored_definition(&rec)
        .map_err(|e| ApiError::Internal(format!("stored rule {id}: {e}")))?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let out = run_backtest(&state, &ctx, &policy, Some(id), &cond, days, sample).await?;
    Ok(Json(out))
}

/// Backtest a rule before saving it: the body is a rule body plus `days` and `sampleSize`.
#[utoipa::path(
    post, path = "/v1/rules/backtest", tag = "Rules",
    security(("bearer" = [])),
    request_body(content = ref("#/components/schemas/UnsavedBacktest"), description = "A rule body (only `conditions` required) with `days` and `sampleSize`."),
    responses((status = 200, body = BacktestResult))
)]
async fn backtest_unsaved(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<BacktestResult>, ApiError> {
    let body = Body::new(
        map,
        &[
            "name",
            "conditions",
            "action",
            "priority",
            "status",
            "days",
            "sampleSize",
        ],
    )?;
    body.string("name", MAX_NAME)?;
    body.int("priority", 0, MAX_PRIORITY)?;
    body.one_of("status", STATUSES)?;
    let (days, sample) = window(&body)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    body.require("conditions")?;
    let (cond, _) = parse_definition(&body, &policy, false)?;
    let Some(cond) = cond else {
        return Err(ApiError::validation(
            "conditions",
            "'conditions' is required.",
        ));
    };
    let out = run_backtest(&state, &ctx, &policy, None, &cond, days, sample).await?;
    Ok(Json(out))
}
