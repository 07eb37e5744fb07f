//! Property tests of the identify payload's decoding (`IdentifyRequest`, read by serde with
//! the object-only members of `shape`) and validation (`IdentifyRequest::validate`), with
//! structure-aware random payloads:
//!
//! - any JSON text or bytes decode or fail with serde's typed error, and whatever decodes
//!   validates or fails with the path of a real member, never a panic;
//! - generated payloads within every documented limit decode, validate, and keep every value
//!   they carried through a print and a second decode (`Serialize` is the printer);
//! - one value pushed past its limit is refused, naming exactly that member.
//!
//! The server's own body reader (duplicate keys, whole floats for integers) has its
//! properties next to it, in `prynt-server`'s `identification::fuzz`.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use proptest::prelude::*;
use prynt_core::agent::IdentifyRequest;
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

/// A JSON object of the members that `pick` keeps (so each member is present or absent).
fn object(members: Vec<(&'static str, Option<Json>)>) -> Json {
    Json::Object(
        members
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect::<Map<_, _>>(),
    )
}

fn text(max: usize) -> BoxedStrategy<Json> {
    prop_oneof![
        proptest::string::string_regex(&format!("[ -~]{{0,{}}}", max.min(64))).expect("a regex"),
        proptest::string::string_regex(&format!("\\PC{{0,{}}}", max.min(24))).expect("a regex"),
    ]
    .prop_map(Json::String)
    .boxed()
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    proptest::option::of(s).boxed()
}

fn uint(max: u32) -> BoxedStrategy<Json> {
    (0..=max).prop_map(Json::from).boxed()
}

fn float(min: f64, max: f64) -> BoxedStrategy<Json> {
    prop_oneof![
        (min..=max).prop_map(Json::from),
        Just(Json::from(min)),
        Just(Json::from(max))
    ]
    .boxed()
}

fn list(items: usize, len: usize) -> BoxedStrategy<Json> {
    proptest::collection::vec(text(len), 0..=items.min(12))
        .prop_map(Json::Array)
        .boxed()
}

fn tag() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i32>().prop_map(Json::from),
        text(30),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
    .prop_map(|v| json!({ "data": v }))
    .boxed()
}

fn screen() -> BoxedStrategy<Json> {
    (
        opt(uint(100_000)),
        opt(uint(100_000)),
        opt(uint(100_000)),
        opt(uint(100_000)),
        opt(uint(64)),
        opt(float(0.0, 16.0)),
    )
        .prop_map(|(w, h, aw, ah, cd, pr)| {
            object(vec![
                ("w", w),
                ("h", h),
                ("availW", aw),
                ("availH", ah),
                ("colorDepth", cd),
                ("pixelRatio", pr),
            ])
        })
        .boxed()
}

fn ua_data() -> BoxedStrategy<Json> {
    let brand = (text(64), text(64)).prop_map(|(b, v)| json!({"brand": b, "version": v}));
    (
        proptest::collection::vec(brand.clone(), 0..4),
        proptest::collection::vec(brand, 0..4),
        opt(any::<bool>().prop_map(Json::Bool)),
        opt(text(64)),
        opt(text(64)),
    )
        .prop_map(|(brands, full, mobile, platform, model)| {
            object(vec![
                ("brands", Some(Json::Array(brands))),
                ("fullVersionList", Some(Json::Array(full))),
                ("mobile", mobile),
                ("platform", platform),
                ("model", model),
            ])
        })
        .boxed()
}

fn webgl() -> BoxedStrategy<Json> {
    (
        opt(text(256)),
        opt(text(256)),
        opt(text(256)),
        opt(text(128)),
        opt(text(128)),
    )
        .prop_map(|(vendor, renderer, unmasked, params, render)| {
            object(vec![
                ("vendor", vendor),
                ("renderer", renderer),
                ("unmaskedRenderer", unmasked),
                ("params", params),
                ("render", render),
            ])
        })
        .boxed()
}

fn integrity() -> BoxedStrategy<Json> {
    let realm = (opt(text(1024)), opt(uint(1024)), opt(text(256))).prop_map(|(ua, hc, gpu)| {
        object(vec![
            ("userAgent", ua),
            ("hardwareConcurrency", hc),
            ("gpu", gpu),
        ])
    });
    (list(64, 128), opt(realm.clone()), opt(realm))
        .prop_map(|(lies, iframe, worker)| {
            object(vec![
                ("lies", Some(lies)),
                ("iframe", iframe),
                ("worker", worker),
            ])
        })
        .boxed()
}

fn behavior() -> BoxedStrategy<Json> {
    (
        opt(uint(u32::MAX)),
        opt(uint(u32::MAX)),
        opt(float(0.0, 86_400_000.0)),
        opt(float(0.0, 1_000.0)),
    )
        .prop_map(|(moves, clicks, hold, cv)| {
            object(vec![
                ("moves", moves),
                ("clicks", clicks),
                ("clickHoldMs", hold),
                ("keyGapCv", cv),
            ])
        })
        .boxed()
}

fn components() -> BoxedStrategy<Json> {
    let a = (
        opt(text(1024)),
        opt(ua_data()),
        opt(text(128)),
        opt(text(32)),
        opt(list(32, 64)),
        opt((-1440i32..=1440).prop_map(Json::from)),
        opt(screen()),
        opt(uint(1024)),
        opt(float(0.0, 1024.0)),
        opt(uint(256)),
    );
    let b = (
        opt(any::<bool>().prop_map(Json::Bool)),
        opt(text(16)),
        opt((text(128), text(128)).prop_map(|(t, g)| json!({"text": t, "geometry": g}))),
        opt(webgl()),
        opt((text(128), float(-1e9, 1e9)).prop_map(|(h, s)| json!({"hash": h, "sum": s}))),
        opt(list(256, 64)),
        opt((float(0.0, 1e15), float(-1e12, 1e12))
            .prop_map(|(q, d)| json!({"quota": q, "cacheDelta": d, "indexedDB": true}))),
        opt(integrity()),
        opt(behavior()),
        opt(float(0.0, 600_000.0).prop_map(|c| json!({"collectMs": c}))),
    );
    (a, b)
        .prop_map(
            |(
                (ua, uad, platform, product_sub, langs, tz_off, screen, hc, mem, touch),
                (cookies, dnt, canvas, webgl, audio, fonts, storage, integrity, behavior, timing),
            )| {
                object(vec![
                    ("userAgent", ua),
                    ("uaData", uad),
                    ("platform", platform),
                    ("productSub", product_sub),
                    ("languages", langs),
                    ("timezoneOffset", tz_off),
                    ("screen", screen),
                    ("hardwareConcurrency", hc),
                    ("deviceMemory", mem),
                    ("maxTouchPoints", touch),
                    ("cookieEnabled", cookies),
                    ("doNotTrack", dnt),
                    ("canvas", canvas),
                    ("webgl", webgl),
                    ("audio", audio),
                    ("fonts", fonts),
                    ("storage", storage),
                    ("integrity", integrity),
                    ("behavior", behavior),
                    ("timing", timing),
                ])
            },
        )
        .boxed()
}

/// A payload within every limit the API documents.
fn valid_payload() -> impl Strategy<Value = Json> {
    (
        opt("pk_(test|live)_[0-9a-f]{32}".prop_map(Json::String)),
        opt(text(1024)),
        opt(text(64)),
        opt(text(256)),
        opt(tag()),
        opt(text(2048)),
        components(),
    )
        .prop_map(|(pk, token, kind, linked, tag, url, components)| {
            object(vec![
                ("publicKey", pk),
                ("token", token),
                ("type", kind),
                ("linkedId", linked),
                ("tag", tag),
                ("url", url),
                ("components", Some(components)),
            ])
        })
}

/// Whether every member of `given` is in `kept` with the same value, however much more `kept`
/// has. Numbers compare as numbers (`2` and `2.0` are one value), and may be one unit in the
/// last place apart: serde_json's default number parser is not correctly rounded, so the
/// printed `109.20803868762401` reads back as the double next to it (docs/fuzzing.md).
fn keeps(given: &Json, kept: &Json) -> bool {
    match (given, kept) {
        (Json::Object(g), Json::Object(k)) => g
            .iter()
            .all(|(key, v)| k.get(key).is_some_and(|kv| keeps(v, kv))),
        (Json::Array(g), Json::Array(k)) => {
            g.len() == k.len() && g.iter().zip(k).all(|(g, k)| keeps(g, k))
        }
        (Json::Number(g), Json::Number(k)) => match (g.as_f64(), k.as_f64()) {
            (Some(g), Some(k)) => g == k || g.to_bits().abs_diff(k.to_bits()) <= 1,
            _ => false,
        },
        _ => given == kept,
    }
}

/// Members with a limit, and a value past it.
fn out_of_range() -> impl Strategy<Value = (&'static str, Json)> {
    proptest::sample::select(vec![
        ("components.screen.w", json!(100_001)),
        ("components.screen.colorDepth", json!(65)),
        ("components.screen.pixelRatio", json!(16.5)),
        ("components.screen.pixelRatio", json!(-0.5)),
        ("components.timezoneOffset", json!(1441)),
        ("components.timezoneOffset", json!(-1441)),
        ("components.hardwareConcurrency", json!(1025)),
        ("components.deviceMemory", json!(1e300)),
        ("components.maxTouchPoints", json!(257)),
        ("components.productSub", json!("x".repeat(33))),
        ("components.userAgent", json!("u".repeat(1025))),
        ("components.doNotTrack", json!("1".repeat(17))),
        ("components.audio.sum", json!(-2e9)),
        ("components.storage.quota", json!(-1)),
        ("components.storage.cacheDelta", json!(2e12)),
        ("components.behavior.keyGapCv", json!(1000.5)),
        ("components.timing.collectMs", json!(600_001)),
        ("linkedId", json!("l".repeat(257))),
        ("url", json!("h".repeat(2049))),
        ("type", json!("t".repeat(65))),
        ("token", json!("k".repeat(1025))),
        ("publicKey", json!("p".repeat(129))),
    ])
}

/// Sets the member at a dotted `path`, making the objects on the way.
fn set(payload: &mut Json, path: &str, value: Json) {
    let mut at = payload;
    let keys: Vec<&str> = path.split('.').collect();
    for k in &keys[..keys.len() - 1] {
        if !at.get(*k).is_some_and(Json::is_object) {
            at[*k] = json!({});
        }
        at = &mut at[*k];
    }
    at[keys[keys.len() - 1]] = value;
}

/// Any JSON, objects keyed mostly by the payload's own member names.
fn any_json() -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        3 => proptest::sample::select(vec![
            "components", "tag", "linkedId", "screen", "w", "h", "pixelRatio", "uaData",
            "brands", "brand", "version", "integrity", "iframe", "worker", "lies", "behavior",
            "storage", "fonts", "languages", "timezoneOffset", "webgl", "canvas", "audio",
            "automation", "driverGlobals", "timing", "collectMs", "publicKey", "token", "type",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        any::<String>().prop_map(Json::String),
    ];
    leaf.prop_recursive(8, 96, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// Decodes and validates `bytes`; a validation error must name a member path.
fn decode_and_check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(req) = serde_json::from_slice::<IdentifyRequest>(bytes) {
        if let Err(e) = req.validate() {
            prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{:?}", e);
            let top = e.field.split(['.', '[']).next().unwrap_or("");
            prop_assert!(
                [
                    "publicKey",
                    "token",
                    "type",
                    "linkedId",
                    "tag",
                    "url",
                    "components"
                ]
                .contains(&top),
                "{:?}",
                e
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn valid_payloads_decode_validate_and_keep_their_values(payload in valid_payload()) {
        let text = payload.to_string();
        let req: IdentifyRequest = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(req.validate(), Ok(()));
        let printed = serde_json::to_value(&req).expect("prints");
        prop_assert!(keeps(&payload, &printed), "{} became {}", payload, printed);
        let again: IdentifyRequest = serde_json::from_value(printed.clone()).expect("decodes again");
        prop_assert_eq!(serde_json::to_value(&again).expect("prints"), printed);
    }

    #[test]
    fn one_value_past_its_limit_is_refused_by_name(payload in valid_payload(), bad in out_of_range()) {
        let (path, value) = bad;
        let mut payload = payload;
        set(&mut payload, path, value);
        let req: IdentifyRequest = serde_json::from_value(payload.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}: {payload}")))?;
        let err = req.validate().expect_err("refused");
        prop_assert_eq!(err.field, path);
    }

    #[test]
    fn any_json_decodes_or_fails_typed(v in any_json(), inside in any::<bool>()) {
        let v = if inside { json!({"components": v, "tag": v}) } else { v };
        decode_and_check(v.to_string().as_bytes())?;
    }

    #[test]
    fn any_bytes_decode_or_fail_typed(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        valid_payload().prop_map(|p| p.to_string().into_bytes()),
        (valid_payload(), any::<proptest::sample::Index>(), any::<u8>()).prop_map(|(p, at, b)| {
            let mut bytes = p.to_string().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = b;
            bytes
        }),
    ]) {
        decode_and_check(&bytes)?;
    }
}

/// `tag` is read as a JSON tree, which serde_json stops at 128 levels; members the payload
/// does not know are skipped without recursing, so any depth there is merely ignored.
#[test]
fn nesting_past_the_parser_limit_is_an_error_not_a_crash() {
    for depth in [129, 10_000, 1_000_000] {
        let deep = format!("{{\"tag\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert!(serde_json::from_str::<IdentifyRequest>(&deep).is_err());
        let deep = format!(
            "{{\"components\": {{\"integrity\": {}1{}}}}}",
            "{\"iframe\":".repeat(depth),
            "}".repeat(depth)
        );
        if let Ok(req) = serde_json::from_str::<IdentifyRequest>(&deep) {
            assert!(req.validate().is_ok());
        }
    }
}
