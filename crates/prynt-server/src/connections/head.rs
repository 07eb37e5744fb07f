//! The size of a request head, checked exactly: hyper refuses a head that overflows its read
//! buffer only while the head is incomplete, so a head that arrives whole in one read may be
//! somewhat larger than the buffer. This layer holds every head to [`HEAD_LIMIT`] however it
//! arrived, with the JSON error body (431).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::middleware::X_REQUEST_ID;

/// The largest request head the API takes: its request line and headers.
pub const HEAD_LIMIT: usize = 64 << 10;

/// Answers 431 to a head over [`HEAD_LIMIT`].
pub async fn limit(req: Request, next: Next) -> Response {
    // As sent: `METHOD URI HTTP/1.1\r\n`, then `name: value\r\n` per header.
    let line = req.method().as_str().len() + req.uri().to_string().len() + 11;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if line + headers <= HEAD_LIMIT {
        return next.run(req).await;
    }
    let mut answer = ApiError::HeadersTooLarge.into_response();
    let id = prynt_core::ids::request_id(prynt_core::timefmt::now_unix());
    if let Ok(v) = HeaderValue::from_str(&id) {
        answer.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    answer
}
