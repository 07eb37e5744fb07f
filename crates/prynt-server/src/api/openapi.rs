//! The OpenAPI 3.1 document served at `/v1/openapi.json`: utoipa's description of the routes,
//! completed with what annotations cannot say well.
//!
//! This module owns
//! - the conventions every operation shares: the error responses each one can give (with the
//!   `{"error": {…}}` body), `X-Request-Id` on every response, the `X-RateLimit-*` headers on
//!   limited operations and `Retry-After` on 429s;
//! - the path parameter patterns, one table for every id the API takes (`prynt_core::ids`);
//! - the hand-written schemas for what has no Rust type of its own: the stored event, the
//!   agent's identify payload and the rule language (whose field and operator vocabulary is read
//!   from `prynt_rules`, so the document follows the engine).
//!
//! Generated clients and the schemathesis run of `scripts/api-fuzz` rely on the document being
//! exact: a value the schema allows must be accepted, and every status an operation can answer
//! must be declared.

use std::collections::BTreeSet;

use prynt_rules::condition::Operator;
use prynt_rules::fields::{FieldType, ListType, FIELDS};
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail, CATALOGUE};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Prynt API",
        description = "Device intelligence and fraud decisions. Authenticate with `Authorization: Bearer <key>`. \
                       Every error answers `{\"error\": {code, message, docs, field?, retryAfter?}}`; the codes are listed at `/docs/errors`."
    ),
    modifiers(&BearerAuth),
    components(schemas(
        ErrorBody, ErrorDetail,
        vocab::Verdict, vocab::RuleStatus, vocab::ListType, vocab::ListPurpose, vocab::WebhookStatus,
        vocab::WebhookEvent, vocab::DeliveryEvent, vocab::DeliveryStatus, vocab::EventGroupBy,
        vocab::SignalGroupBy, vocab::SignalName, vocab::Trend, vocab::Environment, vocab::Plan
    ))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_live_… / sk_test_… / pk_…")
                    .build(),
            ),
        );
    }
}

/// utoipa's part of the document, before the routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The complete document, as served.
pub fn document(generated: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(generated).unwrap_or_else(|_| json!({}));
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut all = schemas;
    for (name, schema) in hand_written() {
        all.insert(name.to_owned(), schema);
    }
    // The codes an error may carry: those of the catalogue served at /docs/errors.
    if let Some(code) = all
        .get_mut("ErrorDetail")
        .and_then(|d| d.pointer_mut("/properties/code"))
    {
        let description = code.get("description").cloned().unwrap_or(Value::Null);
        *code = json!({"$ref": "#/components/schemas/ErrorCode", "description": description});
    }
    doc["components"]["schemas"] = Value::Object(all);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if let Some(op) = op.as_object_mut() {
                    complete_operation(path, method, op);
                }
            }
        }
    }
    shared_components(&mut doc);
    unique_operation_ids(&mut doc);
    add_links(&mut doc);
    doc
}

/// Where the ids an answer holds can be used next. Clients read links as documentation;
/// stateful fuzzers follow them to reach real resources.
struct Link {
    source: &'static str,
    method: &'static str,
    target: &'static str,
    methods: &'static [&'static str],
    /// Target parameter and the runtime expression giving its value.
    params: &'static [(&'static str, &'static str)],
}

const fn link(
    source: &'static str,
    method: &'static str,
    target: &'static str,
    methods: &'static [&'static str],
    params: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        source,
        method,
        target,
        methods,
        params,
    }
}

const RULE: &[(&str, &str)] = &[("ruleId", "$response.body#/id")];
const LIST: &[(&str, &str)] = &[("listId", "$response.body#/id")];
const WEBHOOK: &[(&str, &str)] = &[("id", "$response.body#/id")];

const LINKS: &[Link] = &[
    link(
        "/v1/rules",
        "post",
        "/v1/rules/{ruleId}",
        &["get", "put", "patch", "delete"],
        RULE,
    ),
    link(
        "/v1/rules",
        "post",
        "/v1/rules/{ruleId}/backtest",
        &["post"],
        RULE,
    ),
    link(
        "/v1/rules",
        "post",
        "/v1/rules/{ruleId}/versions",
        &["get"],
        RULE,
    ),
    link(
        "/v1/lists",
        "post",
        "/v1/lists/{listId}",
        &["get", "delete"],
        LIST,
    ),
    link(
        "/v1/lists",
        "post",
        "/v1/lists/{listId}/entries",
        &["post", "patch"],
        LIST,
    ),
    link(
        "/v1/webhooks",
        "post",
        "/v1/webhooks/{id}",
        &["get", "put", "patch", "delete"],
        WEBHOOK,
    ),
    link(
        "/v1/webhooks",
        "post",
        "/v1/webhooks/{id}/deliveries",
        &["get"],
        WEBHOOK,
    ),
    link(
        "/v1/webhooks",
        "post",
        "/v1/webhooks/{id}/test",
        &["post"],
        WEBHOOK,
    ),
    link(
        "/v1/webhooks",
        "post",
        "/v1/webhooks/{id}/rotate-secret",
        &["post"],
        WEBHOOK,
    ),
    link(
        "/v1/webhooks/{id}/deliveries",
        "get",
        "/v1/webhooks/{id}/deliveries/{deliveryId}/retry",
        &["post"],
        &[
            ("id", "$request.path.id"),
            ("deliveryId", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "/v1/identify",
        "post",
        "/v1/events/{requestId}",
        &["get"],
        &[("requestId", "$response.body#/requestId")],
    ),
    link(
        "/v1/identify",
        "post",
        "/v1/visitors/{visitorId}",
        &["get", "delete"],
        &[("visitorId", "$response.body#/visitorId")],
    ),
    link(
        "/v1/identify",
        "post",
        "/v1/visitors/{visitorId}/events",
        &["get"],
        &[("visitorId", "$response.body#/visitorId")],
    ),
];

fn add_links(doc: &mut Value) {
    for l in LINKS {
        for target_method in l.methods {
            let Some(id) = doc
                .pointer(&format!(
                    "/paths/{}/{target_method}/operationId",
                    escape(l.target)
                ))
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let pointer = format!("/paths/{}/{}/responses/200", escape(l.source), l.method);
            let Some(response) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) else {
                continue;
            };
            let parameters: Map<String, Value> = l
                .params
                .iter()
                .map(|(name, expr)| ((*name).to_owned(), json!(expr)))
                .collect();
            response
                .entry("links")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("links is an object")
                .insert(
                    id.clone(),
                    json!({"operationId": id, "parameters": parameters}),
                );
        }
    }
}

/// A path as a JSON pointer segment.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// The shape of every id a path may hold, by parameter name (`prynt_core::ids` and the
/// handlers' checks). A value of this shape is looked up (200 or 404); any other is a 400.
pub const PATH_PATTERNS: &[(&str, &str)] = &[
    ("requestId", REQUEST_ID),
    ("visitorId", VISITOR_ID),
    ("ruleId", "^rul_[0-9a-f]{12}$"),
    ("listId", "^lst_[0-9a-f]{12}$"),
    ("id", "^whk_[0-9a-f]{12}$"),
    ("deliveryId", "^dlv_[0-9a-f]{12}$"),
];

pub const REQUEST_ID: &str = "^req_[0-9]{1,12}_[0-9a-f]{6}$";
pub const VISITOR_ID: &str = "^pv_[0-9A-Za-z]{13}$";
/// White space as Rust's `str::trim` sees it (Unicode White_Space): the API trims the strings
/// of management bodies before it checks them, so patterns allow it around a value.
const WS: &str =
    "[\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A string with something besides white space.
fn not_blank() -> String {
    format!("[^{}]", &WS[1..WS.len() - 1])
}

/// `core` with optional white space around it.
fn padded(core: &str) -> String {
    format!("^{WS}*{core}{WS}*$")
}

/// Adds to one operation what every operation of its kind shares.
fn complete_operation(path: &str, method: &str, op: &mut Map<String, Value>) {
    let identify = path == "/v1/identify" && method == "post";
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    // The agent may put its public key in the body (`publicKey`) instead of the header.
    if identify {
        op.insert("security".into(), json!([{"bearer": []}, {}]));
    }
    let limited = secured || identify;
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // `Idempotency-Key` on POST (`crate::idempotency`): the same key and request replay the
    // first answer; the key with another request is a 400, while the first is served a 409.
    if method == "post" {
        let list = op
            .entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("parameters is an array");
        list.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Makes a retry safe for 24 hours: the same key with the same request answers the first answer again. 1 to 255 printable ASCII characters.",
            "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
        }));
    }
    let has_body = op.contains_key("requestBody");
    // Every body is required but the backtest window's, which defaults.
    if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
        let optional = path == "/v1/rules/{ruleId}/backtest";
        body.insert("required".into(), json!(!optional));
    }
    let has_path_param = params.iter().any(|p| p["in"] == "path");

    if let Some(list) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in list.iter_mut() {
            if p["in"] != "path" {
                continue;
            }
            let name = p["name"].as_str().unwrap_or("").to_owned();
            if let Some((_, pattern)) = PATH_PATTERNS.iter().find(|(n, _)| *n == name) {
                p["schema"] = json!({"type": "string", "pattern": pattern});
            }
        }
    }

    let mut errors: BTreeSet<u16> = BTreeSet::new();
    if limited {
        errors.extend([401, 403, 429, 500, 503]);
    }
    if !params.is_empty() || has_body {
        errors.insert(400);
    }
    if has_path_param {
        errors.insert(404);
    }
    if has_body {
        // 408: the body did not arrive within the body timeout (`crate::connections::body`).
        errors.extend([408, 413, 415]);
    }
    if method == "post" {
        errors.extend([400, 409]);
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for code in errors {
        responses
            .entry(code.to_string())
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/Error{code}")}));
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if response.contains_key("$ref") {
            continue;
        }
        let code: u16 = status.parse().unwrap_or(0);
        if code >= 400 {
            response.insert(
                "content".into(),
                json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}),
            );
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            if description.is_empty() {
                response.insert("description".into(), json!(describe_status(code)));
            }
        }
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("headers is an object");
        headers.extend(response_headers(code, limited));
    }
}

/// The headers every response of its status carries: `X-Request-Id` always; on operations that
/// spend a rate budget `X-RateLimit-*`, present for sure on a success and a 429 and on the
/// refusals that come after the key was checked; `Retry-After` on a 429.
fn response_headers(code: u16, limited: bool) -> Map<String, Value> {
    let shared = |name: &str| json!({"$ref": format!("#/components/headers/{name}")});
    let mut h = Map::new();
    h.insert("X-Request-Id".into(), shared("X-Request-Id"));
    if limited {
        let sure = code == 200 || code == 429;
        for (name, text) in RATE_HEADERS {
            let header = if sure {
                shared(name)
            } else {
                json!({"description": text, "required": false, "schema": {"type": "integer", "minimum": 0}})
            };
            h.insert((*name).into(), header);
        }
    }
    if code == 429 {
        h.insert("Retry-After".into(), shared("Retry-After"));
    }
    h
}

const RATE_HEADERS: &[(&str, &str)] = &[
    (
        "X-RateLimit-Limit",
        "The budget of the window; on a 429, of the limit that refused: the window, the per-second burst, or the failed authentications allowed per minute from the caller's address.",
    ),
    (
        "X-RateLimit-Remaining",
        "Requests left in that budget (0 on a 429).",
    ),
    (
        "X-RateLimit-Reset",
        "Unix seconds when that budget is full again.",
    ),
];

/// `components.headers` and `components.responses`: the headers and error answers that many
/// operations share.
fn shared_components(doc: &mut Value) {
    let mut headers = Map::new();
    headers.insert(
        "X-Request-Id".into(),
        json!({
            "description": "The request's id (`req_<unix seconds>_<6 hex>`); for identify, the event's `requestId`.",
            "required": true,
            "schema": {"type": "string", "pattern": REQUEST_ID},
        }),
    );
    for (name, text) in RATE_HEADERS {
        headers.insert(
            (*name).into(),
            json!({"description": text, "required": true, "schema": {"type": "integer", "minimum": 0}}),
        );
    }
    headers.insert(
        "Retry-After".into(),
        json!({"description": "Seconds to wait before retrying.", "required": true, "schema": {"type": "integer", "minimum": 1}}),
    );
    let mut responses = Map::new();
    for code in [400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 503] {
        responses.insert(
            format!("Error{code}"),
            json!({
                "description": describe_status(code),
                "headers": response_headers(code, true),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }),
        );
    }
    doc["components"]["headers"] = Value::Object(headers);
    doc["components"]["responses"] = Value::Object(responses);
}

fn describe_status(code: u16) -> String {
    let texts: Vec<String> = CATALOGUE
        .iter()
        .filter(|(_, status, _)| *status == code)
        .map(|(name, _, text)| format!("`{name}`: {text}"))
        .collect();
    if texts.is_empty() {
        "An error.".into()
    } else {
        texts.join(" ")
    }
}

/// An operation serving several methods from one handler (PUT and PATCH) gets one id per
/// method, since ids must be unique in a document.
fn unique_operation_ids(doc: &mut Value) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            if !seen.insert(id.to_owned()) {
                let renamed = format!("{id}_{method}");
                seen.insert(renamed.clone());
                op["operationId"] = json!(renamed);
            }
        }
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn nullable(mut schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(t)) => {
            schema["type"] = json!([t, "null"]);
            if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
                values.push(Value::Null);
            }
            schema
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}

fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn string_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn closed(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}

fn fields_of(pred: impl Fn(FieldType, Option<ListType>) -> bool) -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|f| pred(f.ty, f.list))
        .map(|f| f.path)
        .collect()
}

fn operators_for(ty: FieldType, pick: &[Operator]) -> Vec<&'static str> {
    pick.iter()
        .filter(|o| o.applies_to(ty))
        .map(|o| o.as_str())
        .collect()
}

/// One leaf form: these fields, these operators, this value.
fn leaf(fields: Vec<&'static str>, operators: Vec<&'static str>, value: Option<Value>) -> Value {
    let mut properties = json!({
        "field": {"type": "string", "enum": fields},
        "operator": {"type": "string", "enum": operators},
    });
    let mut required = vec!["field", "operator"];
    match value {
        Some(v) => {
            properties["value"] = v;
            required.push("value");
        }
        None => properties["value"] = json!({"type": "null"}),
    }
    closed(&required, properties)
}

/// The rule language of `docs/rules.md`: groups, the leaf forms each field type takes, the
/// action and its side effects.
fn rule_schemas() -> Vec<(&'static str, Value)> {
    use Operator::*;
    let of = |ty: FieldType| fields_of(move |t, _| t == ty);
    let text = json!({"type": "string", "maxLength": prynt_rules::condition::MAX_STRING_CHARS});
    let non_empty_text = json!({"type": "string", "minLength": 1, "maxLength": prynt_rules::condition::MAX_STRING_CHARS});
    let number = json!({"type": "number"});
    let inline = |item: Value| json!({"type": "array", "minItems": 1, "maxItems": prynt_rules::condition::MAX_ARRAY_ITEMS, "items": item});
    let leaves = vec![
        leaf(
            of(FieldType::Bool),
            operators_for(FieldType::Bool, &[Equals, NotEquals]),
            Some(json!({"type": "boolean"})),
        ),
        leaf(
            of(FieldType::Number),
            operators_for(FieldType::Number, &[Equals, NotEquals, Gt, Gte, Lt, Lte]),
            Some(number.clone()),
        ),
        leaf(
            of(FieldType::Number),
            vec![Between.as_str()],
            Some(json!({
                "type": "array", "minItems": 2, "maxItems": 2, "prefixItems": [number, number], "items": number,
                "description": "[low, high] with low at most high.",
            })),
        ),
        leaf(
            of(FieldType::Number),
            vec![In.as_str(), NotIn.as_str()],
            Some(inline(number.clone())),
        ),
        leaf(
            of(FieldType::String),
            operators_for(FieldType::String, &[Equals, NotEquals]),
            Some(text.clone()),
        ),
        leaf(
            of(FieldType::String),
            vec![In.as_str(), NotIn.as_str()],
            Some(inline(text.clone())),
        ),
        leaf(
            fields_of(|t, l| t == FieldType::String && l.is_some()),
            vec![In.as_str(), NotIn.as_str()],
            Some(json!({
                "type": "string", "minLength": 1, "maxLength": 100,
                "description": "The name of an existing list whose type is the field's: visitor for visitorId, ip for ip.address, email for event.linkedId.",
            })),
        ),
        leaf(
            of(FieldType::String),
            operators_for(
                FieldType::String,
                &[Contains, NotContains, StartsWith, EndsWith],
            ),
            Some(non_empty_text.clone()),
        ),
        leaf(
            of(FieldType::String),
            vec![Matches.as_str()],
            Some(json!({
                "type": "string", "maxLength": prynt_rules::condition::MAX_REGEX_CHARS,
                "description": "A regular expression in the syntax of Rust's regex crate (no look-around or back-references).",
            })),
        ),
        leaf(
            of(FieldType::StringList),
            operators_for(FieldType::StringList, &[Contains, NotContains]),
            Some(non_empty_text),
        ),
        leaf(
            FIELDS.iter().map(|f| f.path).collect(),
            vec![Exists.as_str(), NotExists.as_str()],
            None,
        ),
    ];
    let group = json!({
        "description": "A group of conditions and groups (nested at most 8 deep, at most 100 conditions in all). NOT takes exactly one rule.",
        "anyOf": [
            closed(&["operator", "rules"], json!({
                "operator": string_enum(&["AND", "OR"]),
                "rules": {"type": "array", "minItems": 1, "maxItems": 100, "items": reference("RuleNode")},
            })),
            closed(&["operator", "rules"], json!({
                "operator": string_enum(&["NOT"]),
                "rules": {"type": "array", "minItems": 1, "maxItems": 1, "items": reference("RuleNode")},
            })),
        ],
    });
    let list_name = json!({"type": "string", "minLength": 1, "maxLength": 100, "description": "The name of an existing list."});
    let side_effect = json!({
        "anyOf": [
            closed(&["type", "list"], json!({
                "type": string_enum(&["addToList"]),
                "list": list_name,
                "ttl": nullable(json!({"type": "integer", "minimum": 1, "maximum": prynt_rules::condition::MAX_TTL_S})),
            })),
            closed(&["type", "list"], json!({
                "type": string_enum(&["removeFromList"]),
                "list": list_name,
            })),
            closed(&["type", "key", "value"], json!({
                "type": string_enum(&["tag"]),
                "key": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "value": {"type": "string", "maxLength": prynt_rules::condition::MAX_TAG_VALUE_CHARS},
            })),
        ],
    });
    vec![
        ("RuleGroup", group),
        (
            "RuleCondition",
            json!({"description": "A condition on one event field.", "anyOf": leaves}),
        ),
        (
            "RuleNode",
            json!({"anyOf": [reference("RuleGroup"), reference("RuleCondition")]}),
        ),
        ("SideEffect", side_effect),
        (
            "SideEffects",
            nullable(json!({
                "type": "array", "maxItems": prynt_rules::condition::MAX_SIDE_EFFECTS, "items": reference("SideEffect"),
            })),
        ),
        (
            "RuleAction",
            closed(
                &["verdict"],
                json!({"verdict": reference("Verdict"), "sideEffects": reference("SideEffects")}),
            ),
        ),
        // As stored and shown: canonical, side effects always present.
        (
            "RuleActionView",
            closed(
                &["verdict", "sideEffects"],
                json!({"verdict": reference("Verdict"), "sideEffects": {"type": "array", "items": reference("SideEffect")}}),
            ),
        ),
    ]
}

/// The full event (`GET /v1/events/{requestId}`), as `identify` stores it
/// (`identification::event::Stored`: the event and the rules' decision).
fn event_schemas() -> Vec<(&'static str, Value)> {
    let prob = json!({"type": "number", "minimum": 0, "maximum": 1});
    let windows = object(
        &["5m", "1h", "24h"],
        json!({
            "5m": {"type": "integer", "minimum": 0},
            "1h": {"type": "integer", "minimum": 0},
            "24h": {"type": "integer", "minimum": 0},
        }),
    );
    let opt_text = json!({"type": ["string", "null"]});
    let rule_ref = object(
        &["id", "name", "version", "verdict"],
        json!({
            "id": {"type": "string", "pattern": "^rul_[0-9a-f]{12}$"},
            "name": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "verdict": reference("Verdict"),
        }),
    );
    let event = object(
        &[
            "requestId",
            "visitorId",
            "confidence",
            "visitorFound",
            "firstSeenAt",
            "timestamp",
            "identifiedBy",
            "device",
            "signals",
            "scores",
            "velocity",
            "ip",
            "verdict",
            "matchedRule",
        ],
        json!({
            "requestId": {"type": "string", "pattern": REQUEST_ID},
            "visitorId": {"type": "string", "pattern": VISITOR_ID},
            "confidence": prob,
            "visitorFound": {"type": "boolean"},
            "firstSeenAt": nullable(date_time()),
            "timestamp": date_time(),
            "type": opt_text,
            "linkedId": opt_text,
            "tag": {"type": ["object", "null"], "description": "The `tag` given to identify, as given: any JSON object."},
            "url": opt_text,
            "identifiedBy": string_enum(&["token", "fingerprint", "new"]),
            "device": object(&["platform", "browser", "type"], json!({
                "platform": {"type": "string"},
                "browser": {"type": "string"},
                "gpu": opt_text,
                "type": string_enum(&["desktop", "mobile", "tablet", "bot"]),
                "screen": nullable(object(&["w", "h"], json!({
                    "w": {"type": "integer", "minimum": 0},
                    "h": {"type": "integer", "minimum": 0},
                }))),
                "model": opt_text,
                "userAgent": opt_text,
            })),
            "signals": reference("Signals"),
            "scores": object(&["abuse", "ato", "bot", "suspect"], json!({
                "abuse": prob, "ato": prob, "bot": prob,
                "suspect": {"type": "integer", "minimum": 0},
            })),
            "velocity": object(&["distinctIp", "distinctCountry", "distinctLinkedId", "visitorsPerLinkedId", "visitorsPerIp", "newDeviceForAccount"], json!({
                "distinctIp": windows, "distinctCountry": windows, "distinctLinkedId": windows,
                "visitorsPerLinkedId": windows, "visitorsPerIp": windows,
                "newDeviceForAccount": {"type": "boolean"},
                "travelKmh": {"type": ["number", "null"], "minimum": 0},
            })),
            "ip": object(&["address"], json!({
                "address": {"type": "string"},
                "city": opt_text,
                "country": opt_text,
                "lat": {"type": ["number", "null"]},
                "lng": {"type": ["number", "null"]},
                "timezone": opt_text,
                "asn": {"type": ["integer", "null"], "minimum": 0},
                "asnName": opt_text,
                "datacenter": {"type": ["boolean", "null"]},
                "blocklisted": {"type": ["boolean", "null"]},
            })),
            "verdict": nullable(reference("Verdict")),
            "matchedRule": nullable(reference("MatchedRule")),
            "monitorMatches": {"type": "array", "items": reference("MatchedRule")},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        }),
    );
    let signals = object(
        &[
            "bot",
            "vpn",
            "proxy",
            "tor",
            "incognito",
            "tampered",
            "emulator",
        ],
        json!({
            "bot": object(&["detected"], json!({
                "detected": {"type": "boolean"},
                "type": nullable(string_enum(&["crawler", "automation", "headless", "no-js"])),
                "reasons": {"type": "array", "items": {"type": "string"}},
            })),
            "vpn": object(&["detected"], json!({
                "detected": {"type": "boolean"},
                "provider": opt_text,
                "methods": {"type": "array", "items": string_enum(&["public_range", "timezone_mismatch", "relay"])},
            })),
            "proxy": {"type": "boolean"},
            "tor": {"type": "boolean"},
            "incognito": {"type": "boolean"},
            "tampered": {"type": "boolean"},
            "tamperedReasons": {"type": "array", "items": {"type": "string"}},
            "emulator": {"type": "boolean"},
            "softwareRendering": {"type": "boolean"},
        }),
    );
    vec![
        ("Event", event),
        ("Signals", signals),
        ("MatchedRule", rule_ref),
    ]
}

/// `prynt_core::agent::IdentifyRequest` with the ranges of its `validate`. Unknown members are
/// ignored, so objects stay open; members that may be `null` are the `Option`s.
fn identify_schemas() -> Vec<(&'static str, Value)> {
    let text = |max: usize| json!({"type": ["string", "null"], "maxLength": max});
    let count = |max: u64| json!({"type": ["integer", "null"], "minimum": 0, "maximum": max});
    let real =
        |min: f64, max: f64| json!({"type": ["number", "null"], "minimum": min, "maximum": max});
    let flag = json!({"type": ["boolean", "null"]});
    let strings = |items: usize, len: usize| json!({"type": "array", "maxItems": items, "items": {"type": "string", "maxLength": len}});
    let brand = json!({"type": "object", "properties": {
        "brand": {"type": "string", "maxLength": 64},
        "version": {"type": "string", "maxLength": 64},
    }});
    let realm = nullable(json!({"type": "object", "properties": {
        "userAgent": text(1024), "platform": text(128), "languages": text(1024),
        "hardwareConcurrency": count(1024), "webdriver": flag, "timezone": text(64),
        "gpu": text(256), "uaPlatform": text(64),
    }}));
    let ua_data = nullable(json!({"type": "object", "properties": {
        "brands": {"type": "array", "maxItems": 16, "items": brand},
        "mobile": flag,
        "platform": text(64), "platformVersion": text(64), "architecture": text(64),
        "model": text(64), "bitness": text(64),
        "fullVersionList": {"type": "array", "maxItems": 16, "items": brand},
    }}));
    let screen = nullable(json!({"type": "object", "properties": {
        "w": count(100_000), "h": count(100_000), "availW": count(100_000), "availH": count(100_000),
        "colorDepth": count(64), "pixelRatio": real(0.0, 16.0),
    }}));
    let window = nullable(json!({"type": "object", "properties": {
        "innerW": count(100_000), "innerH": count(100_000), "outerW": count(100_000), "outerH": count(100_000),
    }}));
    let canvas = nullable(json!({"type": "object", "properties": {
        "text": text(128), "geometry": text(128), "winding": flag,
    }}));
    let webgl = nullable(json!({"type": "object", "properties": {
        "vendor": text(256), "renderer": text(256), "unmaskedVendor": text(256), "unmaskedRenderer": text(256),
        "version": text(256), "shadingLanguage": text(256),
        "params": text(128), "extensions": text(128), "render": text(128),
    }}));
    let audio = nullable(json!({"type": "object", "properties": {
        "hash": text(128), "sum": real(-1e9, 1e9),
    }}));
    let storage = nullable(json!({"type": "object", "properties": {
        "localStorage": flag, "sessionStorage": flag, "indexedDB": flag, "openDatabase": flag,
        "quota": real(0.0, 1e15), "usage": real(0.0, 1e15), "heapLimit": real(0.0, 1e15),
        "persisted": flag, "getDirectory": text(16), "idbBlob": text(16),
        "cacheDelta": real(-1e12, 1e12),
    }}));
    let automation = nullable(json!({"type": "object", "properties": {
        "webdriver": flag,
        "driverGlobals": strings(64, 128),
        "documentAttributes": strings(64, 128),
        "notificationPermission": text(16),
        "permissionsNotifications": text(16),
        "evalLength": count(10_000),
        "connectionRtt": real(0.0, 1e6),
        "outerZero": flag, "hasFocus": flag,
        "nativeTampered": strings(64, 128),
        "languagesEmpty": flag, "mimeTypesConsistent": flag,
    }}));
    let integrity = nullable(json!({"type": "object", "properties": {
        "lies": strings(64, 128),
        "navigatorOwn": strings(32, 128),
        "webdriverMissing": flag,
        "iframe": realm, "worker": realm,
    }}));
    let mut behavior: Map<String, Value> = [
        "moves",
        "straightRun",
        "clicks",
        "pointerClicks",
        "jumpClicks",
        "centredClicks",
        "centredJumps",
        "keys",
        "inputs",
        "touches",
        "scrolls",
        "untrusted",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), count(u64::from(u32::MAX))))
    .collect();
    for k in ["clickHoldMs", "keyHoldMs", "keyGapMs", "timerResolutionMs"] {
        behavior.insert(k.into(), real(0.0, 86_400_000.0));
    }
    behavior.insert("keyGapCv".into(), real(0.0, 1_000.0));
    let timing =
        nullable(json!({"type": "object", "properties": {"collectMs": real(0.0, 600_000.0)}}));
    let mut properties = Map::new();
    for (k, v) in [
        ("userAgent", text(1024)),
        ("uaData", ua_data),
        ("platform", text(128)),
        ("vendor", text(128)),
        ("productSub", text(32)),
        ("appVersion", text(1024)),
        ("languages", nullable(strings(32, 64))),
        ("timezone", text(64)),
        (
            "timezoneOffset",
            json!({"type": ["integer", "null"], "minimum": -1440, "maximum": 1440}),
        ),
        ("screen", screen),
        ("window", window),
        ("hardwareConcurrency", count(1024)),
        ("deviceMemory", real(0.0, 1024.0)),
        ("maxTouchPoints", count(256)),
        ("cookieEnabled", flag.clone()),
        ("doNotTrack", text(16)),
        ("canvas", canvas),
        ("webgl", webgl),
        ("audio", audio),
        ("fonts", nullable(strings(256, 64))),
        ("math", text(128)),
        ("storage", storage),
        ("plugins", nullable(strings(64, 256))),
        ("mimeTypes", nullable(strings(128, 128))),
        ("pluginsArray", flag.clone()),
        ("automation", automation),
        ("integrity", integrity),
        (
            "behavior",
            nullable(json!({"type": "object", "properties": behavior})),
        ),
        ("timing", timing),
    ] {
        properties.insert(k.to_owned(), v);
    }
    let components = json!({
        "type": "object",
        "description": "The agent's raw measurements; every member is optional and unknown members are ignored.",
        "properties": properties,
    });
    let request = json!({"type": "object", "description": "The agent's payload. Every member is optional; unknown members are ignored so that agents and servers of neighbouring versions work together.", "properties": {
        "publicKey": {"type": ["string", "null"], "maxLength": 128, "description": "The public key, for calls that cannot set the Authorization header."},
        "token": {"type": ["string", "null"], "maxLength": 1024, "description": "The visitor token kept from an earlier answer."},
        "type": {"type": ["string", "null"], "maxLength": 64, "description": "What the visit is (login, payment, …); the event's `type`."},
        "linkedId": {"type": ["string", "null"], "maxLength": 256, "description": "Your account id."},
        "tag": {"type": ["object", "null"], "description": "Stored on the event as given: at most 16 KiB, nested at most 8 deep."},
        "url": {"type": ["string", "null"], "maxLength": 2048},
        "components": reference("Components"),
    }});
    vec![("IdentifyRequest", request), ("Components", components)]
}

/// The bodies of the management endpoints (`api::body::Body` reads them field by field) and
/// the analytics answers, whose group keys are named after `groupBy`.
fn body_schemas() -> Vec<(&'static str, Value)> {
    let rule_name =
        json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": not_blank()});
    let priority = nullable(json!({"type": "integer", "minimum": 0, "maximum": 1_000_000_000}));
    let status = nullable(reference("RuleStatus"));
    let days = nullable(
        json!({"type": "integer", "minimum": 1, "maximum": crate::policy::MAX_BACKTEST_DAYS, "description": "Days to look back; default 7."}),
    );
    let sample = nullable(
        json!({"type": "integer", "minimum": 0, "maximum": 100, "description": "Matched events to include; default 10."}),
    );
    let ttl = nullable(json!({"type": "integer", "minimum": 1, "maximum": 315_360_000}));
    let description = nullable(
        json!({"type": "string", "minLength": 1, "maxLength": 500, "pattern": not_blank()}),
    );
    // What the server checks (a WHATWG URL, no user info or fragment, an IP literal only when
    // public, at most 2,048 characters once normalised) is more than a pattern can say; the
    // pattern is the part every accepted URL has.
    let url = json!({
        "type": "string", "pattern": "[Hh][Tt][Tt][Pp][Ss]?:",
        "description": "The endpoint: an https URL (at most 2,048 characters) whose host is a name or a public IP address, without user info or fragment. Plain http only for loopback, on a server started with --dev-allow-loopback-webhooks.",
    });
    let events = json!({"type": "array", "minItems": 1, "items": reference("WebhookEvent")});
    let one_or_many = |item: Value| json!({"anyOf": [item, {"type": "array", "minItems": 1, "maxItems": 100, "items": item}]});
    let filters = closed(
        &[],
        json!({
            "verdict": one_or_many(reference("Verdict")),
            "ruleId": one_or_many(json!({"type": "string", "pattern": "^rul_[0-9a-f]{12}$"})),
            "botDetected": {"type": "boolean"},
        }),
    );
    let mut filters_doc = filters.clone();
    filters_doc["description"] = json!("Only events matching every filter given are delivered.");
    let group_row = json!({"type": "object", "required": ["count", "pct"], "description": "The group's key is named after `groupBy`; `null` for events without that value. Time buckets are keyed by their start.", "properties": {
        "verdict": nullable(reference("Verdict")),
        "platform": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "hour": nullable(date_time()),
        "day": nullable(date_time()),
        "week": nullable(date_time()),
        "count": {"type": "integer", "minimum": 0},
        "pct": {"type": "number", "minimum": 0, "maximum": 1},
    }});
    let figure = object(
        &["signal", "count", "rate", "trend"],
        json!({
            "signal": reference("SignalName"),
            "count": {"type": "integer", "minimum": 0},
            "rate": {"type": "number", "minimum": 0, "maximum": 1},
            "trend": reference("Trend"),
        }),
    );
    let point = json!({"type": "object", "required": ["total", "signals"], "description": "One day or week (keyed `day` or `week` by its start) that holds events.", "properties": {
        "day": date_time(),
        "week": date_time(),
        "total": {"type": "integer", "minimum": 0},
        "signals": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
    }});
    let weight_names: Map<String, Value> = [
        "bot",
        "incognito",
        "vpnTimezone",
        "vpnPublic",
        "relay",
        "tampered",
        "emulator",
        "tor",
        "proxy",
        "blocklisted",
    ]
    .iter()
    .map(|k| {
        let max = prynt_core::scope::SuspectWeights::MAX;
        (
            (*k).to_owned(),
            json!({"type": "integer", "minimum": 0, "maximum": max}),
        )
    })
    .collect();
    let weights = json!({
        "type": "object", "additionalProperties": false,
        "description": "The weight of each signal in `scores.suspect`, 0 to 100.",
        "properties": weight_names,
    });
    vec![
        (
            "CreateRule",
            closed(
                &["name", "conditions", "action"],
                json!({
                    "name": rule_name,
                    "conditions": reference("RuleGroup"),
                    "action": reference("RuleAction"),
                    "priority": priority,
                    "status": status,
                }),
            ),
        ),
        ("UpdateRule", {
            let mut u = closed(
                &[],
                json!({
                    "name": nullable(rule_name.clone()),
                    "conditions": nullable(reference("RuleGroup")),
                    "action": nullable(reference("RuleAction")),
                    "priority": priority,
                    "status": status,
                    "sideEffects": reference("SideEffects"),
                }),
            );
            u["minProperties"] = json!(1);
            u["description"] = json!("Only the fields sent change; `sideEffects` replaces the side effects and keeps the verdict.");
            u
        }),
        (
            "BacktestWindow",
            closed(&[], json!({"days": days, "sampleSize": sample})),
        ),
        (
            "UnsavedBacktest",
            closed(
                &["conditions"],
                json!({
                    "name": nullable(rule_name),
                    "conditions": reference("RuleGroup"),
                    "action": nullable(reference("RuleAction")),
                    "priority": priority,
                    "status": status,
                    "days": days,
                    "sampleSize": sample,
                }),
            ),
        ),
        (
            "CreateList",
            closed(
                &["name", "type"],
                json!({
                    "name": {"type": "string", "pattern": padded("[A-Za-z0-9_.-]{1,100}"), "description": "Unique in the environment; rules name the list by it (snake_case recommended)."},
                    "type": reference("ListType"),
                    "description": description,
                    "ttl": ttl,
                    "purpose": nullable(reference("ListPurpose")),
                }),
            ),
        ),
        ("ListEntriesChange", {
            let mut c = closed(
                &[],
                json!({
                    "add": {"type": ["array", "null"], "maxItems": crate::bounds::MAX_BATCH, "items": reference("ListEntryValue"),
                            "description": "Entries to add, each of the list's type."},
                    "remove": {"type": ["array", "null"], "maxItems": crate::bounds::MAX_BATCH, "items": {"type": "string", "maxLength": 1024},
                               "description": "Entries to remove: any string; absent ones are no-ops."},
                    "ttl": ttl,
                }),
            );
            c["anyOf"] = json!([
                {"required": ["add"], "properties": {"add": {"type": "array"}}},
                {"required": ["remove"], "properties": {"remove": {"type": "array"}}},
            ]);
            c["description"] =
                json!("At most 1,000 entries added and removed together; all are applied or none.");
            c
        }),
        (
            "ListEntryValue",
            json!({
                "type": "string", "minLength": 1,
                "description": "Checked against the list's type: a visitor ID (`pv_…`) for a visitor list, an IPv4 or IPv6 address or CIDR range for an ip list, an email address (at most 254 characters, one `@`, a dot in the domain) for an email list.",
            }),
        ),
        ("WebhookFilters", filters_doc),
        (
            "CreateWebhook",
            closed(
                &["url"],
                json!({
                    "url": url,
                    "events": nullable(events.clone()),
                    "filters": nullable(reference("WebhookFilters")),
                    "secret": nullable(json!({"type": "string", "pattern": padded("[!-~]{16,128}"), "description": "The signing secret, 16 to 128 printable ASCII characters; generated when left out."})),
                    "description": description,
                    "status": nullable(reference("WebhookStatus")),
                }),
            ),
        ),
        ("UpdateWebhook", {
            let mut u = closed(
                &[],
                json!({
                    "url": nullable(url),
                    "events": nullable(events),
                    "filters": nullable(reference("WebhookFilters")),
                    "description": description,
                    "status": nullable(reference("WebhookStatus")),
                }),
            );
            u["minProperties"] = json!(1);
            u
        }),
        ("SuspectWeights", weights.clone()),
        (
            "UpdateWorkspace",
            closed(
                &[],
                json!({
                    "allowedOrigins": nullable(json!({"type": "array", "maxItems": crate::bounds::MAX_ORIGINS, "items": {
                        "type": "string", "maxLength": 255,
                        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*)(:\\+?[0-9]+)?$",
                        "description": "scheme://host[:port]: http or https, a host name (labels of at most 63 letters, digits and '-', at most 253 in all) or a bracketed IPv6 address, a port from 1 to 65535, nothing after it.",
                    }, "description": "Replaces the origins allowed to call identify; `[]` allows any."})),
                    "suspectWeights": nullable(reference("SuspectWeights")),
                    "maskIp": {"type": ["boolean", "null"], "description": "Mask the host part of client addresses in events from now on."},
                }),
            ),
        ),
        (
            "EventAnalytics",
            object(
                &["from", "to", "total"],
                json!({
                    "from": date_time(),
                    "to": date_time(),
                    "total": {"type": "integer", "minimum": 0},
                    "groups": {"type": "array", "items": group_row, "description": "Largest first (time buckets in time order); left out without `groupBy`."},
                }),
            ),
        ),
        (
            "SignalAnalytics",
            object(
                &["from", "to", "total"],
                json!({
                    "from": date_time(),
                    "to": date_time(),
                    "total": {"type": "integer", "minimum": 0},
                    "signals": {"type": "array", "items": figure, "description": "Grouped by signal (the default)."},
                    "series": {"type": "array", "items": point, "description": "Grouped by day or week."},
                }),
            ),
        ),
    ]
}

/// Vocabulary shared by several schemas.
fn vocabulary() -> Vec<(&'static str, Value)> {
    vec![(
        "ErrorCode",
        json!({"type": "string", "enum": CATALOGUE.iter().map(|(c, _, _)| *c).collect::<Vec<_>>()}),
    )]
}

/// Every hand-written component schema, by name.
pub fn hand_written() -> Vec<(&'static str, Value)> {
    let mut all = vocabulary();
    all.extend(rule_schemas());
    all.extend(event_schemas());
    all.extend(identify_schemas());
    all.extend(body_schemas());
    all
}

/// Documentation-only vocabulary for the derived schemas (`#[schema(value_type = …)]` and
/// `#[param(value_type = …)]`): the handlers keep reading strings, so that their messages stay
/// their own, and these say which strings they take.
pub mod vocab {
    use serde::Serialize;
    use utoipa::ToSchema;

    macro_rules! words {
        ($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
            $(#[$doc])*
            #[derive(Serialize, ToSchema)]
            #[serde(rename_all = "snake_case")]
            #[allow(dead_code)]
            pub enum $name { $($variant),+ }
        };
    }

    words!(
        /// What a live rule decided.
        Verdict { Allow, Challenge, Block });
    words!(
        /// `draft` (stored, never evaluated), `live` (evaluated, enforces), `monitor` (evaluated
        /// and counted, never decides), `paused` (kept, not evaluated).
        RuleStatus { Live, Monitor, Draft, Paused });
    words!(
        /// What a list's entries are.
        ListType { Visitor, Ip, Email });
    words!(
        /// What a list is for; `allow` lists count as evidence of legitimacy in backtests,
        /// `block` ip lists make `ip.blocklisted` true.
        ListPurpose { Allow, Block, Review });
    words!(
        /// Whether a webhook receives deliveries.
        WebhookStatus { Active, Paused });
    words!(
        /// The events a webhook may subscribe to.
        WebhookEvent { Identification, RuleMatch, ListUpdate });
    words!(
        /// The event of a delivery: a subscribed event, or a test delivery.
        DeliveryEvent { Identification, RuleMatch, ListUpdate, Test });
    words!(
        /// Where a delivery stands.
        DeliveryStatus { Pending, Succeeded, Failed, Cancelled });
    words!(
        /// How `GET /v1/analytics/events` groups.
        EventGroupBy { Verdict, Platform, Country, Hour, Day, Week });
    words!(
        /// How `GET /v1/analytics/signals` groups.
        SignalGroupBy { Signal, Day, Week });
    words!(
        /// The Smart Signals analytics count.
        SignalName { Bot, Vpn, Proxy, Tor, Incognito, Tampered, Emulator });
    words!(
        /// The rate in the second half of the range against the first half's (±10%).
        Trend { Up, Down, Stable });
    words!(
        /// The environment of a key.
        Environment { Test, Live });
    words!(
        /// A workspace's plan.
        Plan { Starter, Pro, Enterprise });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    fn doc() -> Value {
        super::document(&crate::app::api_routes().1)
    }

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op));
            }
        }
        out
    }

    /// A response or header, through its `$ref` into `components` if it has one.
    fn follow<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target = doc
                    .pointer(r.trim_start_matches('#'))
                    .expect("ref resolves");
                follow(doc, target)
            }
            None => v,
        }
    }

    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/components/schemas/").expect("local ref");
                let target = &doc["components"]["schemas"][name];
                assert!(!target.is_null(), "{r} does not resolve");
                resolve(doc, target)
            }
            None => schema,
        }
    }

    /// Every object schema reachable from `schema` names its members (or what they are), except
    /// free-form values that say so in a description (an event's `tag`).
    fn no_bare_objects(doc: &Value, schema: &Value, at: &str, seen: &mut BTreeSet<String>) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            if seen.insert(r.to_owned()) {
                no_bare_objects(doc, resolve(doc, schema), r, seen);
            }
            return;
        }
        let is_object = match &schema["type"] {
            Value::String(t) => t == "object",
            Value::Array(ts) => ts.iter().any(|t| t == "object"),
            _ => false,
        };
        if is_object {
            let described = schema.get("properties").is_some()
                || schema.get("additionalProperties").is_some()
                || schema.get("description").is_some();
            assert!(described, "bare object schema at {at}: {schema}");
        }
        for key in ["properties"] {
            if let Some(props) = schema.get(key).and_then(Value::as_object) {
                for (name, sub) in props {
                    no_bare_objects(doc, sub, &format!("{at}.{name}"), seen);
                }
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = schema.get(key).filter(|s| s.is_object()) {
                no_bare_objects(doc, sub, &format!("{at}.{key}"), seen);
            }
        }
        for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
            for sub in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                no_bare_objects(doc, sub, at, seen);
            }
        }
    }

    #[test]
    fn every_authenticated_operation_declares_its_refusals() {
        let doc = doc();
        let error_ref = "#/components/schemas/ErrorBody";
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                let response = follow(&doc, response);
                assert!(
                    follow(&doc, &response["headers"]["X-Request-Id"])["required"] == true,
                    "{method} {path} {status}: X-Request-Id"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"], error_ref,
                        "{method} {path} {status}"
                    );
                }
            }
            let public = op.get("security").is_none();
            if public {
                assert!(
                    path.starts_with("/v1/agent") || method == "options",
                    "{method} {path}"
                );
                continue;
            }
            for status in ["401", "429", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            let limited = &follow(&doc, &responses["429"])["headers"];
            for header in ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset"] {
                assert!(
                    follow(&doc, &limited[header])["required"] == true,
                    "{method} {path} 429 {header}"
                );
            }
            assert!(responses.contains_key("200"), "{method} {path} answers 200");
            assert!(
                !responses
                    .keys()
                    .any(|s| s == "201" || s == "202" || s == "204"),
                "{method} {path}: every success is 200"
            );
            let has_input = op.get("requestBody").is_some() || op.get("parameters").is_some();
            if has_input {
                assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            }
            if op.get("requestBody").is_some() {
                for status in ["408", "413", "415"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
        }
    }

    #[test]
    fn schemas_are_typed_all_the_way_down() {
        let doc = doc();
        let mut seen = BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = follow(&doc, response);
                if let Some(content) = response.get("content").and_then(Value::as_object) {
                    for (media, body) in content {
                        if media == "application/json" {
                            let at = format!("{method} {path} {status}");
                            assert!(body.get("schema").is_some(), "{at} has no schema");
                            no_bare_objects(&doc, &body["schema"], &at, &mut seen);
                        }
                    }
                }
            }
            if let Some(body) = op.get("requestBody") {
                let schema = &body["content"]["application/json"]["schema"];
                let at = format!("{method} {path} request");
                assert!(!schema.is_null(), "{at} is JSON");
                let resolved = resolve(&doc, schema);
                assert_eq!(resolved["type"], "object", "{at}");
                // Management bodies refuse unknown fields; the agent's payload ignores them.
                if path != "/v1/identify" {
                    assert_eq!(
                        resolved["additionalProperties"], false,
                        "{at}: unknown fields are refused"
                    );
                }
                no_bare_objects(&doc, schema, &at, &mut seen);
            }
        }
        // Every reference resolves.
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"").skip(1) {
            let r = part.split('"').next().unwrap();
            follow(&doc, &serde_json::json!({"$ref": r}));
        }
    }

    #[test]
    fn parameters_say_what_the_server_takes() {
        let doc = doc();
        let mut ids = BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            if let Some(id) = op["operationId"].as_str() {
                assert!(ids.insert(id.to_owned()), "operationId {id} is not unique");
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let at = format!("{method} {path} {name}");
                let schema = &p["schema"];
                if p["in"] == "path" {
                    assert!(schema["pattern"].as_str().is_some(), "{at} has a pattern");
                }
                if name == "limit" {
                    assert_eq!(schema["minimum"], 1, "{at}");
                    assert!(
                        schema["maximum"] == 100 || schema["maximum"] == 1000,
                        "{at}"
                    );
                }
                if name == "from" || name == "to" {
                    assert_eq!(p["required"], true, "{at}");
                    assert_eq!(schema["format"], "date-time", "{at}");
                }
                // An event's `type` is whatever identify was given; every other `type` is a
                // kind the API defines.
                let free_text = path == "/v1/events" && name == "type";
                if ["verdict", "status", "type", "groupBy", "signal"].contains(&name) && !free_text
                {
                    let resolved = resolve(&doc, schema);
                    let values = resolved
                        .get("enum")
                        .or_else(|| {
                            resolved["oneOf"]
                                .as_array()
                                .and_then(|v| v.iter().find_map(|s| resolve(&doc, s).get("enum")))
                        })
                        .or_else(|| {
                            resolved["anyOf"]
                                .as_array()
                                .and_then(|v| v.iter().find_map(|s| resolve(&doc, s).get("enum")))
                        });
                    assert!(values.is_some(), "{at} lists its values: {schema}");
                }
            }
        }
        let identify = &doc["paths"]["/v1/identify"]["post"];
        assert_eq!(
            identify["security"],
            serde_json::json!([{"bearer": []}, {}])
        );
    }

    #[test]
    fn the_rule_vocabulary_comes_from_the_engine() {
        let doc = doc();
        let text = doc["components"]["schemas"]["RuleCondition"].to_string();
        for f in prynt_rules::fields::FIELDS {
            assert!(text.contains(&format!("\"{}\"", f.path)), "{}", f.path);
        }
        for o in prynt_rules::condition::Operator::ALL {
            assert!(
                text.contains(&format!("\"{}\"", o.as_str())),
                "{}",
                o.as_str()
            );
        }
    }
}
