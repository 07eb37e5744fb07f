//! Operational endpoints outside `/v1`: liveness, readiness, Prometheus metrics, the error
//! catalogue that every error body's `docs` link points at, and the demo's routes (`/`, `/demo`
//! and what its page reads, in [`crate::demo`]).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::{ApiError, CATALOGUE};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/docs/errors", get(error_docs))
        .merge(crate::demo::routes())
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its store answers.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("The store is not answering: {e}")))?;
    Ok((StatusCode::OK, Json(json!({ "status": "ready" }))))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .account_history_loading
        .set(state.risk.account_history_loading() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn error_docs() -> Html<String> {
    let mut rows = String::new();
    for (code, status, text) in CATALOGUE {
        rows.push_str(&format!(
            "<tr id=\"{code}\"><td><code>{code}</code></td><td>{status}</td><td>{}</td></tr>\n",
            html_escape(text)
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Prynt API errors</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         td,th{{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;vertical-align:top}}\
         tr:target{{background:#fff6d5}}</style></head><body><h1>Prynt API errors</h1>\
         <p>Every error response has the body <code>{{\"error\": {{\"code\", \"message\", \"docs\"}}}}</code>, \
         plus <code>field</code> for validation errors and <code>retryAfter</code> for rate limits.</p>\
         <table><tr><th>code</th><th>status</th><th>meaning</th></tr>\n{rows}</table></body></html>"
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
