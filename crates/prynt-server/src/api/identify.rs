//! `POST /v1/identify` and the agent script: from the agent's measurements to a durable event
//! and a visitor ID, with CORS for the workspace's allowed origins.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use prynt_core::agent::IdentifyRequest;
use prynt_core::{ids, timefmt};
use prynt_identify::token::{self, Claims};
use prynt_identify::{BrowserKind, Fingerprint};
use prynt_rules::facts::Facts;
use prynt_signals::detect::{self, RequestFacts};
use prynt_signals::ip::{IpInfo, IpIntel};
use prynt_signals::ranges::RangeKind;
use prynt_signals::velocity::Observation;
use prynt_store::NewIdentification;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::{
    authenticate, authenticate_key, media_type, parse_json, read_body, reads_as_json,
};
use crate::middleware::RequestId;
use crate::state::AppState;

/// Response header carrying the signed visitor token for the agent to keep.
pub const TOKEN_HEADER: &str = "x-prynt-visitor-token";

static AGENT_SOURCE: &str = include_str!("../../../../agent/prynt.js");

/// The agent, wrapped once at start-up for both ways a page can load it.
#[derive(Debug)]
pub struct AgentScripts {
    pub classic: String,
    pub module: String,
}

impl AgentScripts {
    pub fn build() -> Self {
        AgentScripts {
            classic: format!(
                "(function(){{\"use strict\";\n{AGENT_SOURCE}\nwindow.Prynt = Prynt;}})();\n"
            ),
            module: format!("{AGENT_SOURCE}\nexport {{ Prynt }};\nexport default Prynt;\n"),
        }
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(identify, preflight))
        .route_layer(axum::extract::DefaultBodyLimit::max(
            crate::app::IDENTIFY_BODY_LIMIT,
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
    let outcome = run_identify(&state, peer, request_id, req).await;
    let mut resp = match outcome {
        Ok((body, token)) => {
            let id = HeaderValue::from_str(&body.request_id).ok();
            let mut r = Json(body).into_response();
            if let Some(id) = id {
                r.headers_mut()
                    .insert(crate::middleware::X_REQUEST_ID.clone(), id);
            }
            if let Ok(v) = HeaderValue::from_str(&token) {
                r.headers_mut().insert(TOKEN_HEADER, v);
            }
            r
        }
        Err(e) => e.into_response(),
    };
    // Errors carry CORS headers too, so a page can read why it was refused.
    cors(resp.headers_mut(), origin);
    resp
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

/// The event's `ip` object. A field whose source is not loaded is `null`, not a guess.
/// `73.162.xxx.xxx`; IPv6 keeps its first three groups (the routing prefix).
fn mask(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.xxx.xxx", o[0], o[1])
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:xxxx:xxxx:xxxx:xxxx:xxxx", s[0], s[1], s[2])
        }
    }
}

/// The event's `ip` object. A field whose source is not loaded is `null`, not a guess.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpView<'a> {
    address: String,
    city: Option<&'a str>,
    country: Option<&'a str>,
    lat: Option<f64>,
    lng: Option<f64>,
    timezone: Option<&'a str>,
    asn: Option<u32>,
    asn_name: Option<&'a str>,
    datacenter: Option<bool>,
    blocklisted: Option<bool>,
}

/// `blocklisted` is `null` when neither range feeds nor workspace blocklists exist.
fn ip_view<'a>(
    intel: &IpIntel,
    address: String,
    info: &'a IpInfo,
    blocklisted: Option<bool>,
) -> IpView<'a> {
    let loc = info.location.as_ref();
    let known_networks = intel.has_asn() || intel.has_ranges();
    IpView {
        address,
        city: loc.and_then(|l| l.city.as_deref()),
        country: loc.and_then(|l| l.country.as_deref()),
        lat: loc.and_then(|l| l.lat),
        lng: loc.and_then(|l| l.lng),
        timezone: loc.and_then(|l| l.timezone.as_deref()),
        asn: info.asn.as_ref().map(|a| a.asn),
        asn_name: info.asn.as_ref().map(|a| a.name.as_str()),
        datacenter: known_networks.then_some(info.datacenter),
        blocklisted,
    }
}

#[derive(Serialize)]
struct ScreenView {
    w: u32,
    h: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceView<'a> {
    platform: &'a str,
    browser: String,
    gpu: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    screen: Option<ScreenView>,
    model: Option<&'a str>,
    user_agent: Option<&'a str>,
}

/// The stored event, serialised straight to text: the reference's shape; the rules' decision
/// is appended after evaluation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventBody<'a> {
    request_id: String,
    visitor_id: &'a str,
    confidence: f64,
    visitor_found: bool,
    /// Filled in from the visitor's record when the event is read.
    first_seen_at: Option<()>,
    timestamp: String,
    #[serde(rename = "type")]
    event_type: Option<String>,
    linked_id: Option<&'a str>,
    tag: Option<&'a serde_json::Value>,
    url: Option<String>,
    identified_by: &'a str,
    device: DeviceView<'a>,
    signals: &'a detect::Signals,
    scores: &'a prynt_signals::scores::Scores,
    velocity: &'a prynt_signals::velocity::Features,
    ip: IpView<'a>,
    // The rules' decision (`verdict`, `matchedRule`, `monitorMatches`, `tags`) is appended to
    // the serialised text once the event's facts are known.
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

async fn run_identify(
    state: &AppState,
    peer: SocketAddr,
    request_id: String,
    req: Request,
) -> Result<(IdentifyResponse, String), ApiError> {
    let headers = req.headers().clone();
    let extensions = req.extensions().clone();
    if !is_accepted_content_type(&headers) {
        return Err(ApiError::UnsupportedMediaType(
            "Send the payload as application/json or text/plain.".into(),
        ));
    }
    let bytes = read_body(req, state).await?;
    let payload: IdentifyRequest = parse_json(&bytes)?;

    // The key comes from the header, or from the body for header-less calls.
    let ctx = if headers.contains_key(header::AUTHORIZATION) {
        authenticate(&headers, state).await?
    } else {
        let key = payload
            .public_key
            .as_deref()
            .ok_or(ApiError::MissingApiKey)?;
        authenticate_key(key, state).await?
    };
    crate::extract::spend(
        state,
        &extensions,
        &ctx.scope.workspace_id,
        crate::limits::Class::Identify,
        &ctx,
    )?;
    let settings = state
        .cache
        .settings(&ctx.scope, || state.store.env_settings(&ctx.scope))
        .await?;
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !settings.allowed_origins.is_empty() {
            let o = origin.to_str().unwrap_or("");
            let allowed = crate::api::workspace::normalise_origin(o)
                .is_some_and(|n| settings.allowed_origins.contains(&n));
            if !allowed {
                return Err(ApiError::OriginNotAllowed(o.to_owned()));
            }
        }
    }
    payload
        .validate()
        .map_err(|e| ApiError::validation(e.field, e.message))?;

    let device = state.identity.parser.describe(&payload.components);
    let kind = BrowserKind {
        os: &device.platform,
        family: &device.browser_family,
        major: device.browser_major,
    };
    let fp = Fingerprint::from_components(&payload.components, &kind);
    let now_ms = timefmt::now_unix_ms();
    let index = state.identity.index(&ctx.scope);

    let token_claim = payload
        .token
        .as_deref()
        .and_then(|t| token::verify(&state.identity.token_key, t, now_ms / 1000))
        .filter(|c| c.w == ctx.scope.workspace_id && c.e == ctx.scope.env.as_str());
    let decision = index
        .read()
        .decide(&fp, token_claim.as_ref().map(|c| c.v.as_str()), now_ms);
    let found = decision.visitor_id.is_some();
    let visitor_id = decision.visitor_id.unwrap_or_else(ids::visitor_id);
    let (confidence, method) = (decision.confidence, decision.method.as_str());
    let confidence = (confidence * 10_000.0).round() / 10_000.0;
    let linked_id = clean(payload.linked_id);
    let client = crate::client_ip::resolve(peer.ip(), &headers, &state.trusted_proxies);
    let ip_info = state.ip_intel.lookup(client);
    let request_facts = RequestFacts {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        // Fetch libraries send `Sec-Fetch-Mode` too; only browsers also name the site and the
        // destination.
        sec_fetch: headers.contains_key("sec-fetch-site") && headers.contains_key("sec-fetch-dest"),
        client_hint_platform: headers
            .get("sec-ch-ua-platform")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let signals = detect::detect(&detect::Input {
        components: &payload.components,
        device: &device,
        ip: &ip_info,
        request: &request_facts,
    });
    let bot = signals.bot.detected;
    let client_text = client.to_string();
    let location = ip_info.location.as_ref();
    let observation = Observation {
        visitor_id: &visitor_id,
        ip: &client_text,
        country: location.and_then(|l| l.country.as_deref()),
        linked_id: linked_id.as_deref(),
        location: location.and_then(|l| Some((l.lat?, l.lng?))),
        ts_s: now_ms / 1000,
    };
    let velocity = state.risk.features(&ctx.scope, &observation);
    let policy = state.policy.scope(&ctx.scope).await?;
    let now_s = now_ms / 1000;
    let (listed, has_blocklists) = {
        let lists = policy.lists.read();
        (
            lists.ip_blocklisted(&client_text, now_s),
            lists.has_ip_blocklists(),
        )
    };
    let blocklisted = (state.ip_intel.has_ranges() && ip_info.has(RangeKind::Abuse)) || listed;
    let scores = prynt_signals::scores::score(
        &signals,
        blocklisted,
        ip_info.datacenter,
        &velocity,
        &settings.suspect_weights,
    );
    let address = if settings.mask_ip {
        mask(client)
    } else {
        client_text.clone()
    };
    let ip = ip_view(
        &state.ip_intel,
        address,
        &ip_info,
        (state.ip_intel.has_ranges() || has_blocklists).then_some(blocklisted),
    );
    let mut body = EventBody {
        request_id,
        visitor_id: &visitor_id,
        confidence,
        visitor_found: found,
        first_seen_at: None,
        timestamp: timefmt::rfc3339(now_ms / 1000),
        event_type: clean(payload.event_type),
        linked_id: linked_id.as_deref(),
        tag: payload.tag.as_ref(),
        url: clean(payload.url),
        identified_by: method,
        device: DeviceView {
            platform: &device.platform,
            browser: device.browser(),
            gpu: device.gpu.as_deref(),
            kind: device.device_type.as_str(),
            screen: device.screen.map(|(w, h)| ScreenView { w, h }),
            model: device.model.as_deref(),
            user_agent: payload.components.user_agent.as_deref(),
        },
        signals: &signals,
        scores: &scores,
        velocity: &velocity,
        ip,
    };
    let serialise = |body: &EventBody<'_>| {
        serde_json::to_string(body)
            .map_err(|e| ApiError::Internal(format!("cannot serialise the event: {e}")))
    };
    let mut text = serialise(&body)?;
    // The rules read the event as it is stored: the same facts a backtest reads later.
    let facts = Facts::from_json(&text)
        .map_err(|e| ApiError::Internal(format!("cannot read the event's facts: {e}")))?;
    let rules = policy.rules();
    let outcome = {
        let lists = policy.lists.read();
        let decision = rules.evaluate(&facts, &*lists, now_s);
        crate::decide::outcome(
            &decision,
            &lists,
            &crate::decide::Subject {
                visitor_id: &visitor_id,
                ip: &client_text,
                linked_id: linked_id.as_deref(),
            },
            now_ms,
        )
    };
    let decision = outcome.json_fields();
    let profile = fp.to_bytes();
    // Another node may have handed out the same request id this second: take a fresh one.
    for attempt in 0.. {
        let record = NewIdentification {
            scope: ctx.scope.clone(),
            request_id: body.request_id.clone(),
            visitor_id: visitor_id.clone(),
            ts_ms: now_ms,
            profile: profile.clone(),
            linked_id: linked_id.clone(),
            verdict: outcome.verdict.map(|v| v.as_str().to_owned()),
            bot: Some(bot),
            event_type: body.event_type.clone(),
            country: body.ip.country.map(str::to_owned),
            ip: Some(body.ip.address.clone()),
            body: crate::decide::with_fields(&text, &decision),
            list_effects: outcome.effects.clone(),
            rule_matches: outcome.rule_matches.clone(),
            outbox: outcome.outbox(&policy, &body.request_id, &visitor_id, bot, now_ms),
        };
        let queued = !record.outbox.is_empty();
        match state.store.record_identification(record).await {
            Ok(()) => {
                state
                    .identified
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if queued {
                    state.delivery_wake.notify_one();
                }
                break;
            }
            Err(prynt_store::StoreError::DuplicateId) if attempt < 3 => {
                body.request_id = ids::request_id(now_ms / 1000);
                text = serialise(&body)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Only a durable visit may teach the index, the counters and the lists.
    index.write().upsert(&visitor_id, &fp, now_ms);
    state.risk.record(&ctx.scope, &observation);
    outcome.apply_to_memory(&policy);
    let request_id = body.request_id;
    policy.observe(now_ms, &request_id, outcome.verdict, facts);

    let token = token::sign(
        &state.identity.token_key,
        &Claims {
            w: ctx.scope.workspace_id.clone(),
            e: ctx.scope.env.as_str().to_owned(),
            v: visitor_id.clone(),
            t: now_ms / 1000,
        },
    );
    Ok((
        IdentifyResponse {
            request_id,
            visitor_id,
            confidence,
            visitor_found: found,
        },
        token,
    ))
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
