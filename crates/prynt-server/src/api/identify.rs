//! `POST /v1/identify` and the agent script, as HTTP: the media type, the body within its
//! limit, CORS for the workspace's allowed origins, and the answer with its visitor token.
//! What happens between the body and the answer is the identify pipeline's
//! ([`crate::identification`]).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::{media_type, read_body, reads_as_json};
use crate::identification::{self, Call, Identified};
use crate::middleware::{RateSlot, RequestId};
use crate::state::AppState;

/// Response header carrying the signed visitor token for the agent to keep.
pub const TOKEN_HEADER: &str = "x-prynt-visitor-token";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(identify, preflight))
        .route_layer(axum::extract::DefaultBodyLimit::max(
            crate::bounds::IDENTIFY_BODY_LIMIT,
        ))
        .routes(routes!(agent_classic))
        .routes(routes!(agent_module))
}

/// The identify answer: deliberately only these four fields, as a public key may read it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentifyResponse {
    #[schema(pattern = "^req_[0-9]{1,12}_[0-9a-f]{6}$")]
    request_id: String,
    #[schema(pattern = "^pv_[0-9A-Za-z]{13}$")]
    visitor_id: String,
    /// Estimated probability that `visitorId` is right.
    #[schema(minimum = 0, maximum = 1)]
    confidence: f64,
    /// Whether the visitor existed before this event.
    visitor_found: bool,
}

/// Identify the visiting browser.
///
/// Called by the browser agent with a public key, in the `Authorization` header or as the
/// body's `publicKey` (for calls that cannot set headers). The body may be sent as
/// `application/json` or `text/plain` (which spares the browser a CORS preflight). The answer
/// carries `X-Prynt-Visitor-Token` for the agent to keep.
#[utoipa::path(
    post, path = "/v1/identify", tag = "Identification",
    security(("bearer" = [])),
    request_body(content = ref("#/components/schemas/IdentifyRequest"), description = "The agent's payload (see the API guide); also read as JSON when sent as `text/plain`.", content_type = "application/json"),
    responses(
        (status = 200, body = IdentifyResponse, headers(
            ("X-Prynt-Visitor-Token" = String, description = "The signed visitor token for the agent to keep and send back as `token`.")
        ))
    )
)]
async fn identify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    req: Request,
) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = match run(&state, peer, request_id, req).await {
        Ok(done) => answer(done),
        Err(e) => e.into_response(),
    };
    // Errors carry CORS headers too, so a page can read why it was refused.
    cors(resp.headers_mut(), origin);
    resp
}

/// The HTTP half of identify: the media type and the body within the route's limit; the rest
/// is the pipeline's.
async fn run(
    state: &AppState,
    peer: SocketAddr,
    request_id: String,
    mut req: Request,
) -> Result<Identified, ApiError> {
    if !is_accepted_content_type(req.headers()) {
        return Err(ApiError::UnsupportedMediaType(
            "Send the payload as application/json or text/plain.".into(),
        ));
    }
    // The body's reader takes the request itself (the route's body limit rides in its
    // extensions), so the headers are moved out first rather than copied, and of the
    // extensions only the rate limiter's slot (a shared pointer) is kept.
    let headers = std::mem::take(req.headers_mut());
    let rate_slot = req.extensions().get::<RateSlot>().cloned();
    let body = read_body(req, state).await?;
    let call = Call {
        peer,
        headers: &headers,
        rate_slot: rate_slot.as_ref(),
        body: &body,
    };
    identification::identify(state, request_id, call).await
}

fn answer(done: Identified) -> Response {
    let Identified {
        request_id,
        visitor_id,
        confidence,
        visitor_found,
        token,
    } = done;
    let id = HeaderValue::from_str(&request_id).ok();
    let mut r = Json(IdentifyResponse {
        request_id,
        visitor_id,
        confidence,
        visitor_found,
    })
    .into_response();
    if let Some(id) = id {
        r.headers_mut()
            .insert(crate::middleware::X_REQUEST_ID.clone(), id);
    }
    if let Ok(v) = HeaderValue::from_str(&token) {
        r.headers_mut().insert(TOKEN_HEADER, v);
    }
    r
}

fn cors(h: &mut HeaderMap, origin: Option<HeaderValue>) {
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("X-Prynt-Visitor-Token, X-Request-Id"),
        );
    }
}

/// CORS preflight of identify. The key is not known yet, so any origin may ask; the origin is
/// checked against the workspace's list on the request itself.
#[utoipa::path(options, path = "/v1/identify", tag = "Identification", responses((status = 204)))]
async fn preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    cors(h, headers.get(header::ORIGIN).cloned());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// JSON as every endpoint reads it, and `text/plain`, which the agent's `sendBeacon` fallback
/// sends so that the browser makes no preflight.
fn is_accepted_content_type(headers: &HeaderMap) -> bool {
    reads_as_json(headers) || media_type(headers).is_some_and(|m| m == "text/plain")
}

fn script(body: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Body::from(body.to_owned()),
    )
        .into_response()
}

/// The browser agent as a classic script (sets `window.Prynt`). No key needed.
#[utoipa::path(get, path = "/v1/agent.js", tag = "Identification", responses((status = 200, content_type = "text/javascript")))]
async fn agent_classic(State(state): State<AppState>) -> Response {
    script(&state.agent.classic)
}

/// The browser agent as an ES module (`import Prynt from '…/v1/agent.mjs'`). No key needed.
#[utoipa::path(get, path = "/v1/agent.mjs", tag = "Identification", responses((status = 200, content_type = "text/javascript")))]
async fn agent_module(State(state): State<AppState>) -> Response {
    script(&state.agent.module)
}
