//! The client's one error type: what the API refused (with the reference's error body and the
//! request id to quote), what never reached an answer (transport, timeout), and answers that
//! could not be read. Every failure of every method is one of these; nothing panics on what a
//! server or a proxy sends back.

use std::time::Duration;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with its error body `{"error": {code, message, ...}}`.
    #[error("{status} {code}: {message}{}", request_id_suffix(request_id))]
    Api {
        /// HTTP status (400, 401, 403, 404, 409, 429, 5xx, ...).
        status: u16,
        /// The reference's machine-readable code, e.g. `validation_error`, `invalid_api_key`.
        code: String,
        message: String,
        /// The offending field path of a validation error, e.g. `conditions.rules[1].value`.
        field: Option<String>,
        /// Seconds to wait before retrying, from `Retry-After` or the body's `retryAfter`.
        retry_after: Option<u64>,
        /// The response's `X-Request-Id`, to quote when reporting a problem.
        request_id: Option<String>,
    },
    /// An error status whose body is not the API's error JSON: typically a proxy or load
    /// balancer's own page (an HTML 502) in front of the server.
    #[error(
        "HTTP {status} without an API error body{}: {snippet}",
        request_id_suffix(request_id)
    )]
    Http {
        status: u16,
        /// The start of the body, for diagnosis.
        snippet: String,
        request_id: Option<String>,
    },
    /// No answer within the configured timeout (after any retries).
    #[error("the request timed out after {0:?}")]
    Timeout(Duration),
    /// The request never got an answer: connection refused or reset, DNS, TLS.
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success answer whose body does not have the expected shape.
    #[error("cannot decode the answer{}: {message}", request_id_suffix(request_id))]
    Decode {
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    /// The client was configured with something unusable (a bad base URL, a key that cannot be
    /// sent as a header).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

fn request_id_suffix(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" (request {id})"))
        .unwrap_or_default()
}

/// What kind of failure an [`Error`] is, for `match`ing without caring about the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400: malformed or invalid input; see `field`.
    Validation,
    /// 401: missing, unknown or revoked API key.
    Auth,
    /// 403: a valid key that may not call this endpoint (a public key outside identify), or a
    /// browser origin that is not allowed.
    Permission,
    /// 404: no such resource in the key's workspace and environment (or expired).
    NotFound,
    /// 409: a clash with the current state, such as a duplicate list name.
    Conflict,
    /// 429: a rate budget is spent; see `retry_after`.
    RateLimit,
    /// 5xx: the server (or a proxy in front of it) failed.
    Server,
    /// Any other error status.
    OtherStatus,
    Timeout,
    Transport,
    Decode,
    Config,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { status, .. } | Error::Http { status, .. } => match status {
                400 => ErrorKind::Validation,
                401 => ErrorKind::Auth,
                403 => ErrorKind::Permission,
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                429 => ErrorKind::RateLimit,
                500..=599 => ErrorKind::Server,
                _ => ErrorKind::OtherStatus,
            },
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Transport(_) => ErrorKind::Transport,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Config(_) => ErrorKind::Config,
        }
    }

    /// The HTTP status, when the server (or a proxy) answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::Http { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's error code (`validation_error`, `rate_limited`, ...), when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The offending field of a validation error.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// How long the server asked to wait (429).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => retry_after.map(Duration::from_secs),
            _ => None,
        }
    }

    /// The `X-Request-Id` of the answer, to quote when reporting a problem.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::Http { request_id, .. }
            | Error::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn is_auth(&self) -> bool {
        self.kind() == ErrorKind::Auth
    }

    pub fn is_permission(&self) -> bool {
        self.kind() == ErrorKind::Permission
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    pub fn is_validation(&self) -> bool {
        self.kind() == ErrorKind::Validation
    }

    pub fn is_rate_limited(&self) -> bool {
        self.kind() == ErrorKind::RateLimit
    }

    pub fn is_server(&self) -> bool {
        self.kind() == ErrorKind::Server
    }
}

/// `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The reference's error body.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// Longest part of a non-API body kept in [`Error::Http`].
const SNIPPET_CHARS: usize = 200;

/// The error for an answer with an error status: the API's own body when it is one, otherwise
/// [`Error::Http`] with the start of whatever came back.
pub(crate) fn from_status(
    status: u16,
    body: &[u8],
    retry_after_header: Option<u64>,
    request_id: Option<String>,
) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => Error::Api {
            status,
            code: error.code,
            message: error.message,
            field: error.field,
            // The header is what HTTP intermediaries and the reference both name; the body's
            // copy covers a proxy that drops the header.
            retry_after: retry_after_header.or(error.retry_after),
            request_id,
        },
        Err(_) => Error::Http {
            status,
            snippet: String::from_utf8_lossy(body)
                .chars()
                .take(SNIPPET_CHARS)
                .collect(),
            request_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_error_bodies_decode_to_their_kinds() {
        let e = from_status(
            400,
            br#"{"error":{"code":"validation_error","message":"'conditions' is required.","field":"conditions","docs":"/docs/errors#validation_error"}}"#,
            None,
            Some("req_1707832921_a7f2c9".into()),
        );
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(e.code(), Some("validation_error"));
        assert_eq!(e.field(), Some("conditions"));
        assert_eq!(e.request_id(), Some("req_1707832921_a7f2c9"));
        assert!(e.to_string().contains("'conditions' is required."));

        let e = from_status(
            429,
            br#"{"error":{"code":"rate_limited","message":"Rate limit exceeded. Retry in 12s.","retryAfter":12}}"#,
            None,
            None,
        );
        assert!(e.is_rate_limited());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
        let e = from_status(
            429,
            br#"{"error":{"code":"rate_limited","message":"m","retryAfter":12}}"#,
            Some(3),
            None,
        );
        assert_eq!(
            e.retry_after(),
            Some(Duration::from_secs(3)),
            "header first"
        );

        for (status, kind) in [
            (401, ErrorKind::Auth),
            (403, ErrorKind::Permission),
            (404, ErrorKind::NotFound),
            (409, ErrorKind::Conflict),
            (503, ErrorKind::Server),
            (418, ErrorKind::OtherStatus),
        ] {
            let e = from_status(
                status,
                br#"{"error":{"code":"x","message":"m"}}"#,
                None,
                None,
            );
            assert_eq!(e.kind(), kind, "{status}");
        }
    }

    #[test]
    fn a_body_that_is_not_the_api_error_is_a_typed_http_error() {
        let html = "<html><body><h1>502 Bad Gateway</h1></body></html>".repeat(20);
        let e = from_status(502, html.as_bytes(), None, None);
        assert!(matches!(e, Error::Http { status: 502, .. }), "{e:?}");
        assert!(e.is_server());
        assert_eq!(e.code(), None);
        let Error::Http { snippet, .. } = &e else {
            unreachable!()
        };
        assert_eq!(snippet.chars().count(), SNIPPET_CHARS);
        for body in [
            &b""[..],
            b"{}",
            b"{\"error\":\"flat\"}",
            b"\xff\xfe",
            b"null",
        ] {
            let e = from_status(500, body, None, None);
            assert!(matches!(e, Error::Http { status: 500, .. }), "{e:?}");
        }
    }
}
