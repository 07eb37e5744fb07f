//! Property tests of the rules engine's input parsers, with structure-aware random inputs:
//!
//! - conditions (`parse_conditions`) and actions (`parse_action`): any JSON is parsed or
//!   refused with a `RuleError` naming a path under the top, never a panic; what parses prints
//!   back (`to_json`) to JSON, and to text, that parses to the same tree; generated valid trees
//!   survive the round trip unchanged; a parsed tree compiles and evaluates on any facts;
//! - the stored-event reader: `Facts::from_json` gives exactly what `Facts::from_event` gives
//!   on the parsed JSON, for any JSON shaped like an event;
//! - list entries (`normalise_entry`, `ListData`): normalising is idempotent, and a list
//!   holds exactly what was put in it (an address inside an inserted range matches, one outside
//!   does not; an email matches in any case).
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use proptest::prelude::*;
use prynt_rules::condition::{
    parse_action, parse_conditions, Action, Condition, GroupOp, ListCatalog, Operator, SideEffect,
    Verdict, MAX_DEPTH, MAX_LEAVES,
};
use prynt_rules::eval::{compile, ListLookup};
use prynt_rules::facts::{Facts, Value};
use prynt_rules::fields::{FieldType, ListType, FIELDS};
use prynt_rules::lists::{normalise_entry, ListData};
use serde_json::{json, Map, Value as Json};

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Inputs a property skips (`prop_assume!`) stay a small share however long the run.
    c.max_global_rejects = c.max_global_rejects.max(c.cases / 20);
    c
}

/// The lists a rule may name here: one of each type.
struct Catalog;

impl ListCatalog for Catalog {
    fn list_type(&self, name: &str) -> Option<ListType> {
        match name {
            "vips" => Some(ListType::Visitor),
            "blocked_ips" => Some(ListType::Ip),
            "bad_emails" => Some(ListType::Email),
            _ => None,
        }
    }
}

/// List lookups that answer by a fixed rule of thumb (or "no such list").
struct Lookups(u8);

impl ListLookup for Lookups {
    fn contains(&self, list: &str, value: &str, _now_s: i64) -> Option<bool> {
        match self.0 % 3 {
            0 => None,
            1 => Some(value.len().is_multiple_of(2)),
            _ => Some(list.len() > value.len()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON, biased towards the shapes the parsers look for.

fn words() -> impl Strategy<Value = String> {
    let field = proptest::sample::select(FIELDS.iter().map(|f| f.path).collect::<Vec<_>>());
    let op = proptest::sample::select(
        Operator::ALL
            .iter()
            .map(|o| o.as_str())
            .chain(["AND", "OR", "NOT", "and", "Or"])
            .collect::<Vec<_>>(),
    );
    let other = proptest::sample::select(vec![
        "allow",
        "challenge",
        "block",
        "addToList",
        "removeFromList",
        "tag",
        "vips",
        "blocked_ips",
        "bad_emails",
        "",
    ]);
    prop_oneof![
        3 => field.prop_map(str::to_owned),
        3 => op.prop_map(str::to_owned),
        2 => other.prop_map(str::to_owned),
        1 => "[a-z.]{0,12}",
        1 => any::<String>(),
        // The regex engine's own syntax, for `matches`.
        1 => "[a-z()\\[\\]{}|*+?.^$\\\\0-9,]{0,24}",
    ]
}

fn number() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from), // NaN and infinities become null
        (-1e3f64..1e3).prop_map(Json::from),
    ]
}

fn json_leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number(),
        words().prop_map(Json::String),
    ]
}

/// Any JSON; objects mostly keyed by what conditions, actions and events use.
fn any_json() -> impl Strategy<Value = Json> {
    json_of_size(10, 160)
}

fn json_of_size(depth: u32, nodes: u32) -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        4 => proptest::sample::select(vec![
            "operator", "rules", "field", "value", "verdict", "sideEffects", "type", "list",
            "ttl", "key",
        ])
        .prop_map(str::to_owned),
        1 => words(),
    ];
    json_leaf().prop_recursive(depth, nodes, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Valid conditions and actions, generated as typed trees.

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{1,40}", "\\PC{1,20}"]
}

fn scalar_of(ty: FieldType) -> BoxedStrategy<Json> {
    match ty {
        FieldType::Bool => any::<bool>().prop_map(Json::Bool).boxed(),
        FieldType::Number => prop_oneof![
            any::<i64>().prop_map(Json::from),
            (-1e12f64..1e12).prop_map(Json::from),
        ]
        .boxed(),
        FieldType::String | FieldType::StringList => string_value().prop_map(Json::String).boxed(),
    }
}

fn value_for(field: usize, op: Operator) -> BoxedStrategy<Json> {
    use Operator::*;
    let def = &FIELDS[field];
    match op {
        Exists | NotExists => Just(Json::Null).boxed(),
        Equals | NotEquals => scalar_of(def.ty),
        Gt | Gte | Lt | Lte => scalar_of(FieldType::Number),
        Between => (-1e9f64..1e9, 0f64..1e9)
            .prop_map(|(lo, width)| json!([lo, lo + width]))
            .boxed(),
        In | NotIn => {
            let inline = proptest::collection::vec(scalar_of(def.ty), 1..6).prop_map(Json::Array);
            match def.list {
                Some(ListType::Visitor) => prop_oneof![inline, Just(json!("vips"))].boxed(),
                Some(ListType::Ip) => prop_oneof![inline, Just(json!("blocked_ips"))].boxed(),
                Some(ListType::Email) => prop_oneof![inline, Just(json!("bad_emails"))].boxed(),
                None => inline.boxed(),
            }
        }
        Contains | NotContains | StartsWith | EndsWith => {
            string_value().prop_map(Json::String).boxed()
        }
        Matches => prop_oneof![
            string_value().prop_map(|s| regex::escape(&s)),
            proptest::sample::select(vec![
                "^pv_[0-9A-Za-z]{13}$",
                "(?i)headless",
                "bot|crawler|spider",
                "^[a-z]+\\.example$",
                "\\d{3,}",
            ])
            .prop_map(str::to_owned),
        ]
        .prop_map(Json::String)
        .boxed(),
    }
}

fn valid_leaf() -> impl Strategy<Value = Condition> {
    (0..FIELDS.len(), any::<proptest::sample::Index>())
        .prop_flat_map(|(field, pick)| {
            let ops: Vec<Operator> = Operator::ALL
                .into_iter()
                .filter(|o| o.applies_to(FIELDS[field].ty))
                .collect();
            let op = ops[pick.index(ops.len())];
            (Just(field), Just(op), value_for(field, op))
        })
        .prop_map(|(field, op, value)| Condition::Leaf {
            field: field as u16,
            op,
            value,
        })
}

fn valid_condition() -> impl Strategy<Value = Condition> {
    // Depth: the top group plus at most MAX_DEPTH - 1 more; leaves stay far below the cap.
    let group = |inner: BoxedStrategy<Condition>| {
        prop_oneof![
            (
                prop_oneof![Just(GroupOp::And), Just(GroupOp::Or)],
                proptest::collection::vec(inner.clone(), 1..5)
            )
                .prop_map(|(op, rules)| Condition::Group { op, rules }),
            inner.prop_map(|r| Condition::Group {
                op: GroupOp::Not,
                rules: vec![r]
            }),
        ]
    };
    let tree = valid_leaf().prop_recursive((MAX_DEPTH - 1) as u32, 60, 4, move |inner| {
        group(inner.boxed())
    });
    // The top of a condition is always a group.
    tree.prop_map(|c| match c {
        g @ Condition::Group { .. } => g,
        leaf => Condition::Group {
            op: GroupOp::And,
            rules: vec![leaf],
        },
    })
    .prop_filter("within the leaf cap", |c| c.leaf_count() <= MAX_LEAVES)
}

fn valid_action() -> impl Strategy<Value = Action> {
    let effect = prop_oneof![
        (
            proptest::sample::select(vec!["vips", "blocked_ips", "bad_emails"]),
            proptest::option::of(1u64..=315_360_000)
        )
            .prop_map(|(l, ttl)| SideEffect::AddToList {
                list: l.into(),
                ttl
            }),
        proptest::sample::select(vec!["vips", "blocked_ips", "bad_emails"])
            .prop_map(|l| SideEffect::RemoveFromList { list: l.into() }),
        ("[A-Za-z0-9_.-]{1,64}", "\\PC{0,50}")
            .prop_map(|(key, value)| SideEffect::Tag { key, value }),
    ];
    (
        proptest::sample::select(vec![Verdict::Allow, Verdict::Challenge, Verdict::Block]),
        proptest::collection::vec(effect, 0..=10),
    )
        .prop_map(|(verdict, side_effects)| Action {
            verdict,
            side_effects,
        })
}

fn depth(c: &Condition) -> usize {
    match c {
        Condition::Group { rules, .. } => 1 + rules.iter().map(depth).max().unwrap_or(0),
        Condition::Leaf { .. } => 0,
    }
}

/// Facts with each field present or missing, of its type or (deliberately) not.
fn any_facts() -> impl Strategy<Value = Facts> {
    let value = prop_oneof![
        Just(Value::Missing),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::Num),
        string_value().prop_map(|s| Value::Str(Arc::from(s))),
        proptest::collection::vec(string_value(), 0..4).prop_map(|v| Value::List(
            v.into_iter()
                .map(Arc::from)
                .collect::<Vec<Arc<str>>>()
                .into()
        )),
    ];
    proptest::collection::vec(value, FIELDS.len()).prop_map(|values| {
        let mut f = Facts::new();
        for (i, v) in values.into_iter().enumerate() {
            f.set(i as u16, v);
        }
        f
    })
}

/// Whether two JSON values are equal but for numbers one unit in the last place apart: the
/// most that reading printed JSON text back can move a number, since serde_json's default
/// number parser is not correctly rounded (docs/fuzzing.md, findings).
fn same_up_to_parsing(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(x), Some(y)) => x.to_bits().abs_diff(y.to_bits()) <= 1,
            _ => false,
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_up_to_parsing(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same_up_to_parsing(x, y))
        }
        _ => a == b,
    }
}

/// The same tree after printing to canonical JSON and reading it back, as text too (rules are
/// stored as text).
fn reparsed(c: &Condition) -> (Condition, Condition) {
    let printed = c.to_json();
    let again = parse_conditions(&printed, "conditions", &Catalog)
        .unwrap_or_else(|e| panic!("printed conditions refused: {e:?}: {printed}"));
    let text: Json = serde_json::from_str(&printed.to_string()).expect("printed JSON parses");
    let from_text = parse_conditions(&text, "conditions", &Catalog)
        .unwrap_or_else(|e| panic!("stored conditions refused: {e:?}: {text}"));
    (again, from_text)
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn any_json_condition_parses_or_is_refused_with_a_path(v in any_json(), wrap in any::<bool>()) {
        // Half the inputs inside a valid top group, so the parser gets past the top.
        let v = if wrap { json!({"operator": "AND", "rules": [v]}) } else { v };
        match parse_conditions(&v, "conditions", &Catalog) {
            Err(e) => {
                prop_assert!(e.field.starts_with("conditions"), "{:?}", e);
                prop_assert!(!e.message.is_empty());
            }
            Ok(c) => {
                prop_assert!(c.leaf_count() <= MAX_LEAVES && depth(&c) <= MAX_DEPTH);
                let (again, from_text) = reparsed(&c);
                prop_assert_eq!(&again, &c);
                prop_assert!(same_up_to_parsing(&from_text.to_json(), &c.to_json()), "{:?}", from_text);
                prop_assert_eq!(again.to_json(), c.to_json());
            }
        }
    }

    #[test]
    fn valid_conditions_round_trip_and_evaluate(
        c in valid_condition(), facts in any_facts(), lists in any::<u8>(),
        now in 0i64..10_000_000_000,
    ) {
        let (again, from_text) = reparsed(&c);
        prop_assert_eq!(&again, &c);
        prop_assert!(same_up_to_parsing(&from_text.to_json(), &c.to_json()), "{:?}", from_text);
        let compiled = compile(&c);
        let tri = compiled.eval(&facts, &Lookups(lists), now);
        prop_assert_eq!(compiled.matches(&facts, &Lookups(lists), now), tri == prynt_rules::eval::Tri::True);
    }

    #[test]
    fn any_json_action_parses_or_is_refused_with_a_path(v in any_json()) {
        match parse_action(&v, "action", &Catalog) {
            Err(e) => prop_assert!(e.field.starts_with("action"), "{:?}", e),
            Ok(a) => {
                let printed = a.to_json();
                let again = parse_action(&printed, "action", &Catalog);
                prop_assert_eq!(again.as_ref(), Ok(&a), "{}", printed);
            }
        }
    }

    #[test]
    fn valid_actions_round_trip(a in valid_action()) {
        let printed = a.to_json();
        prop_assert_eq!(parse_action(&printed, "action", &Catalog), Ok(a));
    }
}

// ---------------------------------------------------------------------------------------------
// The stored-event reader against the JSON tree reader.

/// JSON shaped like a stored event: the catalogue's paths with values of any type, other keys,
/// and the same key twice now and then (serde_json keeps the last).
fn event_text() -> impl Strategy<Value = String> {
    let path = proptest::sample::select(FIELDS.iter().map(|f| f.path).collect::<Vec<_>>());
    let entry = (path, json_of_size(3, 12), any::<bool>());
    proptest::collection::vec(entry, 0..16).prop_map(|entries| {
        // Build the text by hand so duplicate keys survive.
        let mut root: Vec<(String, String)> = Vec::new();
        for (path, value, twice) in entries {
            let keys: Vec<&str> = path
                .strip_prefix("event.")
                .unwrap_or(path)
                .split('.')
                .collect();
            let mut text = value.to_string();
            for k in keys[1..].iter().rev() {
                text = format!("{{{}:{text}}}", Json::from(*k));
            }
            root.push((keys[0].to_owned(), text.clone()));
            if twice {
                root.push((keys[0].to_owned(), "null".into()));
            }
        }
        let members: Vec<String> = root
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", Json::from(k)))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

fn same_facts(a: &Facts, b: &Facts) -> Result<(), String> {
    for (i, def) in FIELDS.iter().enumerate() {
        if a.get(i as u16) != b.get(i as u16) {
            return Err(format!(
                "{}: {:?} != {:?}",
                def.path,
                a.get(i as u16),
                b.get(i as u16)
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn reading_facts_from_text_equals_reading_them_from_the_tree(text in event_text()) {
        let tree: Json = serde_json::from_str(&text).expect("generated JSON parses");
        let streamed = Facts::from_json(&text).expect("what parses as a tree streams too");
        if let Err(e) = same_facts(&streamed, &Facts::from_event(&tree)) {
            return Err(TestCaseError::fail(format!("{e}\n{text}")));
        }
    }

    #[test]
    fn reading_facts_from_any_text_never_panics(text in prop_oneof![
        any::<String>(),
        any_json().prop_map(|v| v.to_string()),
        // Cut short anywhere.
        (event_text(), any::<proptest::sample::Index>()).prop_map(|(t, at)| {
            let chars: Vec<char> = t.chars().collect();
            chars[..at.index(chars.len() + 1)].iter().collect()
        }),
    ]) {
        let _ = Facts::from_json(&text);
    }
}

// ---------------------------------------------------------------------------------------------
// List entries.

fn ip_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|a| Ipv4Addr::from(a).to_string()),
        any::<u128>().prop_map(|a| Ipv6Addr::from(a).to_string()),
        any::<u32>().prop_map(|a| Ipv4Addr::from(a).to_ipv6_mapped().to_string()),
        (any::<u32>(), 0u8..=40).prop_map(|(a, l)| format!("{}/{l}", Ipv4Addr::from(a))),
        (any::<u128>(), 0u8..=140).prop_map(|(a, l)| format!("{}/{l}", Ipv6Addr::from(a))),
        (any::<u32>(), 90u8..=130)
            .prop_map(|(a, l)| format!("{}/{l}", Ipv4Addr::from(a).to_ipv6_mapped())),
        "[0-9a-fA-F:./ ]{0,45}",
    ]
}

fn email_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ ]{0,2}[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,12}\\.[A-Za-z]{2,6}[ ]{0,2}",
        "\\PC{1,10}@\\PC{1,10}\\.\\PC{1,5}",
        "[A-Za-z@. ]{0,30}",
        any::<String>(),
    ]
}

fn in_v4(net: u32, len: u8, a: u32) -> bool {
    len == 0 || (net ^ a) >> (32 - u32::from(len)) == 0
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn normalising_an_entry_is_idempotent(
        ty in proptest::sample::select(vec![ListType::Visitor, ListType::Ip, ListType::Email]),
        raw in prop_oneof![ip_text(), email_text(), "pv_[0-9A-Za-z]{13}", any::<String>()],
    ) {
        if let Ok(n) = normalise_entry(ty, &raw) {
            prop_assert_eq!(normalise_entry(ty, &n), Ok(n.clone()), "{:?}", raw);
            let mut list = ListData::new(ty);
            list.insert(raw.clone(), None);
            prop_assert!(list.contains(&n, 0) || ty == ListType::Ip && n.contains('/'));
            prop_assert!(list.remove(&n));
            prop_assert_eq!(list.live_len(0), 0);
        }
    }

    #[test]
    fn an_ipv4_range_holds_exactly_its_addresses(net in any::<u32>(), len in 0u8..=32, probe in any::<u32>(), inside in any::<u32>()) {
        let mut list = ListData::new(ListType::Ip);
        list.insert(format!("{}/{len}", Ipv4Addr::from(net)), None);
        // An address of the range, written plain and IPv4-mapped.
        let keep = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
        let member = (net & keep) | (inside & !keep);
        prop_assert!(list.contains(&Ipv4Addr::from(member).to_string(), 0));
        prop_assert!(list.contains(&Ipv4Addr::from(member).to_ipv6_mapped().to_string(), 0));
        prop_assert_eq!(list.contains(&Ipv4Addr::from(probe).to_string(), 0), in_v4(net, len, probe));
    }

    #[test]
    fn an_ipv6_range_holds_exactly_its_addresses(net in any::<u128>(), len in 0u8..=128, probe in any::<u128>()) {
        // Ranges inside ::ffff:0:0/96 are IPv4 ranges; leave them to the IPv4 property.
        prop_assume!(Ipv6Addr::from(net).to_ipv4_mapped().is_none() && Ipv6Addr::from(probe).to_ipv4_mapped().is_none());
        let mut list = ListData::new(ListType::Ip);
        list.insert(format!("{}/{len}", Ipv6Addr::from(net)), None);
        let inside = len == 0 || (net ^ probe) >> (128 - u32::from(len)) == 0;
        prop_assert_eq!(list.contains(&IpAddr::V6(Ipv6Addr::from(probe)).to_string(), 0), inside);
        prop_assert!(list.contains(&Ipv6Addr::from(net).to_string(), 0));
    }

    #[test]
    fn an_email_entry_is_lower_cased_and_matches_in_any_case(raw in email_text(), upper in any::<bool>()) {
        if let Ok(n) = normalise_entry(ListType::Email, &raw) {
            prop_assert_eq!(&n, &raw.trim().to_lowercase());
            let mut list = ListData::new(ListType::Email);
            list.insert(raw.clone(), None);
            let variant = if upper { raw.to_uppercase() } else { raw.to_lowercase() };
            // Emails compare trimmed and lower-cased.
            let expected = variant.trim().to_lowercase() == n;
            prop_assert_eq!(list.contains(&format!(" {variant} "), 0), expected, "{:?} as {:?}", raw, variant);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the properties found, kept as named cases (the seeds are in
// `fuzz_rules.proptest-regressions` too).

/// Title-case letters (`ῼ`, `ǅ`) are not upper-case, so an email holding one was stored as
/// given while a lower-cased spelling of it was looked up lower-cased: the entry never matched.
#[test]
fn regression_an_email_with_a_title_case_letter_is_lower_cased() {
    assert_eq!(
        normalise_entry(ListType::Email, "a@!.ῼ").as_deref(),
        Ok("a@!.ῳ")
    );
    let mut list = ListData::new(ListType::Email);
    list.insert("ǅemal@example.com".into(), None);
    for spelling in [
        "ǆemal@example.com",
        "Ǆemal@EXAMPLE.com",
        " ǅemal@example.com ",
    ] {
        assert!(list.contains(spelling, 0), "{spelling}");
    }
}

/// A key that appears twice counted as its first value when the later one was `null` or of
/// the wrong type (and merged nested objects), where the JSON tree keeps only the last.
#[test]
fn regression_a_repeated_key_counts_as_its_last_occurrence() {
    for text in [
        r#"{"signals":{"tamperedReasons":[]},"signals":null}"#,
        r#"{"ip":{"address":"192.0.2.1","country":"FR"},"ip":{"country":"US"}}"#,
        r#"{"scores":{"bot":0.5,"bot":"high"}}"#,
        r#"{"visitorId":"pv_a","visitorId":null}"#,
    ] {
        let tree: Json = serde_json::from_str(text).unwrap();
        let streamed = Facts::from_json(text).unwrap();
        assert_eq!(
            same_facts(&streamed, &Facts::from_event(&tree)),
            Ok(()),
            "{text}"
        );
    }
}

/// serde_json's default number parser is not correctly rounded: a rule's bound printed as
/// `1302718798.5861125` reads back from stored text as the double next to it. Known and left
/// (docs/fuzzing.md): the difference is at most one unit in the last place.
#[test]
fn regression_a_stored_number_reads_back_within_one_unit_in_the_last_place() {
    let printed = Json::from(1_302_718_798.586_112_5_f64).to_string();
    let back: Json = serde_json::from_str(&printed).unwrap();
    assert!(same_up_to_parsing(
        &back,
        &Json::from(1_302_718_798.586_112_5_f64)
    ));
}
