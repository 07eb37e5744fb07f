//! Stage 6, record: the event, its decision's list changes and its webhook payloads written in
//! one store write (which the store commits in groups with other identifications), then, and
//! only then, the memory taught: the matching index, the velocity counts, the lists and the
//! backtest table. A durable event is the only thing that may teach them, so a failed write
//! leaves no trace. Last, the visitor token the agent keeps.

use prynt_identify::token::{self, Claims};
use prynt_identify::Method;
use prynt_rules::facts::Facts;
use prynt_store::{NewIdentification, StoreError};

use super::event::{observation, Event, Stored};
use super::Stages;
use crate::decide::Outcome;
use crate::error::ApiError;
use crate::state::AppState;

/// How many times a request id that another node handed out this same second is replaced.
const FRESH_ID_ATTEMPTS: u32 = 3;

/// What the record stage leaves for the answer.
pub struct Recorded {
    /// The event's id: the request's, unless it had to be replaced.
    pub request_id: String,
    /// The signed visitor token for the agent to keep.
    pub token: String,
}

pub async fn record(
    state: &AppState,
    stages: &Stages<'_>,
    mut event: Event<'_>,
    facts: Facts,
    outcome: &Outcome,
) -> Result<Recorded, ApiError> {
    let Stages {
        admitted,
        observed,
        matched,
        assessment,
        policy,
        now_ms,
    } = *stages;
    let scope = &admitted.auth.scope;
    let bot = observed.signals.bot.detected;
    // The visitor's profile carries its network history on, so that a restart or another node
    // knows the network it was on before this one; the index is taught the same profile.
    let fingerprint = matched
        .index
        .read()
        .profile(&matched.visitor_id, &observed.fingerprint);
    let profile = fingerprint.to_bytes();
    // The store takes the record by value; the clones below are what a retry with a fresh
    // request id needs, as they were before the pipeline had stages.
    for attempt in 0.. {
        let body = Stored {
            event: &event,
            decision: outcome,
        }
        .to_json()?;
        let record = NewIdentification {
            scope: scope.clone(),
            request_id: event.request_id.clone(),
            visitor_id: matched.visitor_id.clone(),
            ts_ms: now_ms,
            profile: profile.clone(),
            matched: matched.method == Method::Fingerprint,
            linked_id: assessment.linked_id.clone(),
            verdict: outcome.verdict.map(|v| v.as_str().to_owned()),
            bot: Some(bot),
            event_type: event.event_type.clone(),
            country: event.ip.country.map(str::to_owned),
            ip: Some(event.ip.address.to_owned()),
            body,
            list_effects: outcome.effects.clone(),
            rule_matches: outcome.rule_matches.clone(),
            outbox: outcome.outbox(policy, &event.request_id, &matched.visitor_id, bot, now_ms),
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
            // Another node may have handed out the same request id this second.
            Err(StoreError::DuplicateId) if attempt < FRESH_ID_ATTEMPTS => {
                event.request_id = prynt_core::ids::request_id(now_ms / 1000);
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Only a durable visit may teach the index, the counters and the lists.
    matched
        .index
        .write()
        .upsert(&matched.visitor_id, &fingerprint, now_ms, matched.method);
    state
        .risk
        .record(
            scope,
            &observation(observed, matched, assessment.linked_id.as_deref(), now_ms),
            &event.request_id,
        )
        .await;
    outcome.apply_to_memory(policy);
    let request_id = event.request_id;
    policy.observe(now_ms, &request_id, outcome.verdict, facts);
    let token = token::sign(
        &state.identity.token_key,
        &Claims {
            w: scope.workspace_id.clone(),
            e: scope.env.as_str().to_owned(),
            v: matched.visitor_id.clone(),
            t: now_ms / 1000,
        },
    );
    Ok(Recorded { request_id, token })
}
