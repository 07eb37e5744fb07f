//! `/v1/analytics`: event counts by verdict, platform, country or time bucket, and Smart
//! Signal counts, rates and trends, over the key's workspace environment's stored events
//! (read from the in-memory columnar table the backtests use).

use axum::extract::State;
use axum::Json;
use prynt_core::timefmt;
use prynt_rules::analytics::{self, Bucket, EventGroup, Key};
use prynt_rules::condition::Verdict;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::vocab::{EventGroupBy, SignalGroupBy, SignalName, Verdict as VerdictName};
use super::pagination;
use super::ts;
use crate::error::ApiError;
use crate::extract::{ApiQuery, AuthContext, SecretKey};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(event_analytics))
        .routes(routes!(signal_analytics))
}

/// `from` and `to` (required), checked against each other and the retention.
fn range(state: &AppState, from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    let from = pagination::time("from", from)?
        .ok_or_else(|| ApiError::validation("from", "'from' is required (ISO 8601)."))?;
    let to = pagination::time("to", to)?
        .ok_or_else(|| ApiError::validation("to", "'to' is required (ISO 8601)."))?;
    if from > to {
        return Err(ApiError::validation(
            "from",
            "'from' must not be after 'to'.",
        ));
    }
    if to - from > state.retention_ms {
        return Err(ApiError::validation(
            "from",
            format!(
                "The range may not be longer than the retention of {} days.",
                state.retention_ms / 86_400_000
            ),
        ));
    }
    Ok((from, to))
}

async fn with_table<T>(
    state: &AppState,
    ctx: &AuthContext,
    f: impl FnOnce(&prynt_rules::backtest::EventTable) -> T,
) -> Result<T, ApiError> {
    let policy = state.policy.scope(&ctx.scope).await?;
    Ok(policy
        .with_table(
            state.store.as_ref(),
            &ctx.scope,
            timefmt::now_unix_ms(),
            state.retention_floor_ms(),
            f,
        )
        .await?)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Start of the range (ISO 8601), inclusive; at most `to`, and the range at most the
    /// retention (90 days by default) long.
    #[param(required = true, format = DateTime, value_type = String)]
    from: Option<String>,
    /// End of the range (ISO 8601), exclusive.
    #[param(required = true, format = DateTime, value_type = String)]
    to: Option<String>,
    /// How to group the counts; without it, only the total.
    #[param(value_type = Option<EventGroupBy>)]
    group_by: Option<String>,
    /// Only events with this verdict.
    #[param(value_type = Option<VerdictName>)]
    verdict: Option<String>,
}

/// Event counts over a time range, optionally grouped and filtered by verdict.
#[utoipa::path(
    get, path = "/v1/analytics/events", tag = "Analytics",
    security(("bearer" = [])),
    params(EventQuery),
    responses((status = 200, body = ref("#/components/schemas/EventAnalytics")))
)]
async fn event_analytics(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = range(&state, q.from.as_deref(), q.to.as_deref())?;
    let group = match q.group_by.as_deref() {
        None => None,
        Some("verdict") => Some(EventGroup::Verdict),
        Some("platform") => Some(EventGroup::Platform),
        Some("country") => Some(EventGroup::Country),
        Some("hour") => Some(EventGroup::Time(Bucket::Hour)),
        Some("day") => Some(EventGroup::Time(Bucket::Day)),
        Some("week") => Some(EventGroup::Time(Bucket::Week)),
        Some(_) => {
            return Err(ApiError::validation(
                "groupBy",
                "'groupBy' must be one of: verdict, platform, country, hour, day, week.",
            ))
        }
    };
    let verdict = match q.verdict.as_deref() {
        None => None,
        Some(v) => Some(Verdict::parse(v).ok_or_else(|| {
            ApiError::validation("verdict", "'verdict' must be allow, challenge or block.")
        })?),
    };
    let (total, groups) = with_table(&state, &ctx, |t| {
        analytics::events(t, from, to, verdict, group)
    })
    .await?;
    let mut out = json!({"from": ts(from), "to": ts(to), "total": total});
    if let Some(name) = q.group_by.as_deref() {
        let rows: Vec<Value> = groups
            .into_iter()
            .map(|(key, count)| {
                let key = match key {
                    Key::Text(t) => json!(t),
                    Key::Time(ms) => json!(ts(ms)),
                };
                let pct = if total == 0 {
                    0.0
                } else {
                    round4(count as f64 / total as f64)
                };
                json!({name: key, "count": count, "pct": pct})
            })
            .collect();
        out["groups"] = Value::Array(rows);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignalQuery {
    /// Start of the range (ISO 8601), inclusive; at most `to`, and the range at most the
    /// retention (90 days by default) long.
    #[param(required = true, format = DateTime, value_type = String)]
    from: Option<String>,
    /// End of the range (ISO 8601), exclusive.
    #[param(required = true, format = DateTime, value_type = String)]
    to: Option<String>,
    /// `signal` (the default): counts, rates and trends per signal; `day` or `week`: a series.
    #[param(value_type = Option<SignalGroupBy>)]
    group_by: Option<String>,
    /// Only this signal.
    #[param(value_type = Option<SignalName>)]
    signal: Option<String>,
}

/// Smart Signal counts, rates and trends over a time range, or a day or week series.
#[utoipa::path(
    get, path = "/v1/analytics/signals", tag = "Analytics",
    security(("bearer" = [])),
    params(SignalQuery),
    responses((status = 200, body = ref("#/components/schemas/SignalAnalytics")))
)]
async fn signal_analytics(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<SignalQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = range(&state, q.from.as_deref(), q.to.as_deref())?;
    if let Some(sig) = q.signal.as_deref() {
        if !analytics::SIGNALS.iter().any(|(n, _)| *n == sig) {
            let names: Vec<&str> = analytics::SIGNALS.iter().map(|(n, _)| *n).collect();
            return Err(ApiError::validation(
                "signal",
                format!("'signal' must be one of: {}.", names.join(", ")),
            ));
        }
    }
    let only = q.signal.clone();
    let bucket = match q.group_by.as_deref() {
        None | Some("signal") => None,
        Some("day") => Some(Bucket::Day),
        Some("week") => Some(Bucket::Week),
        Some(_) => {
            return Err(ApiError::validation(
                "groupBy",
                "'groupBy' must be one of: signal, day, week.",
            ))
        }
    };
    let mut out = json!({"from": ts(from), "to": ts(to)});
    match bucket {
        None => {
            let (total, figures) = with_table(&state, &ctx, |t| {
                analytics::signals(t, from, to, only.as_deref())
            })
            .await?;
            out["total"] = json!(total);
            out["signals"] = figures
                .into_iter()
                .map(|f| {
                    json!({"signal": f.signal, "count": f.count, "rate": round4(f.rate), "trend": f.trend.as_str()})
                })
                .collect();
        }
        Some(b) => {
            let (total, points) = with_table(&state, &ctx, |t| {
                analytics::signal_series(t, from, to, b, only.as_deref())
            })
            .await?;
            let name = if b == Bucket::Day { "day" } else { "week" };
            out["total"] = json!(total);
            out["series"] = points
                .into_iter()
                .map(|p| {
                    let counts: serde_json::Map<String, Value> = p
                        .counts
                        .iter()
                        .map(|(n, c)| ((*n).to_owned(), json!(c)))
                        .collect();
                    json!({name: ts(p.start_ms), "total": p.total, "signals": counts})
                })
                .collect();
        }
    }
    Ok(Json(out))
}
