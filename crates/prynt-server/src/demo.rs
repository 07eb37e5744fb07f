//! The demo: the page at `/` and `/demo` that identifies the visitor's own browser and shows what
//! Prynt made of the visit, the demo public key it uses, and the two endpoints the page reads.
//!
//! A server whose every listening address is loopback gets a fresh public key for the `default`
//! workspace's test environment at each start (unless `--no-demo`). Like every key it is stored
//! only as a digest; its plaintext lives in memory and is handed to the page by
//! `GET /demo/config`. Its display prefix ends in ` (demo)`, which is how `prynt keys list` shows
//! it and how the next start finds it to revoke it, so demo keys never pile up (also when the
//! next start has the demo turned off). `GET /demo/api/events/{requestId}` shows the page the
//! event and the visitor's recent visits without a secret key, so it is answered only while the
//! demo key exists, only to a client on loopback and only for events of that environment. None
//! of this is under `/v1` or in the OpenAPI document.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use prynt_core::{ids, Environment, KeyType, Scope};
use prynt_store::{ApiKeyRecord, EventQuery, Store, StoreError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The workspace whose test environment the demo identifies into.
pub const WORKSPACE: &str = "default";
/// What a demo key's display prefix ends with.
const MARK: &str = " (demo)";
/// Visits of the visitor listed beside the event.
const RECENT_VISITS: usize = 10;

pub use crate::state::Demo;

/// Whether a server listening on `addr` is reachable from this machine only.
pub fn loopback_only(addr: SocketAddr) -> bool {
    is_local(addr.ip())
}

/// Loopback, also written as an IPv4-mapped IPv6 address.
fn is_local(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn is_demo_key(key: &ApiKeyRecord) -> bool {
    key.key_type == KeyType::Public && key.display_prefix.ends_with(MARK)
}

/// Revokes the demo keys of earlier runs, then, when `enabled`, makes this run's.
/// `None` when disabled or when the store has no `default` workspace.
pub async fn prepare(store: &dyn Store, enabled: bool) -> Result<Option<Demo>, StoreError> {
    for key in store.list_api_keys(None).await? {
        if key.revoked_at.is_none() && is_demo_key(&key) {
            match store.revoke_api_key(&key.id).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    if !enabled {
        return Ok(None);
    }
    let Some(ws) = store.workspace_by_name(WORKSPACE).await? else {
        return Ok(None);
    };
    let (public_key, mut record) =
        crate::api_keys::new_key(&ws.id, Environment::Test, KeyType::Public);
    record.display_prefix.push_str(MARK);
    let saved = store.create_api_key(record).await?;
    Ok(Some(Demo {
        public_key,
        key_id: saved.id,
        scope: Scope {
            workspace_id: ws.id,
            env: Environment::Test,
        },
    }))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/demo", get(page))
        .route("/demo/config", get(config))
        .route("/demo/api/events/{request_id}", get(event))
}

const PAGE: &str = include_str!("../assets/demo.html");

/// The page's content security policy: its own inline style and script by digest, the agent
/// and the API from this origin, nothing from anywhere else. The agent's Blob worker is allowed,
/// so that the page is measured as any page without a policy is.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let digests = |tag: &str| {
        inline_blocks(PAGE, tag)
            .into_iter()
            .map(|b| {
                let d = Sha256::digest(b.as_bytes());
                format!(
                    " 'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(d)
                )
            })
            .collect::<String>()
    };
    format!(
        "default-src 'none'; script-src 'self'{}; style-src{}; connect-src 'self'; \
         img-src 'self' data:; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        digests("script"),
        digests("style")
    )
});

/// The contents of every `<tag>…</tag>` of `html` written without attributes (the inline ones).
fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    html.match_indices(open.as_str())
        .map(|(i, _)| i + open.len())
        .filter_map(|start| {
            html[start..]
                .find(close.as_str())
                .map(|len| &html[start..start + len])
        })
        .collect()
}

async fn page() -> Response {
    crate::html::page(
        HeaderValue::from_str(&CSP).unwrap_or(HeaderValue::from_static("default-src 'self'")),
        PAGE,
    )
}

/// The demo key, if there is one and the client is on this machine: the peer is loopback and,
/// when the peer is a trusted proxy, so is the client it forwards for (a reverse proxy in front
/// of a loopback listener must not publish the demo).
fn local_demo<'a>(
    state: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<&'a Demo, ApiError> {
    let no_demo = || {
        ApiError::NotFound(
            "No demo here: the demo runs only on a server that listens on loopback alone (and \
             not with --no-demo), for clients on the same machine."
                .into(),
        )
    };
    let demo = state.demo.get().ok_or_else(no_demo)?;
    let client = crate::client_ip::resolve(peer.ip(), headers, &state.trusted_proxies);
    if !is_local(peer.ip()) || !is_local(client) {
        return Err(no_demo());
    }
    Ok(demo)
}

fn no_store(body: Value) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

/// `{publicKey, workspace, environment}` of the demo key; 404 when there is none.
async fn config(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let demo = local_demo(&state, peer, &headers)?;
    Ok(no_store(json!({
        "publicKey": demo.public_key,
        "workspace": WORKSPACE,
        "environment": demo.scope.env.as_str(),
    })))
}

/// `{event, recentVisits}`: the event as `GET /v1/events/{requestId}` shows it and the last
/// visits of its visitor, newest first.
async fn event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Result<Response, ApiError> {
    let demo = local_demo(&state, peer, &headers)?;
    if !ids::is_request_id(&request_id) {
        return Err(ApiError::validation(
            "requestId",
            "'requestId' must look like req_1707832921_a7f2c9.",
        ));
    }
    let floor = state.retention_floor_ms();
    let not_found = || {
        ApiError::NotFound(format!(
            "No event {request_id} in the {WORKSPACE} workspace's test environment (it may have expired)."
        ))
    };
    let row = state
        .store
        .event(&demo.scope, &request_id, floor)
        .await?
        .ok_or_else(not_found)?;
    let visitor_id = row
        .body
        .get("visitorId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let recent = match visitor_id {
        Some(v) => {
            let query = EventQuery {
                visitor_id: Some(v),
                limit: RECENT_VISITS,
                retention_floor_ms: floor,
                ..Default::default()
            };
            state.store.events(&demo.scope, query).await?
        }
        None => Vec::new(),
    };
    // The store answers one row past the limit (how listings know there is a next page).
    let recent_visits: Vec<Value> = recent
        .iter()
        .take(RECENT_VISITS)
        .map(|r| {
            let b = &r.body;
            json!({
                "requestId": r.request_id,
                "timestamp": b.get("timestamp"),
                "incognito": b.pointer("/signals/incognito"),
                "browser": b.pointer("/device/browser"),
                "identifiedBy": b.get("identifiedBy"),
            })
        })
        .collect();
    Ok(no_store(json!({
        "event": row.body,
        "recentVisits": recent_visits,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listeners_only() {
        for a in [
            "127.0.0.1:8080",
            "127.4.5.6:1",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(loopback_only(a.parse().unwrap()), "{a}");
        }
        for a in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.168.1.2:8080",
            "[::ffff:10.0.0.1]:80",
        ] {
            assert!(!loopback_only(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_script_and_style() {
        assert_eq!(inline_blocks(PAGE, "script").len(), 1);
        assert_eq!(inline_blocks(PAGE, "style").len(), 1);
        let csp = CSP.as_str();
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(HeaderValue::from_str(csp).is_ok());
    }
}
