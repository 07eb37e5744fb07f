//! Rule conditions and actions as the API spells them: parsing and validating the JSON at save
//! time into a typed tree (every error names the exact offending path, such as
//! `conditions.rules[1].value`), and serialising the tree back in canonical form.
//!
//! Everything that can be refused is refused here, so that compiling and evaluating a parsed
//! rule cannot fail.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value as Json};
use thiserror::Error;

use crate::fields::{self, FieldDef, FieldId, FieldType, ListType};

/// At most this many leaf conditions in one rule.
pub const MAX_LEAVES: usize = 100;
/// Groups nest at most this deep (the top group is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Items of an inline `in` / `not_in` array.
pub const MAX_ARRAY_ITEMS: usize = 1_000;
/// Characters of a string value.
pub const MAX_STRING_CHARS: usize = 1_000;
/// Characters of a `matches` pattern.
pub const MAX_REGEX_CHARS: usize = 512;
/// Bytes a compiled pattern may take; with the lazy-DFA cache limit below this bounds the
/// memory and time any saved pattern can cost per event.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
pub const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;
/// Side effects of one action.
pub const MAX_SIDE_EFFECTS: usize = 10;
/// Longest `addToList` TTL: ten years of seconds.
pub const MAX_TTL_S: u64 = 315_360_000;
/// Characters of a `tag` value.
pub const MAX_TAG_VALUE_CHARS: usize = 200;
/// Characters of a `tag` key.
pub const MAX_TAG_KEY_CHARS: usize = 64;

/// A refused condition or action: `field` is the path of the offending JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError {
        field: field.into(),
        message: message.into(),
    })
}

/// The lists that exist where the rule is saved (its workspace and environment), by name.
pub trait ListCatalog {
    fn list_type(&self, name: &str) -> Option<ListType>;

    /// Whether a name that `list_type` does not know is accepted anyway. `false` when saving
    /// (an unknown list is an error); a catalog that re-reads stored rules says `true`, since a
    /// rule may name a list deleted since it was saved: it still loads, and evaluation treats
    /// that lookup as unknown.
    fn accepts_unknown(&self) -> bool {
        false
    }
}

/// How a group combines its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupOp {
    And,
    Or,
    Not,
}

impl GroupOp {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupOp::And => "AND",
            GroupOp::Or => "OR",
            GroupOp::Not => "NOT",
        }
    }

    /// Case-sensitive: only the upper-case spellings are group operators, which keeps them
    /// apart from the leaf operators.
    pub fn parse(s: &str) -> Option<GroupOp> {
        match s {
            "AND" => Some(GroupOp::And),
            "OR" => Some(GroupOp::Or),
            "NOT" => Some(GroupOp::Not),
            _ => None,
        }
    }
}

/// A leaf condition's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    NotEquals,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    In,
    NotIn,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Matches,
    Exists,
    NotExists,
}

impl Operator {
    pub const ALL: [Operator; 16] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::Between,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Matches,
        Operator::Exists,
        Operator::NotExists,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Between => "between",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::Matches => "matches",
            Operator::Exists => "exists",
            Operator::NotExists => "not_exists",
        }
    }

    pub fn parse(s: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the operator applies to fields of type `ty`.
    pub fn applies_to(self, ty: FieldType) -> bool {
        use Operator::*;
        match self {
            Exists | NotExists => true,
            Equals | NotEquals => ty != FieldType::StringList,
            Gt | Gte | Lt | Lte | Between => ty == FieldType::Number,
            In | NotIn => matches!(ty, FieldType::Number | FieldType::String),
            Contains | NotContains => matches!(ty, FieldType::String | FieldType::StringList),
            StartsWith | EndsWith | Matches => ty == FieldType::String,
        }
    }

    /// Whether the operator takes no value.
    pub fn is_presence(self) -> bool {
        matches!(self, Operator::Exists | Operator::NotExists)
    }
}

/// A parsed condition tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Group {
        op: GroupOp,
        rules: Vec<Condition>,
    },
    /// `value` is validated against the field's type and the operator; it is `null` for
    /// `exists` / `not_exists`. For `in` / `not_in` it is an array of values or a list name.
    Leaf {
        field: FieldId,
        op: Operator,
        value: Json,
    },
}

/// Compiles a `matches` pattern with the size limits every saved pattern is held to.
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
}

/// A short rendering of a JSON value for messages.
fn show(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn check_keys(obj: &Map<String, Json>, path: &str, allowed: &[&str]) -> Result<(), RuleError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let names = allowed
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ");
            return err(
                format!("{path}.{k}"),
                format!("Unknown key \"{k}\": this object takes only {names}."),
            );
        }
    }
    Ok(())
}

fn is_group(obj: &Map<String, Json>) -> bool {
    obj.contains_key("rules")
        || obj
            .get("operator")
            .and_then(Json::as_str)
            .and_then(GroupOp::parse)
            .is_some()
}

/// Parses and validates a condition tree. `path` is how errors name its top (`conditions`);
/// lists referenced by name must exist in `lists` with the field's list type.
pub fn parse_conditions(
    v: &Json,
    path: &str,
    lists: &dyn ListCatalog,
) -> Result<Condition, RuleError> {
    let Some(obj) = v.as_object().filter(|o| is_group(o)) else {
        return err(
            path,
            format!(
                "{path} must be a group: {{\"operator\": \"AND\", \"OR\" or \"NOT\", \"rules\": [...]}}."
            ),
        );
    };
    let mut parser = Parser { lists, leaves: 0 };
    parser.group(obj, path, 1)
}

struct Parser<'a> {
    lists: &'a dyn ListCatalog,
    leaves: usize,
}

impl Parser<'_> {
    fn node(&mut self, v: &Json, path: &str, depth: usize) -> Result<Condition, RuleError> {
        let Some(obj) = v.as_object() else {
            return err(
                path,
                format!(
                    "Each rule must be an object: a condition {{\"field\", \"operator\", \"value\"}} or a group {{\"operator\", \"rules\"}}; got {}.",
                    json_kind(v)
                ),
            );
        };
        if is_group(obj) {
            self.group(obj, path, depth + 1)
        } else {
            self.leaf(obj, path)
        }
    }

    fn group(
        &mut self,
        obj: &Map<String, Json>,
        path: &str,
        depth: usize,
    ) -> Result<Condition, RuleError> {
        if depth > MAX_DEPTH {
            return err(
                path,
                format!(
                    "Groups nest at most {MAX_DEPTH} deep; flatten this group into its parent."
                ),
            );
        }
        check_keys(obj, path, &["operator", "rules"])?;
        let op_path = format!("{path}.operator");
        let op = match obj.get("operator") {
            None => {
                return err(
                    op_path,
                    "A group needs an operator: \"AND\", \"OR\" or \"NOT\".",
                )
            }
            Some(o) => match o.as_str().and_then(GroupOp::parse) {
                Some(op) => op,
                None => {
                    return err(
                        op_path,
                        format!(
                        "A group's operator is \"AND\", \"OR\" or \"NOT\" (upper-case), not {}.",
                        show(o)
                    ),
                    )
                }
            },
        };
        let rules_path = format!("{path}.rules");
        let Some(items) = obj.get("rules").and_then(Json::as_array) else {
            return err(
                rules_path,
                "A group needs rules: an array of conditions and groups.",
            );
        };
        if items.is_empty() {
            return err(rules_path, "A group needs at least one rule.");
        }
        if op == GroupOp::Not && items.len() != 1 {
            return err(
                rules_path,
                format!(
                    "A NOT group takes exactly one rule, not {}; wrap several in an AND or OR group.",
                    items.len()
                ),
            );
        }
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            rules.push(self.node(item, &format!("{rules_path}[{i}]"), depth)?);
        }
        Ok(Condition::Group { op, rules })
    }

    fn leaf(&mut self, obj: &Map<String, Json>, path: &str) -> Result<Condition, RuleError> {
        self.leaves += 1;
        if self.leaves > MAX_LEAVES {
            return err(
                path,
                format!("A rule has at most {MAX_LEAVES} conditions; this is one too many."),
            );
        }
        check_keys(obj, path, &["field", "operator", "value"])?;

        let field_path = format!("{path}.field");
        let Some(name) = obj.get("field").and_then(Json::as_str) else {
            return err(
                field_path,
                "A condition needs a field: a dotted event path such as \"ip.country\".",
            );
        };
        let Some(field) = fields::lookup(name) else {
            return err(
                field_path,
                format!(
                    "Unknown field \"{}\". Fields are dotted event paths such as ip.country, \
                     signals.bot.detected, scores.suspect, event.type or velocity.distinctIp.1h.",
                    truncate(name)
                ),
            );
        };
        let def = &fields::FIELDS[usize::from(field)];

        let op_path = format!("{path}.operator");
        let allowed = || {
            Operator::ALL
                .into_iter()
                .filter(|o| o.applies_to(def.ty))
                .map(Operator::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let op = match obj.get("operator") {
            None => {
                return err(
                    op_path,
                    format!(
                        "A condition needs an operator; {} takes: {}.",
                        def.path,
                        allowed()
                    ),
                )
            }
            Some(o) => match o.as_str().and_then(Operator::parse) {
                None => {
                    return err(
                        op_path,
                        format!(
                            "Unknown operator {}; {} takes: {}.",
                            show(o),
                            def.path,
                            allowed()
                        ),
                    )
                }
                Some(op) if !op.applies_to(def.ty) => {
                    return err(
                        op_path,
                        format!(
                            "{} does not apply to {}, which is {}; it takes: {}.",
                            op.as_str(),
                            def.path,
                            def.ty.describe(),
                            allowed()
                        ),
                    )
                }
                Some(op) => op,
            },
        };

        let value_path = format!("{path}.value");
        let value = self.value(def, op, obj.get("value"), &value_path)?;
        Ok(Condition::Leaf { field, op, value })
    }

    fn value(
        &self,
        def: &FieldDef,
        op: Operator,
        value: Option<&Json>,
        vpath: &str,
    ) -> Result<Json, RuleError> {
        use Operator::*;
        let opn = op.as_str();
        if op.is_presence() {
            return match value {
                None | Some(Json::Null) => Ok(Json::Null),
                Some(_) => err(vpath, format!("{opn} takes no value; leave value out.")),
            };
        }
        let v = match value {
            None | Some(Json::Null) => {
                return err(
                    vpath,
                    format!("{opn} needs a value: {}.", expected(def, op)),
                )
            }
            Some(v) => v,
        };
        match op {
            Equals | NotEquals => scalar(def, v, vpath, opn),
            Gt | Gte | Lt | Lte => number(v, vpath, opn),
            Between => {
                let pair = v.as_array().filter(|a| a.len() == 2);
                let Some(pair) = pair else {
                    return err(
                        vpath,
                        format!("between needs [low, high]: two numbers; got {}.", show(v)),
                    );
                };
                let lo = number(&pair[0], &format!("{vpath}[0]"), opn)?;
                let hi = number(&pair[1], &format!("{vpath}[1]"), opn)?;
                match (lo.as_f64(), hi.as_f64()) {
                    (Some(l), Some(h)) if l <= h => Ok(Json::Array(vec![lo, hi])),
                    _ => err(
                        vpath,
                        format!(
                            "between needs [low, high] with low at most high; got {}.",
                            show(v)
                        ),
                    ),
                }
            }
            In | NotIn => match v {
                Json::String(name) => self.list_ref(def, name, vpath, opn),
                Json::Array(items) => {
                    if items.is_empty() {
                        return err(vpath, format!("{opn} needs at least one value."));
                    }
                    if items.len() > MAX_ARRAY_ITEMS {
                        return err(
                            vpath,
                            format!(
                                "{opn} takes at most {MAX_ARRAY_ITEMS} inline values, not {}; put \
                                 longer sets in a list.",
                                items.len()
                            ),
                        );
                    }
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        out.push(scalar(def, item, &format!("{vpath}[{i}]"), opn)?);
                    }
                    Ok(Json::Array(out))
                }
                _ => err(vpath, format!("{opn} needs {}.", expected(def, op))),
            },
            Contains | NotContains | StartsWith | EndsWith => {
                let s = string(v, vpath, opn)?;
                if s.is_empty() {
                    return err(
                        vpath,
                        format!(
                            "{opn} needs a non-empty string: the empty string is in every value."
                        ),
                    );
                }
                Ok(Json::String(s.to_owned()))
            }
            Matches => {
                let Some(pattern) = v.as_str() else {
                    return err(
                        vpath,
                        format!(
                            "matches needs a regular expression as a string; got {}.",
                            json_kind(v)
                        ),
                    );
                };
                if pattern.chars().count() > MAX_REGEX_CHARS {
                    return err(
                        vpath,
                        format!("A pattern has at most {MAX_REGEX_CHARS} characters."),
                    );
                }
                match build_regex(pattern) {
                    Ok(_) => Ok(Json::String(pattern.to_owned())),
                    Err(e) => err(
                        vpath,
                        format!(
                            "The pattern is not a valid regular expression: {}.",
                            regex_reason(&e)
                        ),
                    ),
                }
            }
            Exists | NotExists => Ok(Json::Null),
        }
    }

    fn list_ref(
        &self,
        def: &FieldDef,
        name: &str,
        vpath: &str,
        opn: &str,
    ) -> Result<Json, RuleError> {
        let Some(want) = def.list else {
            return err(
                vpath,
                format!(
                    "{} cannot be looked up in a list; give {opn} an inline array of values.",
                    def.path
                ),
            );
        };
        match self.lists.list_type(name) {
            None if self.lists.accepts_unknown() => Ok(Json::String(name.to_owned())),
            None => err(
                vpath,
                format!(
                    "No list named \"{}\" exists in this environment.",
                    truncate(name)
                ),
            ),
            Some(t) if t != want => err(
                vpath,
                format!(
                    "List \"{}\" holds {} entries; {} can only be looked up in a {} list.",
                    truncate(name),
                    t.as_str(),
                    def.path,
                    want.as_str()
                ),
            ),
            Some(_) => Ok(Json::String(name.to_owned())),
        }
    }
}

/// What a value of `op` on `def` must be, for messages.
fn expected(def: &FieldDef, op: Operator) -> String {
    use Operator::*;
    match op {
        Gt | Gte | Lt | Lte => "a number".into(),
        Between => "[low, high]: two numbers".into(),
        In | NotIn => {
            let items = if def.ty == FieldType::Number {
                "numbers"
            } else {
                "strings"
            };
            match def.list {
                Some(t) => format!("an array of {items} or the name of a {} list", t.as_str()),
                None => format!("an array of {items}"),
            }
        }
        Contains | NotContains | StartsWith | EndsWith => "a string".into(),
        Matches => "a regular expression as a string".into(),
        _ => def.ty.describe().into(),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s.to_owned()
    }
}

/// The regex crate's syntax errors span several lines (pattern, caret, reason); the last line
/// says what is wrong.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_owned()
}

fn number(v: &Json, vpath: &str, opn: &str) -> Result<Json, RuleError> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(v.clone()),
        _ => err(
            vpath,
            format!("{opn} needs a number here; got {}.", json_kind(v)),
        ),
    }
}

fn string<'v>(v: &'v Json, vpath: &str, opn: &str) -> Result<&'v str, RuleError> {
    let Some(s) = v.as_str() else {
        return err(
            vpath,
            format!("{opn} needs a string here; got {}.", json_kind(v)),
        );
    };
    if s.chars().count() > MAX_STRING_CHARS {
        return err(
            vpath,
            format!("A string value has at most {MAX_STRING_CHARS} characters."),
        );
    }
    Ok(s)
}

/// A single value of the field's own type.
fn scalar(def: &FieldDef, v: &Json, vpath: &str, opn: &str) -> Result<Json, RuleError> {
    match def.ty {
        FieldType::Bool => match v {
            Json::Bool(_) => Ok(v.clone()),
            _ => err(
                vpath,
                format!(
                    "{} is a boolean: {opn} needs true or false; got {}.",
                    def.path,
                    json_kind(v)
                ),
            ),
        },
        FieldType::Number => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(v.clone()),
            _ => err(
                vpath,
                format!(
                    "{} is a number: {opn} needs a number; got {}.",
                    def.path,
                    json_kind(v)
                ),
            ),
        },
        FieldType::String => match v {
            Json::String(_) => string(v, vpath, opn).map(|s| Json::String(s.to_owned())),
            _ => err(
                vpath,
                format!(
                    "{} is a string: {opn} needs a string; got {}.",
                    def.path,
                    json_kind(v)
                ),
            ),
        },
        // No scalar operator applies to a list field; `applies_to` refused it before.
        FieldType::StringList => err(vpath, format!("{} is a list of strings.", def.path)),
    }
}

impl Condition {
    /// The canonical JSON: `{"operator", "rules"}` for a group, `{"field", "operator",
    /// "value"}` for a leaf (no `value` for `exists` / `not_exists`).
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        match self {
            Condition::Group { op, rules } => {
                m.insert("operator".into(), Json::String(op.as_str().into()));
                m.insert(
                    "rules".into(),
                    Json::Array(rules.iter().map(Condition::to_json).collect()),
                );
            }
            Condition::Leaf { field, op, value } => {
                let path = fields::def(*field).map_or("", |d| d.path);
                m.insert("field".into(), Json::String(path.into()));
                m.insert("operator".into(), Json::String(op.as_str().into()));
                if !op.is_presence() {
                    m.insert("value".into(), value.clone());
                }
            }
        }
        Json::Object(m)
    }

    /// The top group's operator and how many rules it holds directly. A bare leaf reads as an
    /// AND of one.
    pub fn summary(&self) -> (&'static str, usize) {
        match self {
            Condition::Group { op, rules } => (op.as_str(), rules.len()),
            Condition::Leaf { .. } => ("AND", 1),
        }
    }

    /// The names of the lists the condition looks values up in, each once, in order.
    pub fn list_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_lists(&mut out);
        out
    }

    fn collect_lists(&self, out: &mut Vec<String>) {
        match self {
            Condition::Group { rules, .. } => rules.iter().for_each(|r| r.collect_lists(out)),
            Condition::Leaf {
                op: Operator::In | Operator::NotIn,
                value: Json::String(name),
                ..
            } => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Condition::Leaf { .. } => {}
        }
    }

    /// How many leaf conditions the tree holds.
    pub fn leaf_count(&self) -> usize {
        match self {
            Condition::Group { rules, .. } => rules.iter().map(Condition::leaf_count).sum(),
            Condition::Leaf { .. } => 1,
        }
    }
}

/// What a matching live rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allow,
    Challenge,
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Challenge => "challenge",
            Verdict::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "allow" => Some(Verdict::Allow),
            "challenge" => Some(Verdict::Challenge),
            "block" => Some(Verdict::Block),
            _ => None,
        }
    }
}

/// What a matching live rule does besides deciding. The entry a list effect adds or removes is
/// the visitor ID, IP or email of the event, according to the list's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideEffect {
    AddToList { list: String, ttl: Option<u64> },
    RemoveFromList { list: String },
    Tag { key: String, value: String },
}

impl SideEffect {
    pub fn to_json(&self) -> Json {
        match self {
            SideEffect::AddToList { list, ttl } => {
                let mut m = Map::new();
                m.insert("type".into(), "addToList".into());
                m.insert("list".into(), list.as_str().into());
                if let Some(t) = ttl {
                    m.insert("ttl".into(), (*t).into());
                }
                Json::Object(m)
            }
            SideEffect::RemoveFromList { list } => {
                serde_json::json!({"type": "removeFromList", "list": list})
            }
            SideEffect::Tag { key, value } => {
                serde_json::json!({"type": "tag", "key": key, "value": value})
            }
        }
    }
}

/// A rule's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub verdict: Verdict,
    pub side_effects: Vec<SideEffect>,
}

impl Action {
    /// `{"verdict", "sideEffects": [...]}`, the side effects always present.
    pub fn to_json(&self) -> Json {
        serde_json::json!({
            "verdict": self.verdict.as_str(),
            "sideEffects": self.side_effects.iter().map(SideEffect::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Parses `{"verdict", "sideEffects"?}`; `path` names it in errors (`action`).
pub fn parse_action(v: &Json, path: &str, lists: &dyn ListCatalog) -> Result<Action, RuleError> {
    let Some(obj) = v.as_object() else {
        return err(
            path,
            format!("{path} must be an object: {{\"verdict\", \"sideEffects\"}}."),
        );
    };
    check_keys(obj, path, &["verdict", "sideEffects"])?;
    let vpath = format!("{path}.verdict");
    let verdict = match obj.get("verdict") {
        None => {
            return err(
                vpath,
                "An action needs a verdict: \"allow\", \"challenge\" or \"block\".",
            )
        }
        Some(v) => match v.as_str().and_then(Verdict::parse) {
            Some(verdict) => verdict,
            None => {
                return err(
                    vpath,
                    format!(
                        "The verdict is \"allow\", \"challenge\" or \"block\", not {}.",
                        show(v)
                    ),
                )
            }
        },
    };
    let side_effects = match obj.get("sideEffects") {
        None => Vec::new(),
        Some(se) => parse_side_effects(se, &format!("{path}.sideEffects"), lists)?,
    };
    Ok(Action {
        verdict,
        side_effects,
    })
}

/// Parses an array of side effects (`null` is none); `path` names it in errors.
pub fn parse_side_effects(
    v: &Json,
    path: &str,
    lists: &dyn ListCatalog,
) -> Result<Vec<SideEffect>, RuleError> {
    let items = match v {
        Json::Null => return Ok(Vec::new()),
        Json::Array(items) => items,
        _ => {
            return err(
                path,
                format!("Side effects are an array; got {}.", json_kind(v)),
            )
        }
    };
    if items.len() > MAX_SIDE_EFFECTS {
        return err(
            path,
            format!(
                "An action has at most {MAX_SIDE_EFFECTS} side effects, not {}.",
                items.len()
            ),
        );
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| side_effect(item, &format!("{path}[{i}]"), lists))
        .collect()
}

fn side_effect(v: &Json, path: &str, lists: &dyn ListCatalog) -> Result<SideEffect, RuleError> {
    let Some(obj) = v.as_object() else {
        return err(
            path,
            format!(
                "A side effect is an object with a \"type\"; got {}.",
                json_kind(v)
            ),
        );
    };
    let tpath = format!("{path}.type");
    let kind = match obj.get("type") {
        None => {
            return err(
                tpath,
                "A side effect needs a type: \"addToList\", \"removeFromList\" or \"tag\".",
            )
        }
        Some(t) => t,
    };
    let list_name = |obj: &Map<String, Json>| -> Result<String, RuleError> {
        let lpath = format!("{path}.list");
        let Some(name) = obj.get("list").and_then(Json::as_str) else {
            return err(lpath, "This side effect needs a list: the name of a list.");
        };
        if lists.list_type(name).is_none() && !lists.accepts_unknown() {
            return err(
                lpath,
                format!(
                    "No list named \"{}\" exists in this environment.",
                    truncate(name)
                ),
            );
        }
        Ok(name.to_owned())
    };
    match kind.as_str() {
        Some("addToList") => {
            check_keys(obj, path, &["type", "list", "ttl"])?;
            let list = list_name(obj)?;
            let ttl = match obj.get("ttl") {
                None | Some(Json::Null) => None,
                // `5.0` is a whole number of seconds too (JSON has one number type).
                Some(t) => match t.as_u64().or_else(|| {
                    t.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 1e15)
                        .map(|x| x as u64)
                }) {
                    Some(s) if (1..=MAX_TTL_S).contains(&s) => Some(s),
                    _ => {
                        return err(
                            format!("{path}.ttl"),
                            format!(
                                "ttl is a whole number of seconds from 1 to {MAX_TTL_S}; got {}.",
                                show(t)
                            ),
                        )
                    }
                },
            };
            Ok(SideEffect::AddToList { list, ttl })
        }
        Some("removeFromList") => {
            check_keys(obj, path, &["type", "list"])?;
            Ok(SideEffect::RemoveFromList {
                list: list_name(obj)?,
            })
        }
        Some("tag") => {
            check_keys(obj, path, &["type", "key", "value"])?;
            let kpath = format!("{path}.key");
            let Some(key) = obj.get("key").and_then(Json::as_str) else {
                return err(kpath, "A tag needs a key: a string.");
            };
            let key_ok = (1..=MAX_TAG_KEY_CHARS).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !key_ok {
                return err(
                    kpath,
                    format!(
                        "A tag key is 1 to {MAX_TAG_KEY_CHARS} characters of letters, digits, \
                         '_', '.' and '-'."
                    ),
                );
            }
            let vpath = format!("{path}.value");
            let Some(value) = obj.get("value").and_then(Json::as_str) else {
                return err(vpath, "A tag needs a value: a string.");
            };
            if value.chars().count() > MAX_TAG_VALUE_CHARS {
                return err(
                    vpath,
                    format!("A tag value has at most {MAX_TAG_VALUE_CHARS} characters."),
                );
            }
            Ok(SideEffect::Tag {
                key: key.to_owned(),
                value: value.to_owned(),
            })
        }
        _ => err(
            tpath,
            format!(
                "Unknown side effect type {}; types are \"addToList\", \"removeFromList\" and \"tag\".",
                show(kind)
            ),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Lists `blocked_ips` (ip), `bad_emails` (email) and `vips` (visitor).
    pub(crate) struct Catalog;

    impl ListCatalog for Catalog {
        fn list_type(&self, name: &str) -> Option<ListType> {
            match name {
                "blocked_ips" => Some(ListType::Ip),
                "bad_emails" => Some(ListType::Email),
                "vips" => Some(ListType::Visitor),
                _ => None,
            }
        }
    }

    fn parse(v: Json) -> Result<Condition, RuleError> {
        parse_conditions(&v, "conditions", &Catalog)
    }

    fn leaf(field: &str, op: &str, value: Json) -> Json {
        json!({"field": field, "operator": op, "value": value})
    }

    fn and(rules: Vec<Json>) -> Json {
        json!({"operator": "AND", "rules": rules})
    }

    /// The path of the error for a top AND group of the given rules.
    fn error_at(rules: Vec<Json>) -> RuleError {
        parse(and(rules)).expect_err("should be refused")
    }

    #[test]
    fn a_valid_tree_round_trips_canonically() {
        let v = json!({"operator": "OR", "rules": [
            {"operator": "AND", "rules": [
                leaf("signals.bot.detected", "equals", json!(true)),
                leaf("ip.country", "in", json!(["US", "CA"])),
                {"field": "event.linkedId", "operator": "exists"},
            ]},
            {"operator": "NOT", "rules": [leaf("ip.address", "in", json!("blocked_ips"))]},
            leaf("scores.suspect", "between", json!([5, 20.5])),
            leaf("device.gpu", "matches", json!("(?i)swiftshader|llvmpipe")),
            leaf("signals.bot.reasons", "contains", json!("webdriver")),
        ]});
        let c = parse(v.clone()).expect("valid");
        assert_eq!(c.to_json(), v);
        assert_eq!(parse(c.to_json()).expect("reparses"), c);
        assert_eq!(c.summary(), ("OR", 5));
        assert_eq!(c.leaf_count(), 7);
        assert_eq!(c.list_names(), vec!["blocked_ips".to_owned()]);
    }

    #[test]
    fn exists_drops_a_null_value_and_refuses_a_real_one() {
        let c = parse(and(vec![
            json!({"field": "ip.city", "operator": "exists", "value": null}),
        ]))
        .expect("null value is no value");
        assert_eq!(
            c.to_json(),
            and(vec![json!({"field": "ip.city", "operator": "exists"})])
        );
        let e = error_at(vec![leaf("ip.city", "not_exists", json!("x"))]);
        assert_eq!(e.field, "conditions.rules[0].value");
    }

    #[test]
    fn the_top_must_be_a_group() {
        let e = parse(leaf("ip.country", "equals", json!("US"))).unwrap_err();
        assert_eq!(e.field, "conditions");
        let e = parse(json!([1])).unwrap_err();
        assert_eq!(e.field, "conditions");
        let e = parse(json!({"operator": "and", "rules": []})).unwrap_err();
        assert_eq!(e.field, "conditions.operator", "operators are upper-case");
        let e = parse(json!({"operator": "AND", "rules": []})).unwrap_err();
        assert_eq!(e.field, "conditions.rules", "a group needs a rule");
    }

    #[test]
    fn unknown_field_is_named() {
        let e = error_at(vec![
            leaf("ip.country", "equals", json!("US")),
            leaf("ip.contry", "equals", json!("US")),
        ]);
        assert_eq!(e.field, "conditions.rules[1].field");
        assert!(e.message.contains("ip.contry"), "{}", e.message);
        // `type` is spelt event.type.
        let e = error_at(vec![leaf("type", "equals", json!("login"))]);
        assert_eq!(e.field, "conditions.rules[0].field");
    }

    #[test]
    fn nested_paths_are_exact() {
        let e = parse(and(vec![
            leaf("ip.country", "equals", json!("US")),
            json!({"operator": "OR", "rules": [
                leaf("ip.city", "equals", json!("Berlin")),
                leaf("ip.city", "equals", json!("Paris")),
                leaf("ip.nope", "equals", json!("x")),
            ]}),
        ]))
        .unwrap_err();
        assert_eq!(e.field, "conditions.rules[1].rules[2].field");
    }

    #[test]
    fn operator_must_suit_the_field_type() {
        for (field, op) in [
            ("ip.country", "gt"),
            ("signals.tor", "contains"),
            ("signals.tor", "in"),
            ("signals.bot.reasons", "equals"),
            ("scores.bot", "starts_with"),
            ("ip.country", "between"),
        ] {
            let e = error_at(vec![leaf(field, op, json!(1))]);
            assert_eq!(e.field, "conditions.rules[0].operator", "{field} {op}");
            assert!(e.message.contains("takes:"), "{}", e.message);
        }
        let e = error_at(vec![leaf("ip.country", "like", json!("US"))]);
        assert_eq!(e.field, "conditions.rules[0].operator");
        assert!(e.message.contains("Unknown operator"), "{}", e.message);
    }

    #[test]
    fn value_must_have_the_field_type() {
        for (field, op, value, path) in [
            ("signals.tor", "equals", json!("true"), "value"),
            ("scores.suspect", "gt", json!("5"), "value"),
            ("ip.country", "equals", json!(1), "value"),
            ("ip.country", "in", json!(["US", 1]), "value[1]"),
            ("ip.asn", "in", json!([1, "2"]), "value[1]"),
            ("scores.bot", "between", json!([0.1]), "value"),
            ("scores.bot", "between", json!([0.1, "x"]), "value[1]"),
            ("ip.country", "in", json!([]), "value"),
            ("ip.country", "contains", json!(""), "value"),
            ("ip.country", "equals", Json::Null, "value"),
            ("device.type", "starts_with", json!(["d"]), "value"),
        ] {
            let e = error_at(vec![leaf(field, op, value.clone())]);
            assert_eq!(
                e.field,
                format!("conditions.rules[0].{path}"),
                "{field} {op} {value}"
            );
        }
        // A missing value.
        let e = error_at(vec![json!({"field": "ip.asn", "operator": "gte"})]);
        assert_eq!(e.field, "conditions.rules[0].value");
    }

    #[test]
    fn between_needs_low_at_most_high() {
        let e = error_at(vec![leaf("scores.suspect", "between", json!([10, 5]))]);
        assert_eq!(e.field, "conditions.rules[0].value");
        assert!(e.message.contains("low at most high"), "{}", e.message);
        assert!(parse(and(vec![leaf("scores.suspect", "between", json!([5, 5]))])).is_ok());
    }

    #[test]
    fn list_references_must_exist_with_the_right_type() {
        let e = error_at(vec![leaf("ip.address", "in", json!("nope"))]);
        assert_eq!(e.field, "conditions.rules[0].value");
        assert!(
            e.message.contains("No list named \"nope\""),
            "{}",
            e.message
        );

        let e = error_at(vec![leaf("ip.address", "not_in", json!("bad_emails"))]);
        assert_eq!(e.field, "conditions.rules[0].value");
        assert!(e.message.contains("ip list"), "{}", e.message);

        let e = error_at(vec![leaf("visitorId", "in", json!("blocked_ips"))]);
        assert_eq!(e.field, "conditions.rules[0].value");

        // A field with no list type cannot be looked up by name.
        let e = error_at(vec![leaf("ip.country", "in", json!("blocked_ips"))]);
        assert_eq!(e.field, "conditions.rules[0].value");

        for (field, list) in [
            ("ip.address", "blocked_ips"),
            ("event.linkedId", "bad_emails"),
            ("visitorId", "vips"),
        ] {
            assert!(parse(and(vec![leaf(field, "in", json!(list))])).is_ok());
        }
    }

    #[test]
    fn a_catalog_of_stored_rules_accepts_deleted_lists() {
        struct Stored;
        impl ListCatalog for Stored {
            fn list_type(&self, _: &str) -> Option<ListType> {
                None
            }
            fn accepts_unknown(&self) -> bool {
                true
            }
        }
        let v = and(vec![leaf("ip.address", "in", json!("gone"))]);
        let c = parse_conditions(&v, "conditions", &Stored).expect("loads");
        assert_eq!(c.list_names(), ["gone"]);
        let a = json!({"verdict": "block", "sideEffects": [{"type": "addToList", "list": "gone"}]});
        assert!(parse_action(&a, "action", &Stored).is_ok());
        assert!(parse_action(&a, "action", &Catalog).is_err());
    }

    #[test]
    fn bad_regexes_are_refused() {
        let e = error_at(vec![leaf("event.url", "matches", json!("(unclosed"))]);
        assert_eq!(e.field, "conditions.rules[0].value");
        assert!(
            e.message.contains("not a valid regular expression"),
            "{}",
            e.message
        );
        assert!(!e.message.contains('\n'), "one line: {}", e.message);

        let long = "a".repeat(MAX_REGEX_CHARS + 1);
        let e = error_at(vec![leaf("event.url", "matches", json!(long))]);
        assert_eq!(e.field, "conditions.rules[0].value");

        // Small to write, huge to compile: the size limit refuses it.
        let e = error_at(vec![leaf(
            "event.url",
            "matches",
            json!(r"\w{1000}\w{1000}"),
        )]);
        assert_eq!(e.field, "conditions.rules[0].value");
    }

    #[test]
    fn at_most_100_leaves() {
        let ok: Vec<Json> = (0..MAX_LEAVES)
            .map(|i| leaf("scores.suspect", "gt", json!(i)))
            .collect();
        assert!(parse(and(ok.clone())).is_ok());
        let mut over = ok;
        over.insert(
            3,
            json!({"operator": "OR", "rules": [leaf("ip.city", "exists", Json::Null)]}),
        );
        let e = error_at(over);
        // The 101st leaf in document order is the last one.
        assert_eq!(e.field, format!("conditions.rules[{MAX_LEAVES}]"));
    }

    #[test]
    fn at_most_8_groups_deep() {
        let mut v = leaf("ip.country", "equals", json!("US"));
        for _ in 0..MAX_DEPTH {
            v = and(vec![v]);
        }
        assert!(parse(v.clone()).is_ok(), "8 deep is fine");
        let e = parse(and(vec![v])).unwrap_err();
        let path = format!("conditions{}", ".rules[0]".repeat(MAX_DEPTH));
        assert_eq!(e.field, path);
    }

    #[test]
    fn not_takes_exactly_one_rule() {
        let e = error_at(vec![json!({"operator": "NOT", "rules": [
            leaf("signals.tor", "equals", json!(true)),
            leaf("signals.proxy", "equals", json!(true)),
        ]})]);
        assert_eq!(e.field, "conditions.rules[0].rules");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = error_at(vec![
            json!({"field": "ip.country", "operator": "equals", "value": "US", "foo": 1}),
        ]);
        assert_eq!(e.field, "conditions.rules[0].foo");
        let e = parse(json!({"operator": "AND", "rules": [leaf("signals.tor", "equals", json!(true))], "note": "x"}))
            .unwrap_err();
        assert_eq!(e.field, "conditions.note");
        let e = parse_action(
            &json!({"verdict": "block", "reason": "x"}),
            "action",
            &Catalog,
        )
        .unwrap_err();
        assert_eq!(e.field, "action.reason");
        let e = parse_action(
            &json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "k", "value": "v", "ttl": 3}]}),
            "action",
            &Catalog,
        )
        .unwrap_err();
        assert_eq!(e.field, "action.sideEffects[0].ttl");
    }

    #[test]
    fn inline_arrays_and_strings_are_bounded() {
        let many: Vec<Json> = (0..=MAX_ARRAY_ITEMS)
            .map(|i| json!(format!("c{i}")))
            .collect();
        let e = error_at(vec![leaf("ip.country", "in", Json::Array(many))]);
        assert_eq!(e.field, "conditions.rules[0].value");
        let long = "x".repeat(MAX_STRING_CHARS + 1);
        let e = error_at(vec![leaf("ip.country", "equals", json!(long))]);
        assert_eq!(e.field, "conditions.rules[0].value");
    }

    #[test]
    fn actions_parse_and_round_trip() {
        let v = json!({"verdict": "challenge", "sideEffects": [
            {"type": "addToList", "list": "blocked_ips", "ttl": 3600},
            {"type": "addToList", "list": "vips"},
            {"type": "removeFromList", "list": "bad_emails"},
            {"type": "tag", "key": "risk.level-1_x", "value": "high"},
        ]});
        let a = parse_action(&v, "action", &Catalog).expect("valid");
        assert_eq!(a.verdict, Verdict::Challenge);
        assert_eq!(
            a.side_effects[0],
            SideEffect::AddToList {
                list: "blocked_ips".into(),
                ttl: Some(3600)
            }
        );
        assert_eq!(a.to_json(), v);
        let bare = parse_action(&json!({"verdict": "allow"}), "action", &Catalog).expect("valid");
        assert_eq!(
            bare.to_json(),
            json!({"verdict": "allow", "sideEffects": []})
        );
    }

    #[test]
    fn action_errors_have_exact_paths() {
        let cases = [
            (json!({"verdict": "deny"}), "action.verdict"),
            (json!({}), "action.verdict"),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "addToList", "list": "nope"}]}),
                "action.sideEffects[0].list",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "addToList", "list": "vips", "ttl": 0}]}),
                "action.sideEffects[0].ttl",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "addToList", "list": "vips", "ttl": 1.5}]}),
                "action.sideEffects[0].ttl",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "addToList", "list": "vips", "ttl": MAX_TTL_S + 1}]}),
                "action.sideEffects[0].ttl",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "removeFromList"}]}),
                "action.sideEffects[0].list",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "a b", "value": "v"}]}),
                "action.sideEffects[0].key",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "k", "value": "v".repeat(201)}]}),
                "action.sideEffects[0].value",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "k".repeat(65), "value": "v"}]}),
                "action.sideEffects[0].key",
            ),
            (
                json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "k", "value": "v"}, {"type": "email"}]}),
                "action.sideEffects[1].type",
            ),
            (
                json!({"verdict": "block", "sideEffects": {"type": "tag"}}),
                "action.sideEffects",
            ),
        ];
        for (v, path) in cases {
            let e = parse_action(&v, "action", &Catalog).expect_err(&v.to_string());
            assert_eq!(e.field, path, "{v}");
        }
        let eleven: Vec<Json> = (0..=MAX_SIDE_EFFECTS)
            .map(|i| json!({"type": "tag", "key": format!("k{i}"), "value": "v"}))
            .collect();
        let e = parse_side_effects(&Json::Array(eleven), "sideEffects", &Catalog).unwrap_err();
        assert_eq!(e.field, "sideEffects");
    }

    #[test]
    fn error_display_is_the_message() {
        let e = error_at(vec![leaf("ip.nope", "equals", json!("x"))]);
        assert_eq!(e.to_string(), e.message);
    }
}
