//! The browser agent's payload for `POST /v1/identify`: raw measurements, never verdicts.
//!
//! Every field is optional so that a blocked probe or an older agent still identifies; what is
//! present is type-checked by serde and range-checked by [`IdentifyRequest::validate`], which
//! names the exact path of the first problem. Unknown fields are ignored so that agents and
//! servers of neighbouring versions keep working together; members documented as objects are
//! read as objects only (`crate::shape`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdentifyRequest {
    /// The public key, for `sendBeacon`-style calls that cannot set a header.
    pub public_key: Option<String>,
    /// The signed visitor token the agent kept from an earlier answer.
    pub token: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub linked_id: Option<String>,
    pub tag: Option<Value>,
    pub url: Option<String>,
    #[serde(deserialize_with = "crate::shape::object")]
    pub components: Components,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Components {
    pub user_agent: Option<String>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub ua_data: Option<UaData>,
    pub platform: Option<String>,
    pub vendor: Option<String>,
    pub product_sub: Option<String>,
    pub app_version: Option<String>,
    pub languages: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub timezone_offset: Option<i32>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub screen: Option<Screen>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub window: Option<WindowSize>,
    pub hardware_concurrency: Option<u32>,
    pub device_memory: Option<f64>,
    pub max_touch_points: Option<u32>,
    pub cookie_enabled: Option<bool>,
    pub do_not_track: Option<String>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub canvas: Option<Canvas>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub webgl: Option<WebGl>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub audio: Option<Audio>,
    pub fonts: Option<Vec<String>>,
    pub math: Option<String>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub storage: Option<Storage>,
    pub plugins: Option<Vec<String>>,
    pub mime_types: Option<Vec<String>>,
    pub plugins_array: Option<bool>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub automation: Option<Automation>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub integrity: Option<Integrity>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub behavior: Option<Behavior>,
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub timing: Option<Timing>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UaData {
    #[serde(deserialize_with = "crate::shape::objects")]
    pub brands: Vec<Brand>,
    pub mobile: Option<bool>,
    pub platform: Option<String>,
    pub platform_version: Option<String>,
    pub architecture: Option<String>,
    pub model: Option<String>,
    pub bitness: Option<String>,
    #[serde(deserialize_with = "crate::shape::objects")]
    pub full_version_list: Vec<Brand>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Brand {
    pub brand: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Screen {
    pub w: Option<u32>,
    pub h: Option<u32>,
    pub avail_w: Option<u32>,
    pub avail_h: Option<u32>,
    pub color_depth: Option<u32>,
    pub pixel_ratio: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowSize {
    pub inner_w: Option<u32>,
    pub inner_h: Option<u32>,
    pub outer_w: Option<u32>,
    pub outer_h: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Canvas {
    pub text: Option<String>,
    pub geometry: Option<String>,
    pub winding: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebGl {
    pub vendor: Option<String>,
    pub renderer: Option<String>,
    pub unmasked_vendor: Option<String>,
    pub unmasked_renderer: Option<String>,
    pub version: Option<String>,
    pub shading_language: Option<String>,
    pub params: Option<String>,
    pub extensions: Option<String>,
    pub render: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Audio {
    pub hash: Option<String>,
    pub sum: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Storage {
    pub local_storage: Option<bool>,
    pub session_storage: Option<bool>,
    #[serde(rename = "indexedDB")]
    pub indexed_db: Option<bool>,
    pub open_database: Option<bool>,
    pub quota: Option<f64>,
    pub usage: Option<f64>,
    pub heap_limit: Option<f64>,
    pub persisted: Option<bool>,
    pub get_directory: Option<String>,
    pub idb_blob: Option<String>,
    /// Bytes of storage usage a 1-byte Cache Storage entry added (Chromium only).
    pub cache_delta: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Automation {
    pub webdriver: Option<bool>,
    pub driver_globals: Vec<String>,
    pub document_attributes: Vec<String>,
    pub notification_permission: Option<String>,
    pub permissions_notifications: Option<String>,
    pub eval_length: Option<u32>,
    pub connection_rtt: Option<f64>,
    pub outer_zero: Option<bool>,
    pub has_focus: Option<bool>,
    /// Natives whose source text was not the engine's, as agents before 0.2 reported them
    /// (0.2 reports these and more in [`Integrity::lies`]).
    pub native_tampered: Vec<String>,
    pub languages_empty: Option<bool>,
    pub mime_types_consistent: Option<bool>,
}

/// What other JavaScript realms and the built-ins themselves say: a script that spoofs the
/// page's values rarely reaches a fresh iframe, never a Web Worker, and cannot make a Proxy or
/// a script function pass for a built-in everywhere at once.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Integrity {
    /// Built-ins (`Navigator.webdriver`, `WebGLRenderingContext.getParameter`, …) that are not
    /// the engine's own: wrong source text, script-function properties, or a Proxy.
    pub lies: Vec<String>,
    /// Own properties of the `navigator` instance (a real one has none).
    pub navigator_own: Vec<String>,
    /// `navigator.webdriver` does not exist at all.
    pub webdriver_missing: Option<bool>,
    /// A fresh same-origin iframe's navigator.
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub iframe: Option<RealmView>,
    /// A dedicated Web Worker's navigator and WebGL.
    #[serde(deserialize_with = "crate::shape::optional_object")]
    pub worker: Option<RealmView>,
}

/// One realm's view of the browser; absent values were not measurable there.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RealmView {
    pub user_agent: Option<String>,
    pub platform: Option<String>,
    /// `navigator.languages` joined with commas.
    pub languages: Option<String>,
    pub hardware_concurrency: Option<u32>,
    pub webdriver: Option<bool>,
    pub timezone: Option<String>,
    /// The WebGL renderer (unmasked where allowed) that this realm's own context reports.
    pub gpu: Option<String>,
    /// `navigator.userAgentData.platform`.
    pub ua_platform: Option<String>,
}

/// What the hand did on the page before `identify()`: counts and timings only, never
/// coordinates, keys or text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Behavior {
    /// Mouse pointer moves.
    pub moves: Option<u32>,
    /// The longest run of consecutive diagonal moves by the same step (within half a pixel).
    pub straight_run: Option<u32>,
    pub clicks: Option<u32>,
    /// Mouse button presses (touch and pen excluded).
    pub pointer_clicks: Option<u32>,
    /// Mouse presses with fewer than three pointer moves since the previous press.
    pub jump_clicks: Option<u32>,
    /// Mouse presses within a pixel of the pressed element's exact centre.
    pub centred_clicks: Option<u32>,
    /// Presses that were both: the pointer arrived on the exact centre without travelling.
    pub centred_jumps: Option<u32>,
    /// Key presses (repeats excluded).
    pub keys: Option<u32>,
    pub inputs: Option<u32>,
    pub touches: Option<u32>,
    pub scrolls: Option<u32>,
    /// Pointer, key and touch presses that script dispatched (`isTrusted` false).
    pub untrusted: Option<u32>,
    /// Median time a mouse button was held down.
    pub click_hold_ms: Option<f64>,
    /// Median time a key was held down.
    pub key_hold_ms: Option<f64>,
    /// Median time between two key presses.
    pub key_gap_ms: Option<f64>,
    /// Coefficient of variation of the times between key presses.
    pub key_gap_cv: Option<f64>,
    /// The smallest step of `performance.now()`: coarse clocks hide short intervals.
    pub timer_resolution_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Timing {
    pub collect_ms: Option<f64>,
}

/// The first problem found in a payload: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

struct Check {
    first: Option<Invalid>,
}

impl Check {
    fn fail(&mut self, field: &str, message: String) {
        if self.first.is_none() {
            self.first = Some(Invalid {
                field: field.to_owned(),
                message,
            });
        }
    }

    fn text(&mut self, field: &str, v: &Option<String>, max: usize) {
        if let Some(s) = v {
            if s.chars().count() > max {
                self.fail(field, format!("'{field}' is longer than {max} characters."));
            }
        }
    }

    fn list(&mut self, field: &str, v: &[String], max_items: usize, max_len: usize) {
        if v.len() > max_items {
            self.fail(
                field,
                format!("'{field}' has more than {max_items} entries."),
            );
        }
        for (i, s) in v.iter().enumerate() {
            if s.chars().count() > max_len {
                self.fail(
                    &format!("{field}[{i}]"),
                    format!("Entries of '{field}' are at most {max_len} characters."),
                );
            }
        }
    }

    fn opt_list(&mut self, field: &str, v: &Option<Vec<String>>, max_items: usize, max_len: usize) {
        if let Some(v) = v {
            self.list(field, v, max_items, max_len);
        }
    }

    fn range_u(&mut self, field: &str, v: Option<u32>, max: u32) {
        if let Some(n) = v {
            if n > max {
                self.fail(field, format!("'{field}' must be between 0 and {max}."));
            }
        }
    }

    fn range_f(&mut self, field: &str, v: Option<f64>, min: f64, max: f64) {
        if let Some(x) = v {
            if !x.is_finite() || x < min || x > max {
                self.fail(field, format!("'{field}' must be between {min} and {max}."));
            }
        }
    }
}

/// Longest hash string accepted from the agent.
const HASH_LEN: usize = 128;
/// Largest serialised `tag`.
pub const TAG_MAX_BYTES: usize = 16 * 1024;
/// Deepest nesting accepted in `tag`.
pub const TAG_MAX_DEPTH: usize = 8;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

impl IdentifyRequest {
    /// Checks lengths and ranges of everything present; the first problem wins.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut c = Check { first: None };
        c.text("publicKey", &self.public_key, 128);
        c.text("token", &self.token, 1024);
        c.text("type", &self.event_type, 64);
        c.text("linkedId", &self.linked_id, 256);
        c.text("url", &self.url, 2048);
        if let Some(tag) = &self.tag {
            if !tag.is_object() {
                c.fail("tag", "'tag' must be a JSON object.".into());
            } else if depth(tag) > TAG_MAX_DEPTH {
                c.fail(
                    "tag",
                    format!("'tag' is nested deeper than {TAG_MAX_DEPTH} levels."),
                );
            } else if serde_json::to_vec(tag)
                .map(|b| b.len())
                .unwrap_or(usize::MAX)
                > TAG_MAX_BYTES
            {
                c.fail(
                    "tag",
                    format!("'tag' is larger than {TAG_MAX_BYTES} bytes."),
                );
            }
        }
        let k = &self.components;
        c.text("components.userAgent", &k.user_agent, 1024);
        c.text("components.platform", &k.platform, 128);
        c.text("components.vendor", &k.vendor, 128);
        c.text("components.productSub", &k.product_sub, 32);
        c.text("components.appVersion", &k.app_version, 1024);
        c.opt_list("components.languages", &k.languages, 32, 64);
        c.text("components.timezone", &k.timezone, 64);
        if let Some(off) = k.timezone_offset {
            if !(-1440..=1440).contains(&off) {
                c.fail(
                    "components.timezoneOffset",
                    "'components.timezoneOffset' must be between -1440 and 1440 minutes.".into(),
                );
            }
        }
        if let Some(s) = &k.screen {
            for (name, v) in [
                ("w", s.w),
                ("h", s.h),
                ("availW", s.avail_w),
                ("availH", s.avail_h),
            ] {
                c.range_u(&format!("components.screen.{name}"), v, 100_000);
            }
            c.range_u("components.screen.colorDepth", s.color_depth, 64);
            c.range_f("components.screen.pixelRatio", s.pixel_ratio, 0.0, 16.0);
        }
        if let Some(w) = &k.window {
            for (name, v) in [
                ("innerW", w.inner_w),
                ("innerH", w.inner_h),
                ("outerW", w.outer_w),
                ("outerH", w.outer_h),
            ] {
                c.range_u(&format!("components.window.{name}"), v, 100_000);
            }
        }
        c.range_u(
            "components.hardwareConcurrency",
            k.hardware_concurrency,
            1024,
        );
        c.range_f("components.deviceMemory", k.device_memory, 0.0, 1024.0);
        c.range_u("components.maxTouchPoints", k.max_touch_points, 256);
        c.text("components.doNotTrack", &k.do_not_track, 16);
        if let Some(ua) = &k.ua_data {
            if ua.brands.len() > 16 || ua.full_version_list.len() > 16 {
                c.fail(
                    "components.uaData.brands",
                    "At most 16 brands are accepted.".into(),
                );
            }
            for (i, b) in ua
                .brands
                .iter()
                .chain(ua.full_version_list.iter())
                .enumerate()
            {
                if b.brand.chars().count() > 64 || b.version.chars().count() > 64 {
                    c.fail(
                        &format!("components.uaData.brands[{i}]"),
                        "Brand names and versions are at most 64 characters.".into(),
                    );
                }
            }
            for (name, v) in [
                ("platform", &ua.platform),
                ("platformVersion", &ua.platform_version),
                ("architecture", &ua.architecture),
                ("model", &ua.model),
                ("bitness", &ua.bitness),
            ] {
                c.text(&format!("components.uaData.{name}"), v, 64);
            }
        }
        if let Some(cv) = &k.canvas {
            c.text("components.canvas.text", &cv.text, HASH_LEN);
            c.text("components.canvas.geometry", &cv.geometry, HASH_LEN);
        }
        if let Some(g) = &k.webgl {
            for (name, v) in [
                ("vendor", &g.vendor),
                ("renderer", &g.renderer),
                ("unmaskedVendor", &g.unmasked_vendor),
                ("unmaskedRenderer", &g.unmasked_renderer),
                ("version", &g.version),
                ("shadingLanguage", &g.shading_language),
            ] {
                c.text(&format!("components.webgl.{name}"), v, 256);
            }
            for (name, v) in [
                ("params", &g.params),
                ("extensions", &g.extensions),
                ("render", &g.render),
            ] {
                c.text(&format!("components.webgl.{name}"), v, HASH_LEN);
            }
        }
        if let Some(a) = &k.audio {
            c.text("components.audio.hash", &a.hash, HASH_LEN);
            c.range_f("components.audio.sum", a.sum, -1e9, 1e9);
        }
        c.opt_list("components.fonts", &k.fonts, 256, 64);
        c.text("components.math", &k.math, HASH_LEN);
        if let Some(s) = &k.storage {
            for (name, v) in [
                ("quota", s.quota),
                ("usage", s.usage),
                ("heapLimit", s.heap_limit),
            ] {
                c.range_f(&format!("components.storage.{name}"), v, 0.0, 1e15);
            }
            c.text("components.storage.getDirectory", &s.get_directory, 16);
            c.text("components.storage.idbBlob", &s.idb_blob, 16);
            c.range_f("components.storage.cacheDelta", s.cache_delta, -1e12, 1e12);
        }
        c.opt_list("components.plugins", &k.plugins, 64, 256);
        c.opt_list("components.mimeTypes", &k.mime_types, 128, 128);
        if let Some(a) = &k.automation {
            c.list(
                "components.automation.driverGlobals",
                &a.driver_globals,
                64,
                128,
            );
            c.list(
                "components.automation.documentAttributes",
                &a.document_attributes,
                64,
                128,
            );
            c.list(
                "components.automation.nativeTampered",
                &a.native_tampered,
                64,
                128,
            );
            c.text(
                "components.automation.notificationPermission",
                &a.notification_permission,
                16,
            );
            c.text(
                "components.automation.permissionsNotifications",
                &a.permissions_notifications,
                16,
            );
            c.range_u("components.automation.evalLength", a.eval_length, 10_000);
            c.range_f(
                "components.automation.connectionRtt",
                a.connection_rtt,
                0.0,
                1e6,
            );
        }
        if let Some(i) = &k.integrity {
            c.list("components.integrity.lies", &i.lies, 64, 128);
            c.list(
                "components.integrity.navigatorOwn",
                &i.navigator_own,
                32,
                128,
            );
            for (name, v) in [("iframe", &i.iframe), ("worker", &i.worker)] {
                let Some(v) = v else { continue };
                let field = |f: &str| format!("components.integrity.{name}.{f}");
                c.text(&field("userAgent"), &v.user_agent, 1024);
                c.text(&field("platform"), &v.platform, 128);
                c.text(&field("languages"), &v.languages, 1024);
                c.range_u(&field("hardwareConcurrency"), v.hardware_concurrency, 1024);
                c.text(&field("timezone"), &v.timezone, 64);
                c.text(&field("gpu"), &v.gpu, 256);
                c.text(&field("uaPlatform"), &v.ua_platform, 64);
            }
        }
        if let Some(b) = &k.behavior {
            for (name, v) in [
                ("clickHoldMs", b.click_hold_ms),
                ("keyHoldMs", b.key_hold_ms),
                ("keyGapMs", b.key_gap_ms),
                ("timerResolutionMs", b.timer_resolution_ms),
            ] {
                c.range_f(&format!("components.behavior.{name}"), v, 0.0, 86_400_000.0);
            }
            c.range_f("components.behavior.keyGapCv", b.key_gap_cv, 0.0, 1_000.0);
        }
        if let Some(t) = &k.timing {
            c.range_f("components.timing.collectMs", t.collect_ms, 0.0, 600_000.0);
        }
        match c.first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> IdentifyRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_empty_payload_is_valid_and_unknown_fields_are_ignored() {
        let r = parse(serde_json::json!({"components": {"someFutureProbe": 1}, "extra": true}));
        assert!(r.validate().is_ok());
    }

    #[test]
    fn out_of_range_and_oversized_values_name_their_field() {
        let cases = [
            (
                serde_json::json!({"components": {"screen": {"w": 1_000_000}}}),
                "components.screen.w",
            ),
            (
                serde_json::json!({"components": {"screen": {"pixelRatio": 99.0}}}),
                "components.screen.pixelRatio",
            ),
            (
                serde_json::json!({"components": {"timezoneOffset": 5000}}),
                "components.timezoneOffset",
            ),
            (
                serde_json::json!({"components": {"fonts": ["x".repeat(65)]}}),
                "components.fonts[0]",
            ),
            (
                serde_json::json!({"components": {"userAgent": "u".repeat(2000)}}),
                "components.userAgent",
            ),
            (serde_json::json!({"linkedId": "l".repeat(300)}), "linkedId"),
            (serde_json::json!({"tag": [1, 2]}), "tag"),
            (
                serde_json::json!({"tag": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}),
                "tag",
            ),
        ];
        for (v, field) in cases {
            let err = parse(v).validate().unwrap_err();
            assert_eq!(err.field, field);
        }
    }
}
