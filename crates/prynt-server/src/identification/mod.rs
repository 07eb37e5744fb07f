//! The identify pipeline: from the agent's payload to a durable event, a visitor ID and the
//! rules' decision, in typed stages, each a function of what the stages before it produced.
//!
//! 1. [`request`]: the payload decoded, its key authenticated and charged, its origin checked,
//!    the client's address and headers read → [`request::Admitted`].
//! 2. [`device`]: the device, its fingerprint, IP data and detection signals →
//!    [`device::Observed`].
//! 3. [`matching`]: the visitor, by signed token or matching index, or a new one →
//!    [`matching::Match`].
//! 4. [`event`]: velocity, blocklists and scores ([`event::Assessment`]), the stored event as
//!    typed values ([`event::Event`]) and the rules' facts built from them.
//! 5. [`decide`]: the environment's rules over those facts → [`crate::decide::Outcome`].
//! 6. [`record`]: one store write (event, list changes, webhook payloads), then the memory
//!    taught, and the visitor token → [`record::Recorded`].
//!
//! HTTP stays in `api::identify`: the pipeline is handed the body's bytes and the headers and
//! gives back values, never a response.

pub mod device;
pub mod event;
#[cfg(test)]
mod fuzz;
pub mod matching;
pub mod record;
pub mod request;

use prynt_core::timefmt;
use prynt_rules::facts::Facts;

use crate::decide::{Outcome, Subject};
use crate::error::ApiError;
use crate::policy::ScopePolicy;
use crate::state::AppState;

pub use request::Call;

/// An identification done: the answer's fields and the token for the agent.
pub struct Identified {
    pub request_id: String,
    pub visitor_id: String,
    pub confidence: f64,
    pub visitor_found: bool,
    pub token: String,
}

/// What the stages before the record stage produced, for it to write and learn from.
#[derive(Clone, Copy)]
pub struct Stages<'a> {
    pub admitted: &'a request::Admitted,
    pub observed: &'a device::Observed,
    pub matched: &'a matching::Match,
    pub assessment: &'a event::Assessment,
    pub policy: &'a ScopePolicy,
    pub now_ms: i64,
}

/// Runs one identification through every stage. `request_id` is the id the request-id
/// middleware gave the request; it becomes the event's.
pub async fn identify(
    state: &AppState,
    request_id: String,
    call: Call<'_>,
) -> Result<Identified, ApiError> {
    let admitted = request::admit(state, call).await?;
    let observed = device::observe(state, &admitted);
    let now_ms = timefmt::now_unix_ms();
    let matched = matching::resolve(state, &admitted, &observed, now_ms);
    let policy = state.policy.scope(&admitted.auth.scope).await?;
    let assessment = event::assess(state, &admitted, &observed, &matched, &policy, now_ms).await;
    let event = event::Event::new(
        state,
        request_id,
        &admitted,
        &observed,
        &matched,
        &assessment,
        now_ms,
    );
    // The rules read the event's own values: the facts a backtest reads back from it later.
    let facts = event.facts();
    let outcome = decide(
        &policy,
        &facts,
        &Subject {
            visitor_id: &matched.visitor_id,
            ip: &observed.client_text,
            linked_id: assessment.linked_id.as_deref(),
        },
        now_ms,
    );
    let stages = Stages {
        admitted: &admitted,
        observed: &observed,
        matched: &matched,
        assessment: &assessment,
        policy: &policy,
        now_ms,
    };
    let recorded = record::record(state, &stages, event, facts, &outcome).await?;
    Ok(Identified {
        request_id: recorded.request_id,
        visitor_id: matched.visitor_id,
        confidence: matched.confidence,
        visitor_found: matched.found,
        token: recorded.token,
    })
}

/// Stage 5, decision: the environment's rules evaluated over the event's facts, and what the
/// deciding rule's side effects and the monitors' matches mean for this event.
pub fn decide(policy: &ScopePolicy, facts: &Facts, subject: &Subject<'_>, now_ms: i64) -> Outcome {
    let rules = policy.rules();
    let lists = policy.lists.read();
    let decision = rules.evaluate(facts, &*lists, now_ms / 1000);
    crate::decide::outcome(&decision, &lists, subject, now_ms)
}

#[cfg(test)]
mod tests {
    use prynt_rules::condition::{parse_action, parse_conditions, Verdict};
    use prynt_rules::eval::{compile, CompiledRule, Status};
    use prynt_rules::facts::Value;
    use prynt_rules::fields::lookup;
    use prynt_store::{ListEffect, ListRecord};
    use serde_json::json;

    use super::*;
    use crate::policy::Lists;

    fn rule(
        id: &str,
        status: Status,
        conditions: serde_json::Value,
        action: serde_json::Value,
        lists: &Lists,
    ) -> CompiledRule {
        CompiledRule {
            id: id.into(),
            name: format!("rule {id}"),
            version: 1,
            priority: 0,
            created_ms: 0,
            status,
            condition: compile(&parse_conditions(&conditions, "conditions", lists).unwrap()),
            action: parse_action(&action, "action", lists).unwrap(),
        }
    }

    fn lists() -> Lists {
        let mut lists = Lists::default();
        let record = ListRecord {
            id: "lst_1".into(),
            name: "seen-bots".into(),
            list_type: "ip".into(),
            description: None,
            ttl_s: Some(3_600),
            purpose: None,
            entry_count: 0,
            created_ms: 0,
            updated_ms: 0,
        };
        lists.insert(&record, &[]);
        lists
    }

    fn facts(bot: bool) -> Facts {
        let mut f = Facts::new();
        let set = |f: &mut Facts, p: &str, v| f.set(lookup(p).unwrap(), v);
        set(&mut f, "signals.bot.detected", Value::Bool(bot));
        set(&mut f, "ip.address", Value::Str("203.0.xxx.xxx".into()));
        f
    }

    #[test]
    fn the_decision_stage_applies_the_deciding_rule_and_reports_monitors() {
        let lists = lists();
        let bots = json!({"operator": "AND", "rules": [{"field": "signals.bot.detected", "operator": "equals", "value": true}]});
        let rules = vec![
            rule(
                "rule_block",
                Status::Live,
                bots.clone(),
                json!({"verdict": "block", "sideEffects": [
                    {"type": "tag", "key": "risk", "value": "bot"},
                    {"type": "addToList", "list": "seen-bots"}
                ]}),
                &lists,
            ),
            rule(
                "rule_watch",
                Status::Monitor,
                bots,
                json!({"verdict": "challenge"}),
                &lists,
            ),
        ];
        let policy = ScopePolicy::of(rules, lists);
        let subject = Subject {
            visitor_id: "pv_a1B2c3D4e5F6g",
            ip: "203.0.113.7",
            linked_id: None,
        };
        let now_ms = 1_714_000_000_000;
        let out = decide(&policy, &facts(true), &subject, now_ms);
        assert_eq!(out.verdict, Some(Verdict::Block));
        assert_eq!(
            out.matched.as_ref().map(|r| r.id.as_str()),
            Some("rule_block")
        );
        assert_eq!(out.monitors.len(), 1);
        assert_eq!(out.rule_matches, ["rule_block", "rule_watch"]);
        assert_eq!(out.tags.get("risk"), Some(&json!("bot")));
        // The list gets the client's own address, not the masked one the event shows.
        assert!(matches!(
            &out.effects[..],
            [ListEffect::Add { list_id, value, expires_s: Some(e) }]
                if list_id == "lst_1" && value == "203.0.113.7" && *e == now_ms / 1000 + 3_600
        ));

        let quiet = decide(&policy, &facts(false), &subject, now_ms);
        assert_eq!(
            quiet.verdict,
            Some(Verdict::Allow),
            "with a live rule in place, no match is an allow"
        );
        assert!(quiet.matched.is_none() && quiet.monitors.is_empty() && quiet.effects.is_empty());
    }
}
