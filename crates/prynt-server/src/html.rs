//! The headers of the HTML pages the server serves itself (the dashboard and the demo): never
//! cached without revalidation, never sniffed, framed or sent as a referrer, and held to the
//! page's own content security policy.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// A 200 HTML page with `csp` as its content security policy.
pub fn page(csp: HeaderValue, body: impl Into<Body>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_SECURITY_POLICY, csp),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body.into(),
    )
        .into_response()
}
