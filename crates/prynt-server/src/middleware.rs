//! Cross-cutting request handling: request ids and early refusal of oversized bodies.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served; identify also uses it as the event's `requestId`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives every request an id and echoes it as `X-Request-Id` on every response, errors included.
/// Where the rate limiter leaves the budget's state for [`rate_headers`] to report.
#[derive(Clone, Default)]
pub struct RateSlot(std::sync::Arc<parking_lot::Mutex<Option<crate::limits::Status>>>);

impl RateSlot {
    pub fn set(&self, s: crate::limits::Status) {
        *self.0.lock() = Some(s);
    }
}

/// Adds `X-RateLimit-Limit`, `-Remaining` and `-Reset` to every response whose request spent
/// a rate budget (refusals included).
pub async fn rate_headers(mut req: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    let status = *slot.0.lock();
    if let Some(s) = status {
        let h = resp.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(s.limit)),
            ("x-ratelimit-remaining", u64::from(s.remaining)),
            ("x-ratelimit-reset", s.reset),
        ] {
            h.insert(name, HeaderValue::from(value));
        }
    }
    resp
}

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = prynt_core::ids::request_id(prynt_core::timefmt::now_unix());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    // A handler that had to take a fresh id (identify, after a clash) has set its own.
    if !resp.headers().contains_key(&X_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
        }
    }
    resp
}

/// Refuses a body whose declared length is over the limit before reading any of it. Bodies
/// without a declared length are cut off by the extractors' own limit.
pub async fn declared_length_limit(req: Request, next: Next) -> Response {
    let limit = body_limit_for(req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::PayloadTooLarge(limit).into_response();
    }
    next.run(req).await
}

/// 64 KiB for identify, 1 MiB for everything else (docs/api.md).
pub fn body_limit_for(path: &str) -> usize {
    if path == "/v1/identify" {
        crate::bounds::IDENTIFY_BODY_LIMIT
    } else {
        crate::bounds::BODY_LIMIT
    }
}
