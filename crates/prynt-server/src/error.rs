//! Every error the API can answer with, its HTTP status and code, and the one place where
//! lower-level errors (store, extractors, panics) become the reference's JSON error body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prynt_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The error codes of the API with their status and a sentence for `/docs/errors`.
pub const CATALOGUE: &[(&str, u16, &str)] = &[
    ("validation_error", 400, "The request is malformed: bad JSON, a wrong type, an unknown or missing field, or a value out of range. `field` names the offending path."),
    ("invalid_api_key", 401, "No API key was sent, or it is malformed, unknown or revoked; the message says which. Send `Authorization: Bearer <key>`."),
    ("insufficient_permissions", 403, "The key is valid but may not call this endpoint: public keys may only call `POST /v1/identify`."),
    ("origin_not_allowed", 403, "The request's Origin is not in the allowed origins of the key's workspace environment."),
    ("not_found", 404, "The resource or route does not exist in this workspace and environment, or has expired."),
    ("method_not_allowed", 405, "The route exists but not with this HTTP method."),
    ("request_timeout", 408, "The request body did not arrive whole within the server's body timeout (30 s unless configured) of its head; the connection is closed. Send the body at once."),
    ("conflict", 409, "The request clashes with the current state, such as a duplicate name."),
    ("payload_too_large", 413, "The request body exceeds the limit: 64 KiB for identify, 1 MiB elsewhere."),
    ("uri_too_long", 414, "The request's URI is longer than the server reads (64 KiB)."),
    ("unsupported_media_type", 415, "The body must be sent as `Content-Type: application/json`."),
    ("rate_limited", 429, "Too many requests for this key (or, for identify, this workspace), or too many failed authentications from this address. Wait `retryAfter` seconds (also in `Retry-After`); `X-RateLimit-*` headers show the budget that was spent."),
    ("headers_too_large", 431, "The request's head (its request line and headers) is larger than 64 KiB, or has more than 100 headers."),
    ("internal_error", 500, "An unexpected server error. Retry with exponential backoff."),
    ("service_unavailable", 503, "The server is starting, shutting down or cannot reach its store (or, where rate limits are shared and fail closed, its Redis). Retry shortly; `Retry-After` says when, if known."),
];

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    #[error("No API key was provided. Send it as 'Authorization: Bearer <key>'.")]
    MissingApiKey,
    #[error("The API key is invalid or revoked.")]
    InvalidApiKey,
    #[error("{0}")]
    InsufficientPermissions(String),
    #[error("The origin {0:?} is not allowed to identify with this key.")]
    OriginNotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("The method {0} is not allowed on this route.")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("The request body is larger than the limit of {0} bytes.")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("The request body did not arrive within {} s of its head.", .0.as_secs_f64())]
    RequestTimeout(std::time::Duration),
    #[error("The request URI is too long: at most 64 KiB.")]
    UriTooLong,
    #[error("The request head is too large: at most 64 KiB and 100 headers.")]
    HeadersTooLarge,
    #[error("Rate limit exceeded. Retry in {retry_after_s}s.")]
    RateLimited { retry_after_s: u64 },
    /// Too many keys that failed to authenticate came from the caller's address.
    #[error("Too many failed authentications from this address. Retry in {retry_after_s}s.")]
    AuthFailuresLimited { retry_after_s: u64 },
    #[error("An internal error occurred.")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
    /// The shared rate budgets cannot be read and the operator chose to refuse meanwhile.
    #[error("Rate limits cannot be checked right now. Retry in {retry_after_s}s.")]
    LimitsUnavailable { retry_after_s: u64 },
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "validation_error",
            // One 401 code, as the reference has; the message tells a missing key from a bad one.
            ApiError::MissingApiKey | ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::InsufficientPermissions(_) => "insufficient_permissions",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::UriTooLong => "uri_too_long",
            ApiError::HeadersTooLarge => "headers_too_large",
            ApiError::RateLimited { .. } | ApiError::AuthFailuresLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
            ApiError::Unavailable(_) | ApiError::LimitsUnavailable { .. } => "service_unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        let code = self.code();
        CATALOGUE
            .iter()
            .find(|(c, _, _)| *c == code)
            .and_then(|(_, s, _)| StatusCode::from_u16(*s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ErrorBody {
        let code = self.code();
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                docs: format!("/docs/errors#{code}"),
                field: match self {
                    ApiError::Validation { field, .. } => field.clone(),
                    _ => None,
                },
                retry_after: match self {
                    ApiError::RateLimited { retry_after_s }
                    | ApiError::AuthFailuresLimited { retry_after_s }
                    | ApiError::LimitsUnavailable { retry_after_s } => Some(*retry_after_s),
                    _ => None,
                },
            },
        }
    }
}

/// `{"error": {...}}`, the body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine-readable code, one of those listed at `/docs/errors`.
    pub code: String,
    pub message: String,
    /// Where the code is explained.
    pub docs: String,
    /// The offending field path, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait, for rate-limit errors (and a 503 of shared limits that fail closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::RateLimited { retry_after_s }
        | ApiError::AuthFailuresLimited { retry_after_s }
        | ApiError::LimitsUnavailable { retry_after_s } = self
        {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_s),
            );
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("The resource does not exist.".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::DuplicateId => ApiError::Internal("generated id clashed".into()),
            StoreError::Closed => ApiError::Unavailable("The server is shutting down.".into()),
            StoreError::Unavailable(_) => ApiError::Unavailable(
                "The server cannot reach its store right now. Retry shortly.".into(),
            ),
            StoreError::Backend(m) => ApiError::Internal(m),
        }
    }
}

/// Turns a panic caught by the panic layer into a JSON 500 instead of a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("handler panicked".into()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_catalogued_code() {
        let all = [
            ApiError::validation("f", "m"),
            ApiError::MissingApiKey,
            ApiError::InvalidApiKey,
            ApiError::InsufficientPermissions(String::new()),
            ApiError::OriginNotAllowed(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::RequestTimeout(std::time::Duration::from_secs(30)),
            ApiError::UriTooLong,
            ApiError::HeadersTooLarge,
            ApiError::RateLimited { retry_after_s: 1 },
            ApiError::AuthFailuresLimited { retry_after_s: 1 },
            ApiError::Internal(String::new()),
            ApiError::Unavailable(String::new()),
            ApiError::LimitsUnavailable { retry_after_s: 1 },
        ];
        for e in all {
            assert!(
                CATALOGUE.iter().any(|(c, _, _)| *c == e.code()),
                "{}",
                e.code()
            );
        }
        assert_eq!(ApiError::MissingApiKey.status(), StatusCode::UNAUTHORIZED);
    }

    /// A store that cannot be reached (a database restarting) is a retryable 503 with the
    /// usual error body, never a 500, and its backend's message stays in the logs.
    #[test]
    fn an_unavailable_store_is_a_503() {
        let e = ApiError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "service_unavailable");
        assert!(!e.to_string().contains("connection refused"));
    }
}
