//! The HTTP application: every resource's routes, the OpenAPI document generated from them, and
//! the layers every request passes through (request id, panic guard, body limits, metrics).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::bounds::BODY_LIMIT;
use crate::error::{self, ApiError};
use crate::state::AppState;
use crate::{api, dashboard, idempotency, metrics, middleware};

/// The documented API routes and their OpenAPI description, before state and layers.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(api::openapi::base())
        .merge(api::workspace::routes())
        .merge(api::identify::routes())
        .merge(api::events::routes())
        .merge(api::visitors::routes())
        .merge(api::rules::routes())
        .merge(api::lists::routes())
        .merge(api::webhooks::routes())
        .merge(api::analytics::routes())
        .split_for_parts()
}

/// The whole application, ready to serve.
pub fn build(state: AppState, bench_endpoints: bool) -> Router {
    let (mut api, openapi) = api_routes();
    if bench_endpoints {
        api = api.route("/bench/bare", axum::routing::post(bare));
    }
    let openapi_json: Arc<str> = api::openapi::document(&openapi).to_string().into();
    api.route(
        "/v1/openapi.json",
        get(move || {
            let body = Arc::clone(&openapi_json);
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        }),
    )
    .merge(api::system::routes())
    .merge(dashboard::routes())
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(from_fn_with_state(state.clone(), idempotency::layer))
    .layer(from_fn_with_state(
        Arc::clone(&state.metrics),
        metrics::record,
    ))
    .layer(from_fn(middleware::declared_length_limit))
    .layer(from_fn(middleware::rate_headers))
    .layer(CatchPanicLayer::custom(error::panic_response))
    .layer(from_fn(middleware::request_id))
    .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound("No such route. See /v1/openapi.json for the API.".into())
}

async fn method_not_allowed(method: Method) -> impl IntoResponse {
    ApiError::MethodNotAllowed(method.to_string())
}

/// The benchmark baseline: reads the body like identify does (the extractor reads it whole),
/// answers a fixed identify-shaped body, and passes through every layer of the real routes.
async fn bare(_body: axum::body::Bytes) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"requestId":"req_0_000000","visitorId":"pv_0000000000000","confidence":1.0,"visitorFound":true}"#,
    )
}
