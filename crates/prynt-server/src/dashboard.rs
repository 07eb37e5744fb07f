//! The dashboard's assets under `/dashboard/`: the single-page app built from `dashboard/`
//! (`npm ci && npm run build`) and embedded in the binary, so serving it needs no file, CDN
//! or network at run time.
//!
//! Paths with a file extension are assets (content-hashed names, cached for a year); any other
//! path under `/dashboard/` is a page of the app and gets `index.html`, so that a reload or a
//! shared link of `/dashboard/events/req_…` works. Developers can set `PRYNT_DASHBOARD_DIR` to
//! serve a build from disk instead, without rebuilding the binary.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::Embed;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Embed)]
#[folder = "../../dashboard/dist"]
#[allow_missing = true]
struct Assets;

/// The page's content security policy: everything from this origin, nothing inline but styles
/// (the charting library and the app set element styles).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Prynt dashboard</title></head><body><main><h1>The dashboard is not in this build</h1>\
<p>This prynt binary was compiled before the dashboard was built. Run <code>./scripts/run</code>, \
or <code>npm ci &amp;&amp; npm run build</code> in <code>dashboard/</code> and build the binary again.</p>\
</main></body></html>";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard",
            get(|| async { Redirect::permanent("/dashboard/") }),
        )
        .route("/dashboard/", get(|| serve(String::new())))
        .route(
            "/dashboard/{*path}",
            get(|axum::extract::Path(path): axum::extract::Path<String>| serve(path)),
        )
}

/// `PRYNT_DASHBOARD_DIR`, read once.
static OVERRIDE_DIR: LazyLock<Option<PathBuf>> = LazyLock::new(|| {
    std::env::var_os("PRYNT_DASHBOARD_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
});

/// An asset's bytes: from the override directory when set, else from the binary (served
/// without a copy).
fn load(path: &str) -> Option<Body> {
    if path.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return None;
    }
    match OVERRIDE_DIR.as_deref() {
        Some(dir) => std::fs::read(dir.join(path)).ok().map(Body::from),
        None => Assets::get(path).map(|f| match f.data {
            Cow::Borrowed(b) => Body::from(b),
            Cow::Owned(v) => Body::from(v),
        }),
    }
}

fn is_asset_path(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

async fn serve(path: String) -> Response {
    if is_asset_path(&path) {
        let Some(bytes) = load(&path) else {
            return ApiError::NotFound(format!("No dashboard asset {path}.")).into_response();
        };
        let mime = mime_guess::from_path(&path).first_or_octet_stream();
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(mime.as_ref())
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response();
    }
    let body = match load("index.html") {
        Some(bytes) => bytes,
        None => Body::from(NOT_BUILT),
    };
    crate::html::page(HeaderValue::from_static(CSP), body)
}
