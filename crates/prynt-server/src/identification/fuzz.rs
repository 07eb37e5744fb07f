//! Property tests of how an identify body is read (`extract::parse_json` into the agent's
//! `IdentifyRequest`), with structure-aware random bodies: any bytes are read or refused as a
//! 400 naming a field, never a panic; a body that names one key twice in any object is refused
//! and one that does not is read exactly as serde_json reads it, however its keys are escaped;
//! whole floats stand for integers and other floats do not.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use proptest::prelude::*;
use prynt_core::agent::IdentifyRequest;
use serde_json::Value as Json;

use crate::error::ApiError;
use crate::extract::parse_json;

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Inputs a property skips (`prop_assume!`) stay a small share however long the run.
    c.max_global_rejects = c.max_global_rejects.max(c.cases / 20);
    c
}

/// A JSON value kept as written: objects are member lists, so keys may repeat, and a key may
/// be spelt with escapes.
#[derive(Debug, Clone)]
enum Doc {
    Leaf(Json),
    Array(Vec<Doc>),
    Object(Vec<(String, bool, Doc)>),
}

impl Doc {
    fn text(&self) -> String {
        match self {
            Doc::Leaf(v) => v.to_string(),
            Doc::Array(items) => {
                let inner: Vec<String> = items.iter().map(Doc::text).collect();
                format!("[{}]", inner.join(","))
            }
            Doc::Object(members) => {
                let inner: Vec<String> = members
                    .iter()
                    .map(|(k, escaped, v)| format!("{}:{}", key_text(k, *escaped), v.text()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }

    /// Whether some object, at any depth, names a key twice.
    fn repeats_a_key(&self) -> bool {
        match self {
            Doc::Leaf(_) => false,
            Doc::Array(items) => items.iter().any(Doc::repeats_a_key),
            Doc::Object(members) => {
                let mut seen = std::collections::HashSet::new();
                members.iter().any(|(k, _, _)| !seen.insert(k.as_str()))
                    || members.iter().any(|(_, _, v)| v.repeats_a_key())
            }
        }
    }
}

/// A key as JSON text; `escaped` writes every character as a `\u` escape.
fn key_text(k: &str, escaped: bool) -> String {
    if !escaped {
        return Json::from(k).to_string();
    }
    let mut out = String::from("\"");
    for unit in k.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

fn doc() -> impl Strategy<Value = Doc> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        (-1e6f64..1e6).prop_map(Json::from),
        "\\PC{0,12}".prop_map(Json::String),
    ]
    .prop_map(Doc::Leaf);
    // Few distinct keys, so repeats are common; some beyond the linear scan's reach (16).
    let key = prop_oneof![
        4 => proptest::sample::select(vec!["a", "b", "c", "components", "tag", "é", "\u{1F600}"])
            .prop_map(str::to_owned),
        1 => "k[0-9]{1,2}",
        1 => any::<String>(),
    ];
    leaf.prop_recursive(5, 80, 24, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Doc::Array),
            proptest::collection::vec((key.clone(), any::<bool>(), inner), 0..24)
                .prop_map(Doc::Object),
        ]
    })
}

fn top_object() -> impl Strategy<Value = Doc> {
    proptest::collection::vec(
        (
            proptest::sample::select(vec!["x", "y", "tag", "z"]).prop_map(str::to_owned),
            any::<bool>(),
            doc(),
        ),
        0..6,
    )
    .prop_map(Doc::Object)
}

fn refused(e: &ApiError) -> Result<String, TestCaseError> {
    match e {
        ApiError::Validation {
            field: Some(field),
            message,
        } if !field.is_empty() && !message.is_empty() => Ok(message.clone()),
        other => Err(TestCaseError::fail(format!(
            "not a validation error: {other:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn a_repeated_key_anywhere_is_refused_and_nothing_else_is(d in top_object()) {
        let text = d.text();
        match parse_json::<Json>(text.as_bytes()) {
            Ok(v) => {
                prop_assert!(!d.repeats_a_key(), "a repeated key was read: {}", text);
                let plain: Json = serde_json::from_str(&text).expect("serde_json reads it");
                prop_assert_eq!(v, plain);
            }
            Err(e) => {
                let message = refused(&e)?;
                let nested_too_deep = serde_json::from_str::<Json>(&text).is_err();
                prop_assert!(
                    d.repeats_a_key() && message.starts_with("Duplicate key") || nested_too_deep,
                    "{} refused: {}", text, message
                );
            }
        }
    }

    #[test]
    fn any_body_is_read_or_refused_naming_a_field(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        top_object().prop_map(|d| d.text().into_bytes()),
        (top_object(), any::<proptest::sample::Index>(), any::<u8>()).prop_map(|(d, at, b)| {
            let mut bytes = d.text().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = b;
            bytes
        }),
    ]) {
        match parse_json::<IdentifyRequest>(&bytes) {
            Ok(req) => {
                let _ = req.validate();
            }
            Err(e) => {
                refused(&e)?;
            }
        }
    }

    #[test]
    fn whole_floats_stand_for_integers(
        n in 0u32..=1024, frac in 1u32..1000, member in proptest::sample::select(vec![
            ("hardwareConcurrency", "components.hardwareConcurrency"),
            ("maxTouchPoints", "components.maxTouchPoints"),
        ]),
    ) {
        let (name, path) = member;
        let whole = format!("{{\"components\": {{\"{name}\": {n}.0}}}}");
        let req = parse_json::<IdentifyRequest>(whole.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{whole}: {e:?}")))?;
        let read = serde_json::to_value(&req.components).expect("prints");
        prop_assert_eq!(&read[name], &Json::from(n));
        let broken = format!("{{\"components\": {{\"{name}\": {n}.{frac}}}}}");
        match parse_json::<IdentifyRequest>(broken.as_bytes()) {
            Err(ApiError::Validation { field, .. }) => prop_assert_eq!(field.as_deref(), Some(path)),
            other => prop_assert!(false, "{} read as {:?}", broken, other.map(|r| r.components.hardware_concurrency)),
        }
    }
}
