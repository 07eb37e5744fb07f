//! `/v1/events`: one event in full, and filtered, cursor-paginated listings whose items carry
//! what an analyst scans a table for (type, linked id, bot, country, address).

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::ids;
use prynt_store::EventQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::vocab::Verdict as VerdictName;
use super::pagination::{self, Cursors, Listing};
use crate::error::ApiError;
use crate::extract::{ApiQuery, SecretKey};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_event))
        .routes(routes!(list_events))
}

/// Retrieve an event: visitor ID, device data, Smart Signals, scores and verdict.
#[utoipa::path(
    get, path = "/v1/events/{requestId}", tag = "Events",
    security(("bearer" = [])),
    params(("requestId" = String, Path, description = "The request ID returned by identify: `req_<unix seconds>_<6 hex>`.")),
    responses((status = 200, description = "The full event", body = ref("#/components/schemas/Event")))
)]
async fn get_event(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !ids::is_request_id(&request_id) {
        return Err(ApiError::validation(
            "requestId",
            "'requestId' must look like req_1707832921_a7f2c9.",
        ));
    }
    let row = state
        .store
        .event(&ctx.scope, &request_id, state.retention_floor_ms())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("No event {request_id} (it may have expired)."))
        })?;
    Ok(Json(row.body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEvents {
    /// Only this visitor's events.
    #[param(pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: Option<String>,
    /// Events before this ISO 8601 timestamp.
    #[param(format = DateTime)]
    before: Option<String>,
    /// Events after this ISO 8601 timestamp.
    #[param(format = DateTime)]
    after: Option<String>,
    /// Only events with this verdict.
    #[param(value_type = Option<VerdictName>)]
    verdict: Option<String>,
    /// Only bot-detected (true) or not bot-detected (false) events.
    bot: Option<bool>,
    /// Only events of this `type` (as given to identify; exact match, 1 to 64 characters).
    #[serde(rename = "type")]
    #[param(min_length = 1, max_length = 64)]
    event_type: Option<String>,
    /// Only events located in this country: an ISO 3166-1 alpha-2 code, in either case.
    #[param(pattern = "^[A-Za-z]{2}$")]
    country: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^cur_[A-Za-z0-9_-]{44}$")]
    cursor: Option<String>,
}

/// One page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    data: Vec<EventSummary>,
    has_more: bool,
    /// The `cursor` of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// An event as listed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    #[schema(value_type = String, pattern = "^req_[0-9]{1,12}_[0-9a-f]{6}$")]
    request_id: Value,
    #[schema(value_type = String, pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: Value,
    #[schema(value_type = f64, minimum = 0, maximum = 1)]
    confidence: Value,
    /// `null` when no live rule was configured.
    #[schema(value_type = Option<VerdictName>, required = true)]
    verdict: Value,
    #[schema(value_type = String, format = DateTime)]
    timestamp: Value,
    /// The `type` given to identify.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, required = true)]
    event_type: Value,
    /// The `linkedId` given to identify.
    #[schema(value_type = Option<String>, required = true)]
    linked_id: Value,
    /// `signals.bot.detected`.
    #[schema(value_type = Option<bool>, required = true)]
    bot: Value,
    /// `ip.country`: ISO 3166-1 alpha-2, when the city database located the address.
    #[schema(value_type = Option<String>, required = true)]
    country: Value,
    /// `ip.address` as stored: masked when the environment masks client addresses.
    #[schema(value_type = Option<String>, required = true)]
    ip: Value,
}

/// `v` when it is a string, `null` otherwise.
fn text(v: Option<&Value>) -> Value {
    v.filter(|v| v.is_string()).cloned().unwrap_or(Value::Null)
}

impl EventSummary {
    fn of(mut b: Value) -> Self {
        let event_type = text(b.get("type"));
        let linked_id = text(b.get("linkedId"));
        let bot = b
            .pointer("/signals/bot/detected")
            .filter(|v| v.is_boolean())
            .cloned()
            .unwrap_or(Value::Null);
        let country = text(b.pointer("/ip/country"));
        let ip = text(b.pointer("/ip/address"));
        let mut take = |k: &str| b.get_mut(k).map(Value::take).unwrap_or(Value::Null);
        EventSummary {
            request_id: take("requestId"),
            visitor_id: take("visitorId"),
            confidence: take("confidence"),
            verdict: take("verdict"),
            timestamp: take("timestamp"),
            event_type,
            linked_id,
            bot,
            country,
            ip,
        }
    }
}

/// The `type` filter: 1 to 64 characters, as identify keeps the event's type.
fn event_type_filter(v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(t) if !(1..=64).contains(&t.chars().count()) => Err(ApiError::validation(
            "type",
            "'type' must be 1 to 64 characters.",
        )),
        other => Ok(other),
    }
}

/// The `country` filter: two ASCII letters in either case, upper-cased as events store it.
fn country_filter(v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c.to_ascii_uppercase()))
        }
        Some(_) => Err(ApiError::validation(
            "country",
            "'country' must be an ISO 3166-1 alpha-2 code such as US.",
        )),
        None => Ok(None),
    }
}

/// Build the store query shared by both listings; validates every parameter, the cursor
/// against the listing it must belong to.
pub fn event_query(
    state: &AppState,
    cursors: &Cursors,
    visitor_id: Option<String>,
    before: Option<&str>,
    after: Option<&str>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<EventQuery, ApiError> {
    if let Some(v) = &visitor_id {
        if !ids::is_visitor_id(v) {
            return Err(ApiError::validation(
                "visitorId",
                "'visitorId' must look like pv_8kX2mNqR3jT7p.",
            ));
        }
    }
    Ok(EventQuery {
        visitor_id,
        before_ms: pagination::time("before", before)?,
        after_ms: pagination::time("after", after)?,
        cursor: cursors.decode(cursor)?,
        limit: pagination::limit(limit)?,
        retention_floor_ms: state.retention_floor_ms(),
        ..Default::default()
    })
}

/// List events, newest first, with filters and cursor pagination.
#[utoipa::path(
    get, path = "/v1/events", tag = "Events",
    security(("bearer" = [])),
    params(ListEvents),
    responses((status = 200, body = EventPage))
)]
async fn list_events(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<ListEvents>,
) -> Result<Json<EventPage>, ApiError> {
    let cursors = Cursors::new(&state.identity.token_key, &ctx.scope, Listing::Events);
    let mut query = event_query(
        &state,
        &cursors,
        q.visitor_id,
        q.before.as_deref(),
        q.after.as_deref(),
        q.limit,
        q.cursor.as_deref(),
    )?;
    if let Some(v) = &q.verdict {
        if !matches!(v.as_str(), "allow" | "challenge" | "block") {
            return Err(ApiError::validation(
                "verdict",
                "'verdict' must be allow, challenge or block.",
            ));
        }
    }
    query.verdict = q.verdict;
    query.bot = q.bot;
    query.event_type = event_type_filter(q.event_type)?;
    query.country = country_filter(q.country)?;
    let rows = state.store.events(&ctx.scope, query.clone()).await?;
    let (rows, has_more, next_cursor) = cursors.page(rows, &query);
    let data = rows.into_iter().map(|r| EventSummary::of(r.body)).collect();
    Ok(Json(EventPage {
        data,
        has_more,
        next_cursor,
    }))
}
