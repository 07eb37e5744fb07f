//! From the rules' decision to what an identification records: the event's `verdict`,
//! `matchedRule`, `monitorMatches` and `tags` (serialised with the event), the list changes of
//! the deciding rule's side effects, and the `rule_match` / `list_update` webhook payloads
//! they cause. Also the webhook payload envelope every payload shares.

use prynt_core::{ids, timefmt};
use prynt_rules::condition::{SideEffect, Verdict};
use prynt_rules::eval::{CompiledRule, Decision};
use prynt_rules::fields::ListType;
use prynt_rules::lists::normalise_entry;
use prynt_store::{ListEffect, OutboxItem};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::policy::{Lists, ScopePolicy, Traits};

/// Who the event is about: the values side effects add to lists.
pub struct Subject<'a> {
    pub visitor_id: &'a str,
    pub ip: &'a str,
    pub linked_id: Option<&'a str>,
}

/// A rule that matched, as the event (`matchedRule`, `monitorMatches`) and the webhook name it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRef {
    pub id: String,
    pub name: String,
    pub version: u32,
    #[serde(serialize_with = "verdict_name")]
    pub verdict: Verdict,
}

fn verdict_name<S: Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

fn optional_verdict_name<S: Serializer>(v: &Option<Verdict>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(v.as_str()),
        None => s.serialize_none(),
    }
}

impl RuleRef {
    fn of(r: &CompiledRule) -> Self {
        RuleRef {
            id: r.id.clone(),
            name: r.name.clone(),
            version: r.version,
            verdict: r.action.verdict,
        }
    }
}

/// A list change with the list's name, for memory and the webhook.
#[derive(Debug, Clone)]
struct NamedEffect {
    list_name: String,
    effect: ListEffect,
}

/// Everything an identification records about its decision. Serialises as the event's
/// decision fields: `verdict`, `matchedRule`, `monitorMatches` and `tags`, in that order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    #[serde(serialize_with = "optional_verdict_name")]
    pub verdict: Option<Verdict>,
    #[serde(rename = "matchedRule")]
    pub matched: Option<RuleRef>,
    #[serde(rename = "monitorMatches")]
    pub monitors: Vec<RuleRef>,
    pub tags: Map<String, Value>,
    #[serde(skip)]
    pub effects: Vec<ListEffect>,
    #[serde(skip)]
    named: Vec<NamedEffect>,
    /// Every rule that matched (deciding and monitor), for match statistics.
    #[serde(skip)]
    pub rule_matches: Vec<String>,
}

/// The entry a side effect adds for this event, by the list's type; `None` when the event has
/// no such value (an email list and no email-shaped linked id).
fn entry_for(ty: ListType, s: &Subject<'_>) -> Option<String> {
    let raw = match ty {
        ListType::Visitor => s.visitor_id,
        ListType::Ip => s.ip,
        ListType::Email => s.linked_id?,
    };
    normalise_entry(ty, raw).ok()
}

pub fn outcome(decision: &Decision<'_>, lists: &Lists, s: &Subject<'_>, now_ms: i64) -> Outcome {
    let mut out = Outcome {
        verdict: decision.verdict,
        matched: decision.matched.map(RuleRef::of),
        monitors: decision.monitors.iter().map(|r| RuleRef::of(r)).collect(),
        ..Outcome::default()
    };
    out.rule_matches = out
        .matched
        .iter()
        .chain(&out.monitors)
        .map(|r| r.id.clone())
        .collect();
    let Some(rule) = decision.matched else {
        return out;
    };
    let now_s = now_ms / 1000;
    for effect in &rule.action.side_effects {
        match effect {
            SideEffect::Tag { key, value } => {
                out.tags.insert(key.clone(), Value::String(value.clone()));
            }
            SideEffect::AddToList { list, ttl } => {
                let Some(meta) = lists.meta.get(list) else {
                    continue;
                };
                let Some(value) = entry_for(meta.list_type, s) else {
                    continue;
                };
                let ttl = ttl.map(|t| t as i64).or(meta.ttl_s);
                out.named.push(NamedEffect {
                    list_name: list.clone(),
                    effect: ListEffect::Add {
                        list_id: meta.id.clone(),
                        value,
                        expires_s: ttl.map(|t| now_s.saturating_add(t)),
                    },
                });
            }
            SideEffect::RemoveFromList { list } => {
                let Some(meta) = lists.meta.get(list) else {
                    continue;
                };
                let Some(value) = entry_for(meta.list_type, s) else {
                    continue;
                };
                out.named.push(NamedEffect {
                    list_name: list.clone(),
                    effect: ListEffect::Remove {
                        list_id: meta.id.clone(),
                        value,
                    },
                });
            }
        }
    }
    out.effects = out.named.iter().map(|n| n.effect.clone()).collect();
    out
}

/// A serialised JSON object with more members appended (`members` as written inside braces):
/// how a delivery adds its own `timestamp` to a payload stored without one.
pub fn with_fields(object: &str, members: &str) -> String {
    let head = object.trim_end().strip_suffix('}').unwrap_or(object);
    let sep = if head.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    format!("{head}{sep}{members}}}")
}

/// A webhook payload for `receivers`: the same `id` on every delivery attempt; each attempt
/// adds its own `timestamp` when it is sent.
pub fn payload(kind: &str, now_ms: i64, data: Value, receivers: Vec<String>) -> OutboxItem {
    let id = ids::prefixed_hex_id("evt");
    let body = json!({
        "id": id,
        "event": kind,
        "createdAt": timefmt::rfc3339(now_ms / 1000),
        "data": data,
    });
    OutboxItem {
        id,
        kind: kind.to_owned(),
        payload: body.to_string(),
        request_id: None,
        created_ms: now_ms,
        webhook_ids: receivers,
    }
}

impl Outcome {
    /// The webhook payloads of this identification: the event itself, each rule match and
    /// each list change, for the webhooks that want them.
    pub fn outbox(
        &self,
        policy: &ScopePolicy,
        request_id: &str,
        visitor_id: &str,
        bot: bool,
        now_ms: i64,
    ) -> Vec<OutboxItem> {
        let mut items = Vec::new();
        if policy.webhooks().is_empty() {
            return items;
        }
        let receivers = policy.receivers(
            "identification",
            Traits {
                verdict: self.verdict.map(Verdict::as_str),
                rule_id: self.matched.as_ref().map(|r| r.id.as_str()),
                bot: Some(bot),
            },
        );
        if !receivers.is_empty() {
            items.push(OutboxItem {
                id: ids::prefixed_hex_id("evt"),
                kind: "identification".into(),
                payload: String::new(),
                request_id: Some(request_id.to_owned()),
                created_ms: now_ms,
                webhook_ids: receivers,
            });
        }
        let live = self.matched.iter().map(|r| (r, "live"));
        let monitors = self.monitors.iter().map(|r| (r, "monitor"));
        for (r, status) in live.chain(monitors) {
            let receivers = policy.receivers(
                "rule_match",
                Traits {
                    verdict: Some(r.verdict.as_str()),
                    rule_id: Some(&r.id),
                    bot: Some(bot),
                },
            );
            if receivers.is_empty() {
                continue;
            }
            items.push(payload(
                "rule_match",
                now_ms,
                json!({
                    "ruleId": r.id, "ruleName": r.name, "ruleVersion": r.version,
                    "status": status, "verdict": r.verdict.as_str(),
                    "requestId": request_id, "visitorId": visitor_id,
                }),
                receivers,
            ));
        }
        let receivers = policy.receivers("list_update", Traits::default());
        if receivers.is_empty() {
            return items;
        }
        for n in &self.named {
            let (list_id, added, removed) = match &n.effect {
                ListEffect::Add { list_id, value, .. } => (list_id, vec![value], vec![]),
                ListEffect::Remove { list_id, value } => (list_id, vec![], vec![value]),
            };
            items.push(payload(
                "list_update",
                now_ms,
                json!({
                    "listId": list_id, "listName": n.list_name,
                    "added": added, "removed": removed, "deleted": false,
                    "source": "rule", "ruleId": self.matched.as_ref().map(|r| &r.id),
                    "requestId": request_id,
                }),
                receivers.clone(),
            ));
        }
        items
    }

    /// Makes the side effects visible to the next identification on this node.
    pub fn apply_to_memory(&self, policy: &ScopePolicy) {
        if self.named.is_empty() {
            return;
        }
        let mut lists = policy.lists.write();
        for n in &self.named {
            let Some(data) = lists.set.get_mut(&n.list_name) else {
                continue;
            };
            match &n.effect {
                ListEffect::Add {
                    value, expires_s, ..
                } => data.insert(value.clone(), *expires_s),
                ListEffect::Remove { value, .. } => {
                    data.remove(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_appended_to_an_object() {
        let out = with_fields(r#"{"a":1}"#, r#""verdict":null,"tags":{}"#);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, json!({"a": 1, "verdict": null, "tags": {}}));
        let out = with_fields("{}", r#""b":2"#);
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"b": 2})
        );
    }

    #[test]
    fn an_undecided_event_has_null_decision_fields() {
        let v = serde_json::to_value(Outcome::default()).unwrap();
        assert_eq!(
            v,
            json!({"verdict": null, "matchedRule": null, "monitorMatches": [], "tags": {}})
        );
    }

    #[test]
    fn a_decision_serialises_in_the_stored_order() {
        let rule = |id: &str, verdict| RuleRef {
            id: id.into(),
            name: format!("rule {id}"),
            version: 3,
            verdict,
        };
        let mut tags = Map::new();
        tags.insert("risk".into(), Value::String("high".into()));
        let out = Outcome {
            verdict: Some(Verdict::Block),
            matched: Some(rule("rule_a", Verdict::Block)),
            monitors: vec![rule("rule_b", Verdict::Challenge)],
            tags,
            ..Outcome::default()
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"verdict":"block","matchedRule":{"id":"rule_a","name":"rule rule_a","version":3,"verdict":"block"},"monitorMatches":[{"id":"rule_b","name":"rule rule_b","version":3,"verdict":"challenge"}],"tags":{"risk":"high"}}"#
        );
    }
}
