//! Stage 3, match: which visitor this is. A signed token the agent kept names its visitor when
//! it is valid for this environment and the fingerprint has not drifted too far; otherwise the
//! environment's matching index compares the fingerprint with the known browsers; failing
//! both, the visitor is new and gets a fresh ID. Nothing is learnt here: the index is taught
//! only once the event is durable ([`super::record`]).

use std::sync::Arc;

use parking_lot::RwLock;
use prynt_core::ids;
use prynt_identify::token;
use prynt_identify::{Index, Method};

use super::device::Observed;
use super::request::Admitted;
use crate::state::AppState;

/// The visitor this identification is about.
pub struct Match {
    /// The environment's index, to teach once the event is stored.
    pub index: Arc<RwLock<Index>>,
    pub visitor_id: String,
    /// Whether the visitor existed before this event.
    pub found: bool,
    /// Probability that `visitor_id` is right, to four decimals.
    pub confidence: f64,
    /// How the visit was identified: the event's `identifiedBy`.
    pub method: Method,
}

pub fn resolve(state: &AppState, admitted: &Admitted, observed: &Observed, now_ms: i64) -> Match {
    let scope = &admitted.auth.scope;
    let index = state.identity.index(scope);
    let claim = admitted
        .payload
        .token
        .as_deref()
        .and_then(|t| token::verify(&state.identity.token_key, t, now_ms / 1000))
        .filter(|c| c.w == scope.workspace_id && c.e == scope.env.as_str());
    let decision = index.read().decide(
        &observed.fingerprint,
        claim.as_ref().map(|c| c.v.as_str()),
        now_ms,
    );
    Match {
        index,
        found: decision.visitor_id.is_some(),
        visitor_id: decision.visitor_id.unwrap_or_else(ids::visitor_id),
        confidence: round4(decision.confidence),
        method: decision.method,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn confidence_keeps_four_decimals() {
        assert_eq!(super::round4(0.987_65), 0.9877);
        assert_eq!(super::round4(1.0), 1.0);
    }
}
