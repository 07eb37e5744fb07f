//! `Idempotency-Key` on POST requests: a retry of a request whose answer was lost gets the same
//! answer instead of a second rule, list, webhook or event.
//!
//! - The key belongs to the caller's credential (the SHA-256 of its `Authorization` header), so
//!   two API keys never see each other's answers; a request without credentials is served as
//!   if it carried no key (it is refused anyway, or, for identify, keyed by its body).
//! - The same key with the same method, path and body within 24 hours replays the first
//!   successful answer (status, body, and the headers that belong to it), marked
//!   `Idempotent-Replayed: true`, without running the request again or spending a rate budget.
//! - The same key with another request is a `400 validation_error` on `Idempotency-Key`; while
//!   the first request is still being served, a `409 conflict` (retry later).
//! - Only successes are kept: after a 4xx or 5xx the key is free, and a retry runs again.
//! - A claim whose request never finished (its server stopped) is taken over after a minute.
//! - Only a caller whose key still authenticates is answered from the kept answers: a revoked or
//!   unknown key runs the request as usual, which refuses it (and counts the failure), so a
//!   replay never outlives the key.
//! - Kept answers are sealed with the server's sealing key, like webhook secrets: a webhook's
//!   creation or rotation answers with its secret, and a copy of the database must not give it
//!   away during the 24 hours its answer is kept.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prynt_store::{IdempotencyClaim, StoredResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long an answer is kept for replay.
pub const TTL_MS: i64 = 24 * 3600 * 1000;
/// After this long without an answer a claim is taken to be abandoned.
const STALE_MS: i64 = 60 * 1000;
/// Longest key accepted (a UUID is 36 characters).
const MAX_KEY_LEN: usize = 255;
/// Largest answer kept for replay; a larger one is served but not kept.
const MAX_KEPT_BODY: usize = 1 << 20;

/// Response headers that describe one delivery of an answer rather than the answer.
fn per_delivery(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "x-request-id" || n.starts_with("x-ratelimit-") || n == "date" || n == "content-length"
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::validation(
                "Idempotency-Key",
                format!("'Idempotency-Key' must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces."),
            )
            .into_response()
        }
    };
    let Some(auth) = req.headers().get(header::AUTHORIZATION) else {
        return next.run(req).await;
    };
    let owner: [u8; 32] = Sha256::digest(auth.as_bytes()).into();
    if crate::extract::authenticate(req.headers(), &state)
        .await
        .is_err()
    {
        return next.run(req).await;
    }

    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::bounds::BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge(crate::bounds::BODY_LIMIT).into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.to_string());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash: [u8; 32] = hasher.finalize().into();

    let now_ms = prynt_core::timefmt::now_unix_ms();
    let claim = state
        .store
        .claim_idempotency_key(owner, &key, request_hash, now_ms, TTL_MS, STALE_MS)
        .await;
    match claim {
        Ok(IdempotencyClaim::Claimed) => {}
        Ok(IdempotencyClaim::Replay(stored)) => return replay(&state, stored),
        Ok(IdempotencyClaim::InFlight) => {
            return ApiError::Conflict(
                "A request with this Idempotency-Key is still being served; retry shortly.".into(),
            )
            .into_response()
        }
        Ok(IdempotencyClaim::Mismatch) => {
            return ApiError::validation(
                "Idempotency-Key",
                "This Idempotency-Key was used for another request (another path or body); use a new key for a new request.",
            )
            .into_response()
        }
        Err(e) => return ApiError::from(e).into_response(),
    }

    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !resp.status().is_success() {
        settle(&state, owner, &key, None).await;
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_KEPT_BODY).await else {
        // Too large to keep (nothing the API answers today): release the key rather than
        // replay a truncated answer. The body is gone, so the answer is an error.
        settle(&state, owner, &key, None).await;
        return ApiError::Internal("the answer was too large to keep for Idempotency-Key".into())
            .into_response();
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(n, _)| !per_delivery(n))
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // JSON is text; an answer that is not (none today) is served but not kept.
    let stored = std::str::from_utf8(&bytes).ok().map(|text| StoredResponse {
        status: parts.status.as_u16(),
        headers,
        body: state.secret_box.seal(text).into_bytes(),
    });
    settle(&state, owner, &key, stored).await;
    Response::from_parts(parts, Body::from(bytes))
}

async fn settle(state: &AppState, owner: [u8; 32], key: &str, stored: Option<StoredResponse>) {
    if let Err(e) = state.store.settle_idempotency_key(owner, key, stored).await {
        // The answer itself stands; at worst a retry runs again (no answer kept) or waits
        // for the claim to go stale.
        tracing::warn!("settling an Idempotency-Key failed: {e}");
    }
}

fn replay(state: &AppState, stored: StoredResponse) -> Response {
    let body = match std::str::from_utf8(&stored.body) {
        Ok(text) if text.starts_with(prynt_webhooks::sealing::PREFIX) => {
            match state.secret_box.open(text) {
                Ok(opened) => opened.into_bytes(),
                Err(_) => {
                    return ApiError::Internal(
                        "a kept answer for this Idempotency-Key cannot be opened with this \
                         server's sealing key"
                            .into(),
                    )
                    .into_response()
                }
            }
        }
        // Kept before answers were sealed (within the 24 hours after an upgrade).
        _ => stored.body,
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    h.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    resp
}
