//! Stage 1, the request: the agent's payload decoded, its key authenticated and charged to
//! the workspace's identify budget, its origin checked against the workspace's list, the
//! payload validated, and the client's address and request headers read into typed values.
//! Errors come in the order an agent sees them: body, key, rate limit, origin, payload.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};
use prynt_core::agent::IdentifyRequest;
use prynt_core::scope::EnvSettings;
use prynt_signals::detect::RequestFacts;

use crate::error::ApiError;
use crate::extract::{authenticate, authenticate_key, failed_auth, parse_json, spend, AuthContext};
use crate::middleware::RateSlot;
use crate::state::AppState;

/// What the HTTP handler hands the pipeline: the body as read within the route's limit and
/// the request's headers, with nothing of HTTP left to do.
pub struct Call<'a> {
    pub peer: SocketAddr,
    pub headers: &'a HeaderMap,
    /// Where the rate limiter leaves the budget's state for the response headers.
    pub rate_slot: Option<&'a RateSlot>,
    pub body: &'a [u8],
}

/// An admitted identification: who calls, for which environment, from where, with what.
pub struct Admitted {
    pub payload: IdentifyRequest,
    pub auth: AuthContext,
    pub settings: EnvSettings,
    /// The client's address, through trusted proxies.
    pub client: IpAddr,
    /// What the request's own headers say about the client.
    pub request: RequestFacts,
}

/// Decodes, authenticates, charges and checks one call.
pub async fn admit(state: &AppState, call: Call<'_>) -> Result<Admitted, ApiError> {
    let Call {
        peer,
        headers,
        rate_slot,
        body,
    } = call;
    let payload: IdentifyRequest = parse_json(body)?;

    // The key comes from the header, or from the body for header-less calls.
    let auth = if headers.contains_key(header::AUTHORIZATION) {
        authenticate(headers, state).await
    } else {
        let key = payload
            .public_key
            .as_deref()
            .ok_or(ApiError::MissingApiKey)?;
        authenticate_key(key, state).await
    };
    let auth = auth.map_err(|e| {
        let client = crate::client_ip::resolve(peer.ip(), headers, &state.trusted_proxies);
        failed_auth(state, Some(client), rate_slot, e)
    })?;
    spend(
        state,
        rate_slot,
        &auth.scope.workspace_id,
        crate::limits::Class::Identify,
        &auth,
    )
    .await?;
    let settings = state
        .cache
        .settings(&auth.scope, || state.store.env_settings(&auth.scope))
        .await?;
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !settings.allowed_origins.is_empty() {
            let o = origin.to_str().unwrap_or("");
            let allowed = crate::origin::normalise_origin(o)
                .is_some_and(|n| settings.allowed_origins.contains(&n));
            if !allowed {
                return Err(ApiError::OriginNotAllowed(o.to_owned()));
            }
        }
    }
    payload
        .validate()
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    Ok(Admitted {
        payload,
        auth,
        settings,
        client: crate::client_ip::resolve(peer.ip(), headers, &state.trusted_proxies),
        request: request_facts(headers),
    })
}

/// What the request's headers say about the client, for the bot checks.
pub fn request_facts(headers: &HeaderMap) -> RequestFacts {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestFacts {
        user_agent: text(header::USER_AGENT.as_str()),
        // Fetch libraries send `Sec-Fetch-Mode` too; only browsers also name the site and the
        // destination.
        sec_fetch: headers.contains_key("sec-fetch-site") && headers.contains_key("sec-fetch-dest"),
        client_hint_platform: text("sec-ch-ua-platform"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_facts_read_the_browser_headers() {
        let mut h = HeaderMap::new();
        let f = request_facts(&h);
        assert!(f.user_agent.is_none() && !f.sec_fetch && f.client_hint_platform.is_none());
        h.insert(header::USER_AGENT, "Mozilla/5.0".parse().unwrap());
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        h.insert("sec-ch-ua-platform", "\"macOS\"".parse().unwrap());
        let f = request_facts(&h);
        assert_eq!(f.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert!(
            !f.sec_fetch,
            "a fetch library sends the site but not the destination"
        );
        assert_eq!(f.client_hint_platform.as_deref(), Some("\"macOS\""));
        h.insert("sec-fetch-dest", "empty".parse().unwrap());
        assert!(request_facts(&h).sec_fetch);
    }
}
