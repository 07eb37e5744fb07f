//! The new state of a record from its current state and a change, computed above SQL so that
//! every backend versions rules, merges partial updates and moves deliveries and idempotency
//! claims the same way. A backend reads the current row, calls one of these functions and
//! writes the result, all inside one transaction.

use crate::{
    DeliveryNext, IdempotencyClaim, ListRecord, NewList, NewRule, RuleChange, RuleRecord,
    RuleVersion, StoredResponse, WebhookChange, WebhookRecord,
};

/// The priority a new rule without one takes: one after the scope's highest (`None` when the
/// scope has no rule), so it is evaluated last.
pub fn next_priority(highest: Option<i64>) -> i64 {
    highest.unwrap_or(0).saturating_add(1)
}

/// A new rule's record: version 1, created and updated at `now_ms`, never matched.
pub fn new_rule_record(rule: NewRule, priority: i64, now_ms: i64) -> RuleRecord {
    RuleRecord {
        id: rule.id,
        name: rule.name,
        status: rule.status,
        priority,
        conditions: rule.conditions,
        action: rule.action,
        version: 1,
        created_ms: now_ms,
        updated_ms: now_ms,
        match_count: 0,
        last_match_ms: None,
    }
}

/// A rule after `change`: the parts it names replaced, the next version number, and an update
/// time that never goes back (two nodes' clocks may disagree by a little, and a version must
/// never predate the one before). Match statistics are kept.
pub fn apply_rule_change(current: &RuleRecord, change: RuleChange, now_ms: i64) -> RuleRecord {
    RuleRecord {
        id: current.id.clone(),
        name: change.name.unwrap_or_else(|| current.name.clone()),
        status: change.status.unwrap_or_else(|| current.status.clone()),
        priority: change.priority.unwrap_or(current.priority),
        conditions: change
            .conditions
            .unwrap_or_else(|| current.conditions.clone()),
        action: change.action.unwrap_or_else(|| current.action.clone()),
        version: current.version + 1,
        created_ms: current.created_ms,
        updated_ms: now_ms.max(current.updated_ms),
        match_count: current.match_count,
        last_match_ms: current.last_match_ms,
    }
}

/// The immutable version row a rule record writes: what the rule is from its update on.
pub fn rule_version(rule: &RuleRecord) -> RuleVersion {
    RuleVersion {
        version: rule.version,
        name: rule.name.clone(),
        status: rule.status.clone(),
        priority: rule.priority,
        conditions: rule.conditions.clone(),
        action: rule.action.clone(),
        created_ms: rule.updated_ms,
    }
}

/// A new list's record: no entries yet, created and updated at `now_ms`.
pub fn new_list_record(list: NewList, now_ms: i64) -> ListRecord {
    ListRecord {
        id: list.id,
        name: list.name,
        list_type: list.list_type,
        description: list.description,
        ttl_s: list.ttl_s,
        purpose: list.purpose,
        entry_count: 0,
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}

/// Whether a list entry still counts at `now_s` (Unix seconds): it has no expiry, or its
/// expiry is later.
pub fn entry_is_live(expires_s: Option<i64>, now_s: i64) -> bool {
    expires_s.is_none_or(|e| e > now_s)
}

/// A webhook after `change`: the parts it names replaced; a rotation makes the new secret
/// current and keeps the old one signing until the given time. The figures derived from
/// attempts (success rate, last delivery) are the caller's to refresh.
pub fn apply_webhook_change(
    current: &WebhookRecord,
    change: WebhookChange,
    now_ms: i64,
) -> WebhookRecord {
    let mut next = current.clone();
    if let Some(v) = change.url {
        next.url = v;
    }
    if let Some(v) = change.description {
        next.description = v;
    }
    if let Some(v) = change.events {
        next.events = v;
    }
    if let Some(v) = change.filters {
        next.filters = v;
    }
    if let Some(v) = change.status {
        next.status = v;
    }
    if let Some((new, old, until)) = change.rotate {
        next.secret = new;
        next.old_secret = Some(old);
        next.old_secret_until_ms = Some(until);
    }
    next.updated_ms = now_ms;
    next
}

/// A delivery's state after an attempt at `at_ms`: its status and when it is next due. A
/// delivery cancelled meanwhile (its webhook deleted) stays cancelled.
pub fn delivery_after_attempt(
    current_status: &str,
    next: DeliveryNext,
    at_ms: i64,
) -> DeliveryState {
    let (status, next_attempt_ms) = match next {
        DeliveryNext::Succeeded => ("succeeded", at_ms),
        DeliveryNext::RetryAt(t) => ("pending", t),
        DeliveryNext::Failed => ("failed", at_ms),
    };
    DeliveryState {
        status: if current_status == "cancelled" {
            "cancelled"
        } else {
            status
        },
        next_attempt_ms,
    }
}

/// See [`delivery_after_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryState {
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: &'static str,
    pub next_attempt_ms: i64,
}

/// A stored `Idempotency-Key` claim as [`decide_idempotency_claim`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClaim {
    pub request_hash: Vec<u8>,
    pub created_ms: i64,
    /// The kept answer, once the request was answered.
    pub response: Option<StoredResponse>,
}

/// What a claim of an `Idempotency-Key` finds, given the stored claim of the same owner and
/// key (if any). `Claimed` means the caller must now (in the same transaction) store a fresh,
/// unanswered claim for `request_hash` at `now_ms`, replacing any old one.
pub fn decide_idempotency_claim(
    stored: Option<StoredClaim>,
    request_hash: &[u8; 32],
    now_ms: i64,
    ttl_ms: i64,
    stale_ms: i64,
) -> IdempotencyClaim {
    let Some(stored) = stored else {
        return IdempotencyClaim::Claimed;
    };
    if stored.created_ms <= now_ms - ttl_ms {
        return IdempotencyClaim::Claimed;
    }
    if stored.request_hash.as_slice() != request_hash.as_slice() {
        return IdempotencyClaim::Mismatch;
    }
    match stored.response {
        Some(response) => IdempotencyClaim::Replay(response),
        None if stored.created_ms <= now_ms - stale_ms => IdempotencyClaim::Claimed,
        None => IdempotencyClaim::InFlight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_core::{Environment, Scope};

    fn rule() -> RuleRecord {
        new_rule_record(
            NewRule {
                id: "rul_000000000001".into(),
                name: "first".into(),
                status: "draft".into(),
                priority: None,
                conditions: "{}".into(),
                action: r#"{"verdict":"block"}"#.into(),
            },
            next_priority(Some(4)),
            1_000,
        )
    }

    #[test]
    fn a_new_rule_is_version_one_after_the_highest_priority() {
        let r = rule();
        assert_eq!(
            (r.version, r.priority, r.created_ms, r.updated_ms),
            (1, 5, 1_000, 1_000)
        );
        assert_eq!(next_priority(None), 1);
        assert_eq!(next_priority(Some(i64::MAX)), i64::MAX);
        assert_eq!(rule_version(&r).created_ms, 1_000);
    }

    #[test]
    fn a_rule_change_replaces_only_what_it_names_and_bumps_the_version() {
        let mut current = rule();
        current.match_count = 7;
        current.last_match_ms = Some(1_500);
        let next = apply_rule_change(
            &current,
            RuleChange {
                status: Some("live".into()),
                priority: Some(2),
                ..Default::default()
            },
            2_000,
        );
        assert_eq!(next.name, "first");
        assert_eq!(next.status, "live");
        assert_eq!(next.priority, 2);
        assert_eq!(next.conditions, current.conditions);
        assert_eq!(next.action, current.action);
        assert_eq!(
            (next.version, next.created_ms, next.updated_ms),
            (2, 1_000, 2_000)
        );
        assert_eq!((next.match_count, next.last_match_ms), (7, Some(1_500)));
        let v = rule_version(&next);
        assert_eq!(
            (v.version, v.status.as_str(), v.created_ms),
            (2, "live", 2_000)
        );
    }

    #[test]
    fn a_rule_update_time_never_goes_back() {
        let current = rule();
        let next = apply_rule_change(&current, RuleChange::default(), 10);
        assert_eq!((next.version, next.updated_ms), (2, 1_000));
    }

    fn webhook() -> WebhookRecord {
        WebhookRecord {
            id: "wh_1".into(),
            scope: Scope {
                workspace_id: "ws_1".into(),
                env: Environment::Test,
            },
            url: "https://a.example/hook".into(),
            description: Some("old".into()),
            events: r#"["identification"]"#.into(),
            filters: "{}".into(),
            status: "active".into(),
            secret: "s1".into(),
            old_secret: None,
            old_secret_until_ms: None,
            created_ms: 1,
            updated_ms: 1,
            success_rate: Some(0.5),
            last_delivery_ms: Some(9),
        }
    }

    #[test]
    fn a_webhook_change_merges_and_can_clear_the_description() {
        let next = apply_webhook_change(
            &webhook(),
            WebhookChange {
                description: Some(None),
                status: Some("paused".into()),
                ..Default::default()
            },
            50,
        );
        assert_eq!(next.description, None);
        assert_eq!(next.status, "paused");
        assert_eq!(next.url, "https://a.example/hook");
        assert_eq!(next.updated_ms, 50);
        assert_eq!(next.success_rate, Some(0.5));
        let kept = apply_webhook_change(&webhook(), WebhookChange::default(), 60);
        assert_eq!(kept.description.as_deref(), Some("old"));
    }

    #[test]
    fn a_rotation_keeps_the_old_secret_signing_for_a_while() {
        let next = apply_webhook_change(
            &webhook(),
            WebhookChange {
                rotate: Some(("s2".into(), "s1".into(), 99)),
                ..Default::default()
            },
            50,
        );
        assert_eq!(next.secret, "s2");
        assert_eq!(next.old_secret.as_deref(), Some("s1"));
        assert_eq!(next.old_secret_until_ms, Some(99));
    }

    #[test]
    fn list_records_start_empty_and_entries_expire_after_their_second() {
        let l = new_list_record(
            NewList {
                id: "lst_1".into(),
                name: "n".into(),
                list_type: "ip".into(),
                description: None,
                ttl_s: Some(60),
                purpose: None,
            },
            7,
        );
        assert_eq!((l.entry_count, l.created_ms, l.updated_ms), (0, 7, 7));
        assert!(entry_is_live(None, 100));
        assert!(entry_is_live(Some(101), 100));
        assert!(!entry_is_live(Some(100), 100));
    }

    #[test]
    fn deliveries_move_by_the_attempt_outcome_unless_cancelled() {
        let at = |s, n| delivery_after_attempt(s, n, 10);
        assert_eq!(at("pending", DeliveryNext::Succeeded).status, "succeeded");
        assert_eq!(
            at("pending", DeliveryNext::RetryAt(99)),
            DeliveryState {
                status: "pending",
                next_attempt_ms: 99
            }
        );
        assert_eq!(at("pending", DeliveryNext::Failed).status, "failed");
        assert_eq!(at("cancelled", DeliveryNext::Succeeded).status, "cancelled");
    }

    #[test]
    fn idempotency_claims_replay_refuse_wait_or_take_over() {
        let hash = [1u8; 32];
        let stored = |created_ms, response: Option<StoredResponse>| {
            Some(StoredClaim {
                request_hash: hash.to_vec(),
                created_ms,
                response,
            })
        };
        let decide = |s| decide_idempotency_claim(s, &hash, 1_000, 500, 100);
        assert_eq!(decide(None), IdempotencyClaim::Claimed);
        assert_eq!(decide(stored(950, None)), IdempotencyClaim::InFlight);
        assert_eq!(
            decide(stored(900, None)),
            IdempotencyClaim::Claimed,
            "stale"
        );
        assert_eq!(
            decide(stored(500, None)),
            IdempotencyClaim::Claimed,
            "expired"
        );
        let answer = StoredResponse {
            status: 201,
            headers: vec![],
            body: b"{}".to_vec(),
        };
        assert_eq!(
            decide(stored(600, Some(answer.clone()))),
            IdempotencyClaim::Replay(answer)
        );
        let other = decide_idempotency_claim(stored(950, None), &[2u8; 32], 1_000, 500, 100);
        assert_eq!(other, IdempotencyClaim::Mismatch);
    }
}
