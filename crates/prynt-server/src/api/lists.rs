//! `/v1/lists`: typed lists of visitor IDs, IP addresses or CIDRs, and emails, with optional
//! entry TTL; atomic batch changes of their entries; each change queued as a `list_update`
//! webhook in the same transaction and visible to the next identification.

use axum::extract::{Path, State};
use axum::Json;
use prynt_core::{ids, timefmt};
use prynt_rules::fields::ListType;
use prynt_rules::lists::normalise_entry;
use prynt_store::{EntryChange, ListRecord, NewList, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::Body;
use super::openapi::vocab::{ListPurpose, ListType as ListTypeName};
use super::pagination::{self, OffsetPage};
use super::ts;
use crate::bounds::MAX_BATCH;
use crate::decide::payload;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, SecretKey};
use crate::policy::Traits;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_list, list_lists))
        .routes(routes!(get_list, delete_list))
        .routes(routes!(change_entries))
}

const TYPES: &[&str] = &["visitor", "ip", "email"];
const PURPOSES: &[&str] = &["allow", "block", "review"];
/// Longest entry search, in characters (longer than any valid entry).
const MAX_SEARCH: usize = 256;
/// Ten years, the longest entry TTL.
const MAX_TTL: i64 = 315_360_000;

fn check_id(id: &str) -> Result<(), ApiError> {
    super::check_hex_id(id, "lst", "listId")
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("No list {id}."))
}

/// A list as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListView {
    #[schema(pattern = "^lst_[0-9a-f]{12}$")]
    id: String,
    name: String,
    #[serde(rename = "type")]
    #[schema(value_type = ListTypeName)]
    list_type: String,
    #[schema(required = true)]
    description: Option<String>,
    /// `allow`, `block` or `review`, when set.
    #[schema(value_type = Option<ListPurpose>, required = true)]
    purpose: Option<String>,
    /// Entries that have not expired.
    #[schema(minimum = 0)]
    entry_count: i64,
    /// Seconds an entry lives; `null` for permanent.
    #[schema(minimum = 1, required = true)]
    ttl: Option<i64>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// A list with one page of its live entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListWithEntries {
    #[serde(flatten)]
    list: ListView,
    entries: OffsetPage<ListEntry>,
}

/// A live entry of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    /// The visitor ID, address or network, or email, as stored (normalised).
    value: String,
    #[schema(format = DateTime)]
    added_at: String,
    /// When the entry stops matching; `null` for permanent.
    #[schema(format = DateTime, required = true)]
    expires_at: Option<String>,
}

/// The answer of a list's deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListDeleted {
    deleted: bool,
    #[schema(pattern = "^lst_[0-9a-f]{12}$")]
    list_id: String,
}

/// What a change of entries did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntriesChanged {
    #[schema(pattern = "^lst_[0-9a-f]{12}$")]
    list_id: String,
    /// Entries that were not in the list before.
    #[schema(minimum = 0)]
    added: usize,
    /// Entries that were in the list and are gone.
    #[schema(minimum = 0)]
    removed: usize,
    #[schema(minimum = 0)]
    entry_count: i64,
}

fn view(r: ListRecord) -> ListView {
    ListView {
        id: r.id,
        name: r.name,
        list_type: r.list_type,
        description: r.description,
        purpose: r.purpose,
        entry_count: r.entry_count,
        ttl: r.ttl_s,
        created_at: ts(r.created_ms),
        updated_at: ts(r.updated_ms),
    }
}

/// Create a list. Names are unique within the workspace environment.
#[utoipa::path(
    post, path = "/v1/lists", tag = "Lists",
    security(("bearer" = [])),
    request_body(content = ref("#/components/schemas/CreateList")),
    responses(
        (status = 200, body = ListView),
        (status = 409, description = "`conflict`: a list of this name exists in the environment.")
    )
)]
async fn create_list(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<ListView>, ApiError> {
    let body = Body::new(map, &["name", "type", "description", "ttl", "purpose"])?;
    let name = body
        .string("name", 100)?
        .ok_or_else(|| ApiError::validation("name", "'name' is required."))?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ApiError::validation(
            "name",
            "'name' may hold letters, digits, '_', '-' and '.' (snake_case recommended).",
        ));
    }
    let list_type = body
        .one_of("type", TYPES)?
        .ok_or_else(|| ApiError::validation("type", "'type' is required: visitor, ip or email."))?;
    let description = body.string("description", 500)?;
    let ttl = body.int("ttl", 1, MAX_TTL)?;
    let purpose = body.one_of("purpose", PURPOSES)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    let now_ms = timefmt::now_unix_ms();
    let mut attempt = 0;
    let rec = loop {
        let new = NewList {
            id: ids::prefixed_hex_id("lst"),
            name: name.clone(),
            list_type: list_type.clone(),
            description: description.clone(),
            ttl_s: ttl,
            purpose: purpose.clone(),
        };
        match state.store.create_list(&ctx.scope, new, now_ms).await {
            Err(StoreError::DuplicateId) if attempt < 3 => attempt += 1,
            Err(StoreError::Conflict(m)) => {
                return Err(ApiError::Conflict(m));
            }
            other => break other?,
        }
    };
    policy.lists.write().insert(&rec, &[]);
    Ok(Json(view(rec)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListLists {
    /// Only lists of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<ListTypeName>)]
    list_type: Option<String>,
    /// 1 to 1000; all of them (up to 1000) when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Lists to skip.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
}

/// List the lists of the workspace environment, oldest first.
#[utoipa::path(
    get, path = "/v1/lists", tag = "Lists",
    security(("bearer" = [])),
    params(ListLists),
    responses((status = 200, body = OffsetPage<ListView>))
)]
async fn list_lists(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    ApiQuery(q): ApiQuery<ListLists>,
) -> Result<Json<OffsetPage<ListView>>, ApiError> {
    let (limit, offset) = pagination::offset_page_all(q.limit, q.offset)?;
    if let Some(t) = &q.list_type {
        if !TYPES.contains(&t.as_str()) {
            return Err(ApiError::validation(
                "type",
                "'type' must be one of: visitor, ip, email.",
            ));
        }
    }
    let (rows, total) = state
        .store
        .lists(&ctx.scope, q.list_type, limit, offset)
        .await?;
    Ok(Json(OffsetPage::new(
        rows.into_iter().map(view).collect(),
        offset,
        total,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryPage {
    /// Only entries whose value contains this text (ASCII letters match in either case);
    /// 1 to 256 characters. `entries.total` counts the entries found.
    #[param(min_length = 1, max_length = 256)]
    q: Option<String>,
    /// Entries per page, 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Entries to skip.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
}

/// Retrieve a list with one page of its live entries, newest first, optionally only those
/// containing `q`.
#[utoipa::path(
    get, path = "/v1/lists/{listId}", tag = "Lists",
    security(("bearer" = [])),
    params(("listId" = String, Path, description = "The list ID: `lst_` and 12 hex digits."), EntryPage),
    responses((status = 200, body = ListWithEntries))
)]
async fn get_list(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EntryPage>,
) -> Result<Json<ListWithEntries>, ApiError> {
    check_id(&id)?;
    let (limit, offset) = pagination::offset_page(q.limit, q.offset)?;
    if let Some(text) = &q.q {
        if !(1..=MAX_SEARCH).contains(&text.chars().count()) {
            return Err(ApiError::validation(
                "q",
                format!("'q' must be 1 to {MAX_SEARCH} characters."),
            ));
        }
    }
    let rec = state
        .store
        .list(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let (entries, total) = state
        .store
        .list_entries(&ctx.scope, &id, q.q, limit, offset)
        .await?;
    let data = entries
        .into_iter()
        .map(|e| ListEntry {
            value: e.value,
            added_at: ts(e.added_ms),
            expires_at: e.expires_s.map(timefmt::rfc3339),
        })
        .collect();
    Ok(Json(ListWithEntries {
        list: view(rec),
        entries: OffsetPage::new(data, offset, total),
    }))
}

/// Delete a list and its entries; rules that name it stop matching on it.
#[utoipa::path(
    delete, path = "/v1/lists/{listId}", tag = "Lists",
    security(("bearer" = [])),
    params(("listId" = String, Path, description = "The list ID: `lst_` and 12 hex digits.")),
    responses((status = 200, body = ListDeleted))
)]
async fn delete_list(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<ListDeleted>, ApiError> {
    check_id(&id)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    let rec = state
        .store
        .list(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let now_ms = timefmt::now_unix_ms();
    let item = payload(
        "list_update",
        now_ms,
        json!({"listId": id, "listName": rec.name, "added": [], "removed": [], "deleted": true, "source": "api"}),
        policy.receivers("list_update", Traits::default()),
    );
    if !state.store.delete_list(&ctx.scope, &id, Some(item)).await? {
        return Err(not_found(&id));
    }
    policy.forget_list(&id);
    state.delivery_wake.notify_one();
    Ok(Json(ListDeleted {
        deleted: true,
        list_id: id,
    }))
}

/// Longest string `remove` takes, in characters (the longest valid entry, an email, is far
/// shorter).
const MAX_REMOVE_LEN: usize = 1024;

/// The normalised entries of `add`, each checked against the list's type.
fn entries(body: &Body, key: &str, ty: ListType) -> Result<Vec<String>, ApiError> {
    collect(body, key, |field, raw| {
        normalise_entry(ty, raw).map_err(|why| {
            ApiError::validation(
                field,
                format!("'{field}' is not a valid {} entry: {why}", ty.as_str()),
            )
        })
    })
}

/// The entries of `remove`: any string. One that is a valid entry is normalised as `add` would
/// have stored it; any other cannot be in the list, so removing it is a no-op rather than an
/// error (a cleanup job may name entries that were never valid).
fn removals(body: &Body, ty: ListType) -> Result<Vec<String>, ApiError> {
    collect(body, "remove", |field, raw| {
        if raw.chars().count() > MAX_REMOVE_LEN {
            return Err(ApiError::validation(
                field,
                format!("'{field}' is longer than {MAX_REMOVE_LEN} characters."),
            ));
        }
        Ok(normalise_entry(ty, raw).unwrap_or_else(|_| raw.trim().to_owned()))
    })
}

/// The distinct strings of the array `key`, each passed through `one`.
fn collect(
    body: &Body,
    key: &str,
    one: impl Fn(&str, &str) -> Result<String, ApiError>,
) -> Result<Vec<String>, ApiError> {
    let Some(v) = body.get(key) else {
        return Ok(Vec::new());
    };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::validation(key, format!("'{key}' must be an array of strings."))
    })?;
    let mut out: Vec<String> = Vec::with_capacity(arr.len());
    for (i, e) in arr.iter().enumerate() {
        let field = format!("{key}[{i}]");
        let raw = e
            .as_str()
            .ok_or_else(|| ApiError::validation(&field, format!("'{field}' must be a string.")))?;
        let n = one(&field, raw)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Add and remove entries in one atomic call (up to 1,000 together).
#[utoipa::path(
    method(post, patch), path = "/v1/lists/{listId}/entries", tag = "Lists",
    security(("bearer" = [])),
    params(("listId" = String, Path, description = "The list ID: `lst_` and 12 hex digits.")),
    request_body(content = ref("#/components/schemas/ListEntriesChange")),
    responses((status = 200, body = EntriesChanged))
)]
async fn change_entries(
    State(state): State<AppState>,
    SecretKey(ctx): SecretKey,
    Path(id): Path<String>,
    ApiJson(map): ApiJson<Map<String, Value>>,
) -> Result<Json<EntriesChanged>, ApiError> {
    check_id(&id)?;
    let body = Body::new(map, &["add", "remove", "ttl"])?;
    let sizes: usize = ["add", "remove"]
        .iter()
        .filter_map(|k| body.get(k).and_then(Value::as_array).map(Vec::len))
        .sum();
    if sizes > MAX_BATCH {
        return Err(ApiError::validation(
            "add",
            format!("At most {MAX_BATCH} entries may be added and removed in one call; nothing was applied."),
        ));
    }
    if body.get("add").is_none() && body.get("remove").is_none() {
        return Err(ApiError::validation("add", "Send 'add', 'remove' or both."));
    }
    let ttl = body.int("ttl", 1, MAX_TTL)?;
    let policy = state.policy.scope(&ctx.scope).await?;
    let _changing = policy.changes.lock().await;
    let rec = state
        .store
        .list(&ctx.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let ty = ListType::parse(&rec.list_type)
        .ok_or_else(|| ApiError::Internal(format!("list {id} has type {}", rec.list_type)))?;
    let add = entries(&body, "add", ty)?;
    let remove = removals(&body, ty)?;
    let now_ms = timefmt::now_unix_ms();
    let expires = ttl.or(rec.ttl_s).map(|t| now_ms / 1000 + t);
    let item = payload(
        "list_update",
        now_ms,
        json!({"listId": id, "listName": rec.name, "added": add, "removed": remove, "deleted": false, "source": "api"}),
        policy.receivers("list_update", Traits::default()),
    );
    let change = EntryChange {
        add: add.iter().map(|v| (v.clone(), expires)).collect(),
        remove: remove.clone(),
    };
    let out = match state
        .store
        .change_list_entries(&ctx.scope, &id, change, Some(item), now_ms)
        .await
    {
        Err(StoreError::NotFound) => return Err(not_found(&id)),
        other => other?,
    };
    state.delivery_wake.notify_one();
    {
        let mut lists = policy.lists.write();
        if let Some(data) = lists.set.get_mut(&rec.name) {
            for v in &remove {
                data.remove(v);
            }
            for v in add {
                data.insert(v, expires);
            }
        }
    }
    Ok(Json(EntriesChanged {
        list_id: id,
        added: out.added,
        removed: out.removed,
        entry_count: out.entry_count,
    }))
}
