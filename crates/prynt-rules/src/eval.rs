//! Evaluation: conditions compiled once (regexes built, inline sets hashed, children ordered
//! cheap-first) and evaluated with three-valued logic over an event's facts; rule sets that
//! turn the live and monitor rules of an environment into a decision.
//!
//! Any comparison against a missing value is unknown, `not_equals` / `not_in` / `not_contains`
//! included, and `NOT` of unknown stays unknown, so a missing value can never make a rule match
//! (Stripe Radar's semantics); only `exists` / `not_exists` test presence. A rule matches only
//! when its condition is true.

use std::cmp::Ordering;
use std::collections::HashSet;

use regex::Regex;
use serde_json::Value as Json;

use crate::condition::{build_regex, Action, Condition, GroupOp, Operator, Verdict};
use crate::facts::{Facts, Value};
use crate::fields::{self, FieldId, FieldType};

/// List contents as evaluation sees them.
pub trait ListLookup {
    /// Whether `value` (as the event carries it) is a live entry of the list named `list` at
    /// `now_s`. `None` when no list of that name exists (it was deleted): the condition is
    /// then unknown.
    fn contains(&self, list: &str, value: &str, now_s: i64) -> Option<bool>;
}

/// A three-valued (Kleene) truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    /// Kleene negation: unknown stays unknown.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }

    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
}

/// A number comparison; every bound is finite.
#[derive(Debug, Clone)]
pub(crate) enum NumTest {
    Eq(f64, bool),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Between(f64, f64),
    /// Sorted, deduplicated values; `true` negates (`not_in`).
    In(Vec<f64>, bool),
}

impl NumTest {
    /// The comparison on a present value (never `NaN`: that is missing).
    pub(crate) fn test(&self, x: f64) -> bool {
        match self {
            NumTest::Eq(v, neg) => (x == *v) != *neg,
            NumTest::Gt(v) => x > *v,
            NumTest::Gte(v) => x >= *v,
            NumTest::Lt(v) => x < *v,
            NumTest::Lte(v) => x <= *v,
            NumTest::Between(lo, hi) => *lo <= x && x <= *hi,
            NumTest::In(vs, neg) => {
                // `partial_cmp` rather than `total_cmp` so that -0 and 0 are one value, as
                // with `equals`.
                let found = vs
                    .binary_search_by(|v| v.partial_cmp(&x).unwrap_or(Ordering::Less))
                    .is_ok();
                found != *neg
            }
        }
    }
}

/// A string comparison. Case-sensitive; list lookups normalise as the list's type says.
#[derive(Debug, Clone)]
pub(crate) enum StrTest {
    Eq(Box<str>, bool),
    In(HashSet<Box<str>>, bool),
    Contains(Box<str>, bool),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Matches(Regex),
    /// A list by name; `true` negates (`not_in`).
    InList(Box<str>, bool),
}

impl StrTest {
    pub(crate) fn test(&self, s: &str, lists: &dyn ListLookup, now_s: i64) -> Tri {
        match self {
            StrTest::Eq(v, neg) => Tri::from_bool((s == &**v) != *neg),
            StrTest::In(set, neg) => Tri::from_bool(set.contains(s) != *neg),
            StrTest::Contains(v, neg) => Tri::from_bool(s.contains(&**v) != *neg),
            StrTest::StartsWith(v) => Tri::from_bool(s.starts_with(&**v)),
            StrTest::EndsWith(v) => Tri::from_bool(s.ends_with(&**v)),
            StrTest::Matches(re) => Tri::from_bool(re.is_match(s)),
            StrTest::InList(name, neg) => match lists.contains(name, s, now_s) {
                Some(found) => Tri::from_bool(found != *neg),
                None => Tri::Unknown,
            },
        }
    }
}

/// One leaf's test on its field's value.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// `exists` (`true`) or `not_exists` (`false`): never unknown.
    Exists(bool),
    /// `equals` / `not_equals` (`negate`) on a boolean.
    Bool {
        value: bool,
        negate: bool,
    },
    Num(NumTest),
    Str(StrTest),
    /// `contains` / `not_contains` (`negate`) on a list of strings: element equality.
    Elem {
        value: Box<str>,
        negate: bool,
    },
    /// A leaf that could not be compiled. Unknown is never true, and `NOT` does not rescue it.
    Invalid,
}

impl Test {
    /// Relative cost, to run cheap tests first so groups short-circuit early.
    fn cost(&self) -> u32 {
        match self {
            Test::Exists(_) | Test::Bool { .. } | Test::Num(NumTest::In(..)) => 1,
            Test::Num(_) | Test::Invalid => 1,
            Test::Str(StrTest::Eq(..)) => 2,
            Test::Str(StrTest::StartsWith(_) | StrTest::EndsWith(_)) => 2,
            Test::Str(StrTest::In(..)) | Test::Elem { .. } => 3,
            Test::Str(StrTest::Contains(..)) => 4,
            Test::Str(StrTest::Matches(_)) => 20,
            Test::Str(StrTest::InList(..)) => 40,
        }
    }

    /// The test on a value as `Facts` holds it.
    pub(crate) fn eval(&self, v: &Value, lists: &dyn ListLookup, now_s: i64) -> Tri {
        match (self, v) {
            (Test::Exists(want), v) => Tri::from_bool(v.is_missing() != *want),
            (_, Value::Missing) => Tri::Unknown,
            (Test::Bool { value, negate }, Value::Bool(b)) => {
                Tri::from_bool((b == value) != *negate)
            }
            (Test::Num(t), Value::Num(x)) if !x.is_nan() => Tri::from_bool(t.test(*x)),
            (Test::Str(t), Value::Str(s)) => t.test(s, lists, now_s),
            (Test::Elem { value, negate }, Value::List(items)) => {
                Tri::from_bool(items.iter().any(|i| **i == **value) != *negate)
            }
            // A value of another type than the test expects is as good as missing.
            _ => Tri::Unknown,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) field: FieldId,
    pub(crate) test: Test,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Leaf),
}

impl Node {
    fn cost(&self) -> u32 {
        match self {
            Node::And(c) | Node::Or(c) => c.iter().map(Node::cost).sum(),
            Node::Not(c) => c.cost(),
            Node::Leaf(l) => l.test.cost(),
        }
    }

    fn eval(&self, facts: &Facts, lists: &dyn ListLookup, now_s: i64) -> Tri {
        match self {
            Node::And(children) => {
                let mut acc = Tri::True;
                for c in children {
                    match c.eval(facts, lists, now_s) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => acc = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                acc
            }
            Node::Or(children) => {
                let mut acc = Tri::False;
                for c in children {
                    match c.eval(facts, lists, now_s) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => acc = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                acc
            }
            Node::Not(c) => c.eval(facts, lists, now_s).not(),
            Node::Leaf(l) => l.test.eval(facts.get(l.field), lists, now_s),
        }
    }
}

/// A condition ready to evaluate.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(crate) root: Node,
}

/// Compiles a parsed condition. Infallible: a leaf that cannot be compiled (only possible for a
/// tree built by hand, as parsing validates everything) is never true.
pub fn compile(c: &Condition) -> Compiled {
    Compiled {
        root: compile_node(c),
    }
}

fn compile_node(c: &Condition) -> Node {
    match c {
        Condition::Group { op, rules } => {
            let mut children: Vec<Node> = rules.iter().map(compile_node).collect();
            // Kleene AND/OR are commutative, so the order changes only the work done: cheap
            // field checks first, regexes and list lookups last (stable, so equal costs keep
            // the author's order).
            children.sort_by_key(Node::cost);
            match op {
                GroupOp::And => Node::And(children),
                GroupOp::Or => Node::Or(children),
                GroupOp::Not => match children.len() {
                    1 => Node::Not(Box::new(children.remove(0))),
                    // NOT of several is not a valid tree; read it as NOT(AND(...)).
                    _ => Node::Not(Box::new(Node::And(children))),
                },
            }
        }
        Condition::Leaf { field, op, value } => Node::Leaf(Leaf {
            field: *field,
            test: compile_leaf(*field, *op, value),
        }),
    }
}

fn compile_leaf(field: FieldId, op: Operator, value: &Json) -> Test {
    compile_leaf_checked(field, op, value).unwrap_or(Test::Invalid)
}

fn finite(v: &Json) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn boxed(v: &Json) -> Option<Box<str>> {
    v.as_str().map(Box::from)
}

fn compile_leaf_checked(field: FieldId, op: Operator, value: &Json) -> Option<Test> {
    use Operator::*;
    let ty = fields::def(field)?.ty;
    if !op.applies_to(ty) {
        return None;
    }
    let negate = matches!(op, NotEquals | NotIn | NotContains);
    Some(match (op, ty) {
        (Exists, _) => Test::Exists(true),
        (NotExists, _) => Test::Exists(false),
        (Equals | NotEquals, FieldType::Bool) => Test::Bool {
            value: value.as_bool()?,
            negate,
        },
        (Equals | NotEquals, FieldType::Number) => Test::Num(NumTest::Eq(finite(value)?, negate)),
        (Equals | NotEquals, FieldType::String) => Test::Str(StrTest::Eq(boxed(value)?, negate)),
        (Gt, _) => Test::Num(NumTest::Gt(finite(value)?)),
        (Gte, _) => Test::Num(NumTest::Gte(finite(value)?)),
        (Lt, _) => Test::Num(NumTest::Lt(finite(value)?)),
        (Lte, _) => Test::Num(NumTest::Lte(finite(value)?)),
        (Between, _) => {
            let pair = value.as_array().filter(|a| a.len() == 2)?;
            let (lo, hi) = (finite(&pair[0])?, finite(&pair[1])?);
            // An inverted range is refused at parse time; built by hand it matches nothing.
            Test::Num(NumTest::Between(lo, hi))
        }
        (In | NotIn, FieldType::String) => match value {
            Json::String(list) => Test::Str(StrTest::InList(list.as_str().into(), negate)),
            Json::Array(items) => Test::Str(StrTest::In(
                items.iter().map(boxed).collect::<Option<_>>()?,
                negate,
            )),
            _ => return None,
        },
        (In | NotIn, FieldType::Number) => {
            let mut vs = value
                .as_array()?
                .iter()
                .map(finite)
                .collect::<Option<Vec<f64>>>()?;
            vs.sort_by(f64::total_cmp);
            vs.dedup_by(|a, b| a == b);
            Test::Num(NumTest::In(vs, negate))
        }
        (Contains | NotContains, FieldType::String) => {
            Test::Str(StrTest::Contains(boxed(value)?, negate))
        }
        (Contains | NotContains, FieldType::StringList) => Test::Elem {
            value: boxed(value)?,
            negate,
        },
        (StartsWith, _) => Test::Str(StrTest::StartsWith(boxed(value)?)),
        (EndsWith, _) => Test::Str(StrTest::EndsWith(boxed(value)?)),
        (Matches, _) => Test::Str(StrTest::Matches(build_regex(value.as_str()?).ok()?)),
        _ => return None,
    })
}

impl Compiled {
    /// The condition's truth value for one event.
    pub fn eval(&self, facts: &Facts, lists: &dyn ListLookup, now_s: i64) -> Tri {
        self.root.eval(facts, lists, now_s)
    }

    /// Whether the condition is true (unknown does not match).
    pub fn matches(&self, facts: &Facts, lists: &dyn ListLookup, now_s: i64) -> bool {
        self.eval(facts, lists, now_s) == Tri::True
    }

    /// The fields the condition reads.
    pub fn fields(&self) -> Vec<FieldId> {
        let mut out = Vec::new();
        collect_fields(&self.root, &mut out);
        out
    }
}

fn collect_fields(n: &Node, out: &mut Vec<FieldId>) {
    match n {
        Node::And(c) | Node::Or(c) => c.iter().for_each(|c| collect_fields(c, out)),
        Node::Not(c) => collect_fields(c, out),
        Node::Leaf(l) => {
            if !out.contains(&l.field) {
                out.push(l.field);
            }
        }
    }
}

/// A rule's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Stored, never evaluated.
    Draft,
    /// Evaluated; the first live match decides.
    Live,
    /// Evaluated and recorded; never decides nor runs side effects.
    Monitor,
    /// Kept, not evaluated.
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Live => "live",
            Status::Monitor => "monitor",
            Status::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "draft" => Some(Status::Draft),
            "live" => Some(Status::Live),
            "monitor" => Some(Status::Monitor),
            "paused" => Some(Status::Paused),
            _ => None,
        }
    }
}

/// One version of a rule, compiled.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub name: String,
    pub version: u32,
    /// Lower runs first.
    pub priority: i64,
    pub created_ms: i64,
    pub status: Status,
    pub condition: Compiled,
    pub action: Action,
}

/// The rules of one environment that are evaluated, in evaluation order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Live and monitor rules by (priority, created_ms, id).
    rules: Vec<CompiledRule>,
    has_live: bool,
}

/// The outcome of evaluating a rule set on one event.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// `None` when the environment has no live rule; `Allow` when live rules exist and none
    /// matched.
    pub verdict: Option<Verdict>,
    /// The live rule that decided.
    pub matched: Option<&'a CompiledRule>,
    /// Every monitor rule that matched, in priority order.
    pub monitors: Vec<&'a CompiledRule>,
}

impl RuleSet {
    /// Keeps the live and monitor rules (drafts and paused rules are never evaluated) in
    /// evaluation order: priority, then creation, then id so that the order is total.
    pub fn new(rules: Vec<CompiledRule>) -> RuleSet {
        let mut rules: Vec<CompiledRule> = rules
            .into_iter()
            .filter(|r| matches!(r.status, Status::Live | Status::Monitor))
            .collect();
        rules.sort_by(|a, b| {
            (a.priority, a.created_ms, &a.id).cmp(&(b.priority, b.created_ms, &b.id))
        });
        let has_live = rules.iter().any(|r| r.status == Status::Live);
        RuleSet { rules, has_live }
    }

    pub fn has_live(&self) -> bool {
        self.has_live
    }

    /// Live and monitor rules held.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules held, in evaluation order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Runs live rules in order until the first match, and every monitor rule.
    pub fn evaluate(&self, facts: &Facts, lists: &dyn ListLookup, now_s: i64) -> Decision<'_> {
        let mut matched = None;
        let mut monitors = Vec::new();
        for r in &self.rules {
            match r.status {
                Status::Live if matched.is_none() && r.condition.matches(facts, lists, now_s) => {
                    matched = Some(r);
                }
                Status::Monitor if r.condition.matches(facts, lists, now_s) => monitors.push(r),
                _ => {}
            }
        }
        let verdict = match matched {
            Some(r) => Some(r.action.verdict),
            None if self.has_live => Some(Verdict::Allow),
            None => None,
        };
        Decision {
            verdict,
            matched,
            monitors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{parse_conditions, tests::Catalog};
    use crate::fields::{lookup, ListType, FIELDS};
    use crate::lists::{ListData, ListSet};
    use serde_json::json;
    use std::sync::Arc;

    fn id(p: &str) -> FieldId {
        lookup(p).expect("field")
    }

    fn compiled(v: Json) -> Compiled {
        compile(&parse_conditions(&v, "conditions", &Catalog).expect("valid"))
    }

    fn one(field: &str, op: &str, value: Json) -> Compiled {
        compiled(
            json!({"operator": "AND", "rules": [{"field": field, "operator": op, "value": value}]}),
        )
    }

    fn lists() -> ListSet {
        let mut s = ListSet::new();
        let mut ips = ListData::new(ListType::Ip);
        ips.insert("203.0.113.0/24".into(), None);
        s.insert_list("blocked_ips".into(), ips);
        let mut emails = ListData::new(ListType::Email);
        emails.insert("fraud@example.com".into(), None);
        s.insert_list("bad_emails".into(), emails);
        s.insert_list("vips".into(), ListData::new(ListType::Visitor));
        s
    }

    fn facts() -> Facts {
        let mut f = Facts::new();
        f.set(id("visitorId"), Value::Str("pv_a1B2c3D4e5F6g".into()));
        f.set(id("signals.bot.detected"), Value::Bool(true));
        f.set(id("signals.tor"), Value::Bool(false));
        f.set(id("scores.suspect"), Value::Num(12.0));
        f.set(id("ip.country"), Value::Str("US".into()));
        f.set(id("ip.address"), Value::Str("203.0.113.9".into()));
        f.set(id("event.linkedId"), Value::Str("Fraud@Example.com".into()));
        f.set(
            id("event.url"),
            Value::Str("https://shop.example.com/checkout?x=1".into()),
        );
        f.set(
            id("signals.bot.reasons"),
            Value::List(Arc::from([Arc::from("webdriver"), Arc::from("headless")])),
        );
        f
    }

    fn eval(c: &Compiled, f: &Facts) -> Tri {
        c.eval(f, &lists(), 1_000)
    }

    /// (field, operator, value, on `facts()`, on empty facts)
    #[test]
    fn every_operator_present_and_missing() {
        use Tri::{False as F, True as T, Unknown as U};
        let cases: Vec<(&str, &str, Json, Tri)> = vec![
            ("signals.bot.detected", "equals", json!(true), T),
            ("signals.bot.detected", "equals", json!(false), F),
            ("signals.bot.detected", "not_equals", json!(false), T),
            ("signals.tor", "not_equals", json!(false), F),
            ("scores.suspect", "equals", json!(12), T),
            ("scores.suspect", "equals", json!(12.0), T),
            ("scores.suspect", "not_equals", json!(12), F),
            ("scores.suspect", "gt", json!(12), F),
            ("scores.suspect", "gt", json!(11.5), T),
            ("scores.suspect", "gte", json!(12), T),
            ("scores.suspect", "lt", json!(12), F),
            ("scores.suspect", "lte", json!(12), T),
            ("scores.suspect", "between", json!([12, 20]), T),
            ("scores.suspect", "between", json!([0, 11.99]), F),
            ("scores.suspect", "in", json!([1, 12.0, 30]), T),
            ("scores.suspect", "in", json!([1, 30]), F),
            ("scores.suspect", "not_in", json!([1, 30]), T),
            ("ip.country", "equals", json!("US"), T),
            ("ip.country", "equals", json!("us"), F),
            ("ip.country", "not_equals", json!("CA"), T),
            ("ip.country", "in", json!(["CA", "US"]), T),
            ("ip.country", "not_in", json!(["CA", "US"]), F),
            ("event.url", "contains", json!("/checkout"), T),
            ("event.url", "not_contains", json!("/checkout"), F),
            ("event.url", "starts_with", json!("https://"), T),
            ("event.url", "ends_with", json!("x=1"), T),
            ("event.url", "ends_with", json!("x=2"), F),
            (
                "event.url",
                "matches",
                json!(r"^https://[a-z]+\.example\.com/"),
                T,
            ),
            ("event.url", "matches", json!("CHECKOUT"), F),
            ("signals.bot.reasons", "contains", json!("headless"), T),
            ("signals.bot.reasons", "contains", json!("head"), F),
            ("signals.bot.reasons", "not_contains", json!("cdp"), T),
            ("ip.address", "in", json!("blocked_ips"), T),
            ("ip.address", "not_in", json!("blocked_ips"), F),
            ("event.linkedId", "in", json!("bad_emails"), T),
            ("visitorId", "in", json!("vips"), F),
            ("visitorId", "not_in", json!("vips"), T),
            ("ip.city", "exists", Json::Null, F),
            ("ip.city", "not_exists", Json::Null, T),
            ("ip.country", "exists", Json::Null, T),
        ];
        let empty = Facts::new();
        for (field, op, value, want) in cases {
            let c = one(field, op, value.clone());
            assert_eq!(eval(&c, &facts()), want, "{field} {op} {value}");
            let on_missing = match op {
                "exists" => F,
                "not_exists" => T,
                _ => U,
            };
            assert_eq!(eval(&c, &empty), on_missing, "missing {field} {op} {value}");
            assert!(c.matches(&facts(), &lists(), 1_000) == (want == T));
        }
    }

    #[test]
    fn negated_operators_on_missing_values_do_not_match() {
        let empty = Facts::new();
        for (field, op, value) in [
            ("ip.country", "not_equals", json!("US")),
            ("ip.country", "not_in", json!(["US"])),
            ("event.url", "not_contains", json!("x")),
            ("signals.bot.reasons", "not_contains", json!("x")),
            ("ip.address", "not_in", json!("blocked_ips")),
        ] {
            let c = one(field, op, value);
            assert_eq!(eval(&c, &empty), Tri::Unknown);
            assert!(!c.matches(&empty, &lists(), 0));
        }
    }

    #[test]
    fn not_never_rescues_a_missing_value() {
        let c = compiled(json!({"operator": "NOT", "rules": [
            {"field": "ip.country", "operator": "equals", "value": "US"}
        ]}));
        assert_eq!(eval(&c, &Facts::new()), Tri::Unknown);
        assert!(!c.matches(&Facts::new(), &lists(), 0));
        assert_eq!(eval(&c, &facts()), Tri::False);
        let mut f = facts();
        f.set(id("ip.country"), Value::Str("DE".into()));
        assert_eq!(eval(&c, &f), Tri::True);
        // NOT(NOT(unknown)) is still unknown.
        let c = compiled(
            json!({"operator": "NOT", "rules": [{"operator": "NOT", "rules": [
                {"field": "ip.city", "operator": "equals", "value": "Berlin"}
            ]}]}),
        );
        assert_eq!(eval(&c, &facts()), Tri::Unknown);
    }

    #[test]
    fn and_or_are_kleene() {
        use Tri::{False as F, True as T, Unknown as U};
        // Leaves that evaluate to T, F and U on `facts()`.
        let leaf = |t: Tri| match t {
            T => json!({"field": "ip.country", "operator": "equals", "value": "US"}),
            F => json!({"field": "ip.country", "operator": "equals", "value": "CA"}),
            U => json!({"field": "ip.city", "operator": "equals", "value": "Berlin"}),
        };
        for a in [T, F, U] {
            for b in [T, F, U] {
                let and = compiled(json!({"operator": "AND", "rules": [leaf(a), leaf(b)]}));
                let or = compiled(json!({"operator": "OR", "rules": [leaf(a), leaf(b)]}));
                assert_eq!(eval(&and, &facts()), a.and(b), "{a:?} AND {b:?}");
                assert_eq!(eval(&or, &facts()), a.or(b), "{a:?} OR {b:?}");
            }
        }
        assert_eq!(F.and(U), F);
        assert_eq!(T.and(U), U);
        assert_eq!(T.or(U), T);
        assert_eq!(F.or(U), U);
        assert_eq!(U.not(), U);
    }

    #[test]
    fn a_deleted_list_is_unknown_both_ways() {
        let mut l = lists();
        l.remove_list("blocked_ips");
        for op in ["in", "not_in"] {
            let c = one("ip.address", op, json!("blocked_ips"));
            assert_eq!(c.eval(&facts(), &l, 0), Tri::Unknown, "{op}");
        }
        // Inside NOT it stays unknown.
        let c = compiled(json!({"operator": "NOT", "rules": [
            {"field": "ip.address", "operator": "in", "value": "blocked_ips"}
        ]}));
        assert_eq!(c.eval(&facts(), &l, 0), Tri::Unknown);
    }

    #[test]
    fn list_entries_expire_for_evaluation_at_once() {
        let mut l = lists();
        if let Some(d) = l.get_mut("vips") {
            d.insert("pv_a1B2c3D4e5F6g".into(), Some(2_000));
        }
        let c = one("visitorId", "in", json!("vips"));
        assert!(c.matches(&facts(), &l, 1_999));
        assert!(!c.matches(&facts(), &l, 2_000));
    }

    #[test]
    fn children_run_cheap_first() {
        let c = compiled(json!({"operator": "AND", "rules": [
            {"field": "ip.address", "operator": "in", "value": "blocked_ips"},
            {"field": "event.url", "operator": "matches", "value": "x"},
            {"field": "ip.country", "operator": "in", "value": ["US"]},
            {"field": "signals.tor", "operator": "equals", "value": true},
        ]}));
        let Node::And(children) = &c.root else {
            panic!("an AND");
        };
        let order: Vec<&str> = children
            .iter()
            .map(|n| match n {
                Node::Leaf(l) => FIELDS[usize::from(l.field)].path,
                _ => "group",
            })
            .collect();
        assert_eq!(
            order,
            ["signals.tor", "ip.country", "event.url", "ip.address"]
        );
        assert_eq!(
            c.fields(),
            [
                id("signals.tor"),
                id("ip.country"),
                id("event.url"),
                id("ip.address")
            ]
        );
    }

    #[test]
    fn a_leaf_that_cannot_compile_is_never_true() {
        let bad = Condition::Leaf {
            field: id("event.url"),
            op: Operator::Matches,
            value: json!("(unclosed"),
        };
        let c = compile(&Condition::Group {
            op: GroupOp::Not,
            rules: vec![bad],
        });
        assert_eq!(eval(&c, &facts()), Tri::Unknown);
        let mistyped = compile(&Condition::Leaf {
            field: id("scores.bot"),
            op: Operator::Equals,
            value: json!("high"),
        });
        assert_eq!(eval(&mistyped, &facts()), Tri::Unknown);
    }

    fn rule(
        id: &str,
        priority: i64,
        created_ms: i64,
        status: Status,
        cond: Json,
        v: Verdict,
    ) -> CompiledRule {
        CompiledRule {
            id: id.into(),
            name: format!("rule {id}"),
            version: 1,
            priority,
            created_ms,
            status,
            condition: compiled(cond),
            action: Action {
                verdict: v,
                side_effects: Vec::new(),
            },
        }
    }

    fn always() -> Json {
        json!({"operator": "AND", "rules": [{"field": "ip.country", "operator": "exists"}]})
    }

    fn never() -> Json {
        json!({"operator": "AND", "rules": [{"field": "ip.country", "operator": "equals", "value": "ZZ"}]})
    }

    #[test]
    fn the_first_live_match_in_priority_order_decides() {
        let set = RuleSet::new(vec![
            rule("c", 30, 1, Status::Live, always(), Verdict::Allow),
            rule("a", 10, 1, Status::Live, never(), Verdict::Block),
            rule("b", 20, 1, Status::Live, always(), Verdict::Challenge),
        ]);
        let d = set.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.verdict, Some(Verdict::Challenge));
        assert_eq!(d.matched.map(|r| r.id.as_str()), Some("b"));
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn equal_priorities_run_in_creation_order() {
        let set = RuleSet::new(vec![
            rule("new", 10, 2_000, Status::Live, always(), Verdict::Block),
            rule("old", 10, 1_000, Status::Live, always(), Verdict::Challenge),
        ]);
        let d = set.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.matched.map(|r| r.id.as_str()), Some("old"));
        assert_eq!(d.verdict, Some(Verdict::Challenge));
    }

    #[test]
    fn monitors_are_recorded_and_never_decide() {
        let set = RuleSet::new(vec![
            rule("m1", 1, 0, Status::Monitor, always(), Verdict::Block),
            rule("live", 5, 0, Status::Live, never(), Verdict::Block),
            rule("m2", 9, 0, Status::Monitor, always(), Verdict::Block),
            rule("m3", 9, 1, Status::Monitor, never(), Verdict::Block),
        ]);
        let d = set.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.verdict, Some(Verdict::Allow), "live rules, none matched");
        assert!(d.matched.is_none());
        let m: Vec<&str> = d.monitors.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(m, ["m1", "m2"]);

        let only_monitors = RuleSet::new(vec![rule(
            "m",
            1,
            0,
            Status::Monitor,
            always(),
            Verdict::Block,
        )]);
        let d = only_monitors.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.verdict, None, "no live rule: no verdict");
        assert_eq!(d.monitors.len(), 1);
        assert!(!only_monitors.has_live());
    }

    #[test]
    fn monitors_after_the_deciding_rule_still_run() {
        let set = RuleSet::new(vec![
            rule("live", 1, 0, Status::Live, always(), Verdict::Block),
            rule("m", 2, 0, Status::Monitor, always(), Verdict::Allow),
        ]);
        let d = set.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.verdict, Some(Verdict::Block));
        assert_eq!(d.monitors.len(), 1);
    }

    #[test]
    fn drafts_and_paused_rules_are_never_evaluated() {
        let set = RuleSet::new(vec![
            rule("d", 1, 0, Status::Draft, always(), Verdict::Block),
            rule("p", 2, 0, Status::Paused, always(), Verdict::Block),
        ]);
        assert_eq!(set.len(), 0);
        assert!(set.is_empty());
        assert!(!set.has_live());
        let d = set.evaluate(&facts(), &lists(), 0);
        assert_eq!(d.verdict, None);
        assert!(d.matched.is_none() && d.monitors.is_empty());

        let set = RuleSet::new(vec![
            rule("d", 1, 0, Status::Draft, always(), Verdict::Block),
            rule("l", 2, 0, Status::Live, never(), Verdict::Block),
        ]);
        assert_eq!(set.len(), 1);
        assert_eq!(
            set.evaluate(&facts(), &lists(), 0).verdict,
            Some(Verdict::Allow)
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in [Status::Draft, Status::Live, Status::Monitor, Status::Paused] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("LIVE"), None);
        for v in [Verdict::Allow, Verdict::Challenge, Verdict::Block] {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
    }
}
