//! Rules (`/v1/rules`): the condition tree and action types, create, list, retrieve, update and
//! delete, and backtests of a saved or an unsaved rule over the stored events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::common::{OffsetPage, Verdict};
use crate::error::Result;
use reqwest::Method;

/// A rule's activation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Evaluated, and decides verdicts.
    Live,
    /// Evaluated and counted, but decides nothing.
    Monitor,
    Draft,
    Paused,
    #[serde(other)]
    Unknown,
}

/// A node of a condition tree: a group of nodes, or a comparison of one event field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// `{"operator": "AND" | "OR" | "NOT", "rules": [...]}`; `NOT` takes exactly one node.
    Group {
        operator: GroupOperator,
        rules: Vec<Condition>,
    },
    /// `{"field", "operator", "value"}`; `exists` and `not_exists` take no value.
    Leaf {
        field: String,
        operator: Operator,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupOperator {
    #[serde(rename = "AND")]
    And,
    #[serde(rename = "OR")]
    Or,
    #[serde(rename = "NOT")]
    Not,
    #[serde(other)]
    Unknown,
}

/// The comparison of a leaf (see the rules guide for which fit which field types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Gt,
    Gte,
    Lt,
    Lte,
    /// `[low, high]`, inclusive.
    Between,
    /// An inline array, or the name of a list.
    In,
    NotIn,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    /// A regular expression.
    Matches,
    Exists,
    NotExists,
    #[serde(other)]
    Unknown,
}

impl Condition {
    /// All of `rules` (AND).
    pub fn all(rules: impl IntoIterator<Item = Condition>) -> Condition {
        Condition::Group {
            operator: GroupOperator::And,
            rules: rules.into_iter().collect(),
        }
    }

    /// Any of `rules` (OR).
    pub fn any(rules: impl IntoIterator<Item = Condition>) -> Condition {
        Condition::Group {
            operator: GroupOperator::Or,
            rules: rules.into_iter().collect(),
        }
    }

    /// The negation of `rule` (a comparison against a missing field stays false).
    pub fn negate(rule: Condition) -> Condition {
        Condition::Group {
            operator: GroupOperator::Not,
            rules: vec![rule],
        }
    }

    pub fn leaf(field: impl Into<String>, operator: Operator, value: impl Into<Value>) -> Self {
        Condition::Leaf {
            field: field.into(),
            operator,
            value: Some(value.into()),
        }
    }

    /// `field equals value`.
    pub fn equals(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::leaf(field, Operator::Equals, value)
    }

    /// The event has `field`.
    pub fn exists(field: impl Into<String>) -> Self {
        Condition::Leaf {
            field: field.into(),
            operator: Operator::Exists,
            value: None,
        }
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub verdict: Verdict,
    /// At most 10; run only for the live rule that decides the event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub side_effects: Vec<SideEffect>,
}

impl Action {
    pub fn new(verdict: Verdict) -> Action {
        Action {
            verdict,
            side_effects: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SideEffect {
    /// Adds the event's visitor ID, IP or linked email (by the list's type) to the named list.
    AddToList {
        list: String,
        /// Seconds the entry lives; else the list's TTL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u64>,
    },
    RemoveFromList {
        list: String,
    },
    /// Sets `tags.<key>` on the event.
    Tag {
        key: String,
        value: String,
    },
    #[serde(other)]
    Unknown,
}

/// The body of `POST /v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRule {
    /// 1 to 200 characters.
    pub name: String,
    pub conditions: Condition,
    pub action: Action,
    /// Lower is evaluated first; default: after the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Default `draft`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RuleStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCreated {
    pub id: String,
    pub name: String,
    pub priority: i64,
    pub status: RuleStatus,
    #[serde(default)]
    pub version: Option<i64>,
    pub created_at: String,
    pub propagated: bool,
    /// Milliseconds until this node's evaluator held the rule.
    pub propagation_ms: u64,
}

/// A rule in listings, its conditions summarised.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSummary {
    pub id: String,
    pub name: String,
    pub status: RuleStatus,
    pub priority: i64,
    #[serde(default)]
    pub conditions: ConditionSummary,
    /// The verdict the rule sets.
    pub action: Verdict,
    #[serde(default)]
    pub version: Option<i64>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// The top group's operator and its number of direct children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConditionSummary {
    pub operator: Option<GroupOperator>,
    pub count: u64,
}

/// A rule in full, with its match statistics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub status: RuleStatus,
    pub priority: i64,
    pub conditions: Condition,
    pub action: Action,
    #[serde(default)]
    pub stats: RuleStats,
    #[serde(default)]
    pub version: Option<i64>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleStats {
    /// Live and monitor matches.
    pub match_count: u64,
    pub last_match_at: Option<String>,
}

/// One stored version of a rule: what it was from `created_at` on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleVersion {
    pub version: i64,
    pub name: String,
    pub status: RuleStatus,
    pub priority: i64,
    pub conditions: Condition,
    pub action: Action,
    pub created_at: String,
}

#[derive(Deserialize)]
struct RuleVersions {
    data: Vec<RuleVersion>,
}

/// A partial update: only the fields set change.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RuleStatus>,
    /// Replaces the side effects, keeping the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side_effects: Option<Vec<SideEffect>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleUpdated {
    pub id: String,
    pub name: String,
    pub status: RuleStatus,
    pub priority: i64,
    #[serde(default)]
    pub version: Option<i64>,
    pub updated_at: String,
    pub propagated: bool,
    pub propagation_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleDeleted {
    pub deleted: bool,
    pub rule_id: String,
}

/// Filters and paging of `GET /v1/rules`; without a `limit` the server returns every rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RuleStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// The window of a backtest of a saved rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BacktestParams {
    /// 1 to 30; default 7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Matched events to include, 0 to 100; default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<u32>,
}

/// A rule to backtest before saving it, with the backtest's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsavedBacktest {
    pub conditions: Condition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RuleStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<u32>,
}

impl UnsavedBacktest {
    pub fn new(conditions: Condition) -> Self {
        UnsavedBacktest {
            conditions,
            action: None,
            name: None,
            priority: None,
            status: None,
            days: None,
            sample_size: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backtest {
    /// `None` for an unsaved rule.
    pub rule_id: Option<String>,
    pub match_count: u64,
    pub total_events: u64,
    pub match_rate: f64,
    pub estimated_fpr: f64,
    pub legit_evidence_count: u64,
    pub no_evidence_count: u64,
    pub matched_visitors: u64,
    pub days: u32,
    pub duration_ms: u64,
    pub sample: Vec<BacktestSample>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BacktestSample {
    pub request_id: String,
    pub visitor_id: String,
    pub timestamp: String,
}

impl Client {
    /// `POST /v1/rules`. The rule is live in the evaluator before the answer.
    pub async fn create_rule(&self, rule: &NewRule) -> Result<RuleCreated> {
        self.send(Method::POST, self.url(&["v1", "rules"])?, Some(rule))
            .await
    }

    /// `GET /v1/rules`: ordered by priority, then creation.
    pub async fn list_rules(&self, params: &RuleListParams) -> Result<OffsetPage<RuleSummary>> {
        self.get(self.url_with_query(&["v1", "rules"], params)?)
            .await
    }

    /// `GET /v1/rules/{ruleId}`.
    pub async fn get_rule(&self, rule_id: &str) -> Result<Rule> {
        self.get(self.url(&["v1", "rules", rule_id])?).await
    }

    /// `GET /v1/rules/{ruleId}/versions`: every stored version, newest first.
    pub async fn rule_versions(&self, rule_id: &str) -> Result<Vec<RuleVersion>> {
        let url = self.url(&["v1", "rules", rule_id, "versions"])?;
        let versions: RuleVersions = self.get(url).await?;
        Ok(versions.data)
    }

    /// `PUT /v1/rules/{ruleId}`: a partial update; each one is a new version.
    pub async fn update_rule(&self, rule_id: &str, update: &RuleUpdate) -> Result<RuleUpdated> {
        self.send(
            Method::PUT,
            self.url(&["v1", "rules", rule_id])?,
            Some(update),
        )
        .await
    }

    /// `PATCH /v1/rules/{ruleId}`: the same partial update as [`Client::update_rule`].
    pub async fn patch_rule(&self, rule_id: &str, update: &RuleUpdate) -> Result<RuleUpdated> {
        self.send(
            Method::PATCH,
            self.url(&["v1", "rules", rule_id])?,
            Some(update),
        )
        .await
    }

    /// `DELETE /v1/rules/{ruleId}`.
    pub async fn delete_rule(&self, rule_id: &str) -> Result<RuleDeleted> {
        self.delete(self.url(&["v1", "rules", rule_id])?).await
    }

    /// `POST /v1/rules/{ruleId}/backtest`: the saved rule (whatever its status) over the
    /// stored events of the last `days`.
    pub async fn backtest_rule(&self, rule_id: &str, params: &BacktestParams) -> Result<Backtest> {
        let url = self.url(&["v1", "rules", rule_id, "backtest"])?;
        self.send(Method::POST, url, Some(params)).await
    }

    /// `POST /v1/rules/backtest`: a rule that is not saved.
    pub async fn backtest_unsaved_rule(&self, rule: &UnsavedBacktest) -> Result<Backtest> {
        let url = self.url(&["v1", "rules", "backtest"])?;
        self.send(Method::POST, url, Some(rule)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_rule_round_trips() {
        let reference = json!({
            "name": "Block Bot Registrations",
            "priority": 1,
            "status": "live",
            "conditions": {
                "operator": "AND",
                "rules": [
                    {"field": "signals.bot.detected", "operator": "equals", "value": true},
                    {"field": "event.type", "operator": "equals", "value": "registration"}
                ]
            },
            "action": {
                "verdict": "block",
                "sideEffects": [{"type": "addToList", "list": "blocked_devices"}]
            }
        });
        let built = NewRule {
            name: "Block Bot Registrations".into(),
            priority: Some(1),
            status: Some(RuleStatus::Live),
            conditions: Condition::all([
                Condition::equals("signals.bot.detected", true),
                Condition::equals("event.type", "registration"),
            ]),
            action: Action {
                verdict: Verdict::Block,
                side_effects: vec![SideEffect::AddToList {
                    list: "blocked_devices".into(),
                    ttl: None,
                }],
            },
        };
        assert_eq!(serde_json::to_value(&built).expect("encodes"), reference);
        let back: Condition =
            serde_json::from_value(reference["conditions"].clone()).expect("decodes");
        assert_eq!(back, built.conditions);
    }

    #[test]
    fn nested_groups_presence_tests_and_unknown_values_decode() {
        let c: Condition = serde_json::from_value(json!({"operator": "OR", "rules": [
            {"field": "ip.country", "operator": "not_exists"},
            {"operator": "NOT", "rules": [{"field": "ip.country", "operator": "equals", "value": "US"}]},
            {"field": "x", "operator": "fuzzy_matches", "value": 1}
        ]}))
        .expect("decodes");
        let Condition::Group { operator, rules } = &c else {
            panic!("a group: {c:?}")
        };
        assert_eq!(*operator, GroupOperator::Or);
        assert_eq!(
            rules[0],
            Condition::Leaf {
                field: "ip.country".into(),
                operator: Operator::NotExists,
                value: None
            }
        );
        assert!(matches!(
            rules[2],
            Condition::Leaf {
                operator: Operator::Unknown,
                ..
            }
        ));
        let a: Action = serde_json::from_value(json!({"verdict": "challenge", "sideEffects": [
            {"type": "tag", "key": "reason", "value": "bot"},
            {"type": "notifySlack", "channel": "#fraud"}
        ]}))
        .expect("decodes");
        assert_eq!(a.side_effects[1], SideEffect::Unknown);
    }
}
