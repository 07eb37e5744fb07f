//! The facts of one event: one typed value per catalogue field, so that rules never walk JSON
//! while they evaluate. Built from typed values when an event is identified
//! ([`EventFields`]), and read from the stored event JSON when stored events are replayed
//! (backtests, analytics, restarts); both give the same facts for the same event.

use std::sync::Arc;

use crate::fields::{FieldId, FieldType, FIELDS};

/// A field's value. `Missing` stands for absent, `null`, and a value of the wrong type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Missing,
    Bool(bool),
    /// Always a number: `NaN` is stored as `Missing`.
    Num(f64),
    Str(Arc<str>),
    List(Arc<[Arc<str>]>),
}

impl Value {
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    /// Whether this value can stand in a field of type `ty`.
    fn fits(&self, ty: FieldType) -> bool {
        match (self, ty) {
            (Value::Missing, _) => true,
            (Value::Bool(_), FieldType::Bool) => true,
            (Value::Num(x), FieldType::Number) => !x.is_nan(),
            (Value::Str(_), FieldType::String) => true,
            (Value::List(_), FieldType::StringList) => true,
            _ => false,
        }
    }
}

static MISSING: Value = Value::Missing;

/// One value per [`FieldId`].
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    values: Box<[Value]>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::new()
    }
}

impl Facts {
    /// Facts with every field missing.
    pub fn new() -> Facts {
        Facts {
            values: vec![Value::Missing; FIELDS.len()].into_boxed_slice(),
        }
    }

    /// Reads every catalogue field from a stored event. Absent, `null` and wrongly typed values
    /// are `Missing`, as is a list with a non-string item: rules then treat them as unknown
    /// rather than guess.
    pub fn from_event(event: &serde_json::Value) -> Facts {
        let mut facts = Facts::new();
        for (i, def) in FIELDS.iter().enumerate() {
            let mut at = Some(event);
            for key in def.json_path() {
                at = at.and_then(|v| v.get(key));
            }
            let Some(json) = at else { continue };
            let value = match def.ty {
                FieldType::Bool => json.as_bool().map(Value::Bool),
                FieldType::Number => json.as_f64().filter(|x| x.is_finite()).map(Value::Num),
                FieldType::String => json.as_str().map(|s| Value::Str(Arc::from(s))),
                FieldType::StringList => json.as_array().and_then(|items| {
                    items
                        .iter()
                        .map(|v| v.as_str().map(Arc::from))
                        .collect::<Option<Vec<Arc<str>>>>()
                        .map(|v| Value::List(Arc::from(v)))
                }),
            };
            if let Some(v) = value {
                facts.values[i] = v;
            }
        }
        facts
    }

    /// Reads the facts straight from a stored event's JSON text, visiting only the catalogue's
    /// paths and skipping everything else unparsed. Same values as [`Facts::from_event`] on
    /// the parsed text, several times faster, which is what loading a month of events for
    /// backtests needs.
    pub fn from_json(text: &str) -> Result<Facts, serde_json::Error> {
        let mut facts = Facts::new();
        let mut de = serde_json::Deserializer::from_str(text);
        serde::de::DeserializeSeed::deserialize(
            stream::Walk {
                node: stream::trie(),
                facts: &mut facts,
            },
            &mut de,
        )?;
        de.end()?;
        Ok(facts)
    }

    /// The value of a field; `Missing` for an id outside the catalogue.
    pub fn get(&self, f: FieldId) -> &Value {
        self.values.get(usize::from(f)).unwrap_or(&MISSING)
    }

    /// The string value of the field at `path`, if it is a present string.
    pub fn get_str(&self, path: &str) -> Option<&str> {
        match self.get(crate::fields::lookup(path)?) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Sets a field. A value that does not fit the field's type (or a `NaN`) is stored as
    /// `Missing`, the same as `from_event` would read it, so that every consumer sees one
    /// meaning. An id outside the catalogue is ignored.
    pub fn set(&mut self, f: FieldId, v: Value) {
        let i = usize::from(f);
        let (Some(slot), Some(def)) = (self.values.get_mut(i), FIELDS.get(i)) else {
            return;
        };
        *slot = if v.fits(def.ty) { v } else { Value::Missing };
    }
}

/// A list-of-strings fact (`signals.bot.reasons`), built from whatever holds the strings.
pub fn str_list<S: AsRef<str>>(items: &[S]) -> Arc<[Arc<str>]> {
    items.iter().map(|s| Arc::from(s.as_ref())).collect()
}

/// Distinct counts over the last 5 minutes, hour and day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowFields {
    pub m5: u32,
    pub h1: u32,
    pub h24: u32,
}

/// The event's `device`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFields<'a> {
    pub platform: &'a str,
    pub browser: &'a str,
    pub gpu: Option<&'a str>,
    pub device_type: &'a str,
    pub model: Option<&'a str>,
    /// Width and height.
    pub screen: Option<(u32, u32)>,
}

/// The event's `signals`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalFields<'a> {
    pub bot_detected: bool,
    pub bot_type: Option<&'a str>,
    pub bot_reasons: Arc<[Arc<str>]>,
    pub vpn_detected: bool,
    pub vpn_provider: Option<&'a str>,
    pub vpn_methods: Arc<[Arc<str>]>,
    pub proxy: bool,
    pub tor: bool,
    pub incognito: bool,
    pub tampered: bool,
    pub tampered_reasons: Arc<[Arc<str>]>,
    pub emulator: bool,
    pub software_rendering: bool,
}

/// The event's `scores`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreFields {
    pub suspect: u32,
    pub bot: f64,
    pub abuse: f64,
    pub ato: f64,
}

/// The event's `ip`. A field whose source is not loaded is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct IpFields<'a> {
    pub address: &'a str,
    pub city: Option<&'a str>,
    pub country: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub asn: Option<u32>,
    pub asn_name: Option<&'a str>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub datacenter: Option<bool>,
    pub blocklisted: Option<bool>,
}

/// The event's `velocity`.
#[derive(Debug, Clone, PartialEq)]
pub struct VelocityFields {
    pub distinct_ip: WindowFields,
    pub distinct_country: WindowFields,
    pub distinct_linked_id: WindowFields,
    pub visitors_per_linked_id: WindowFields,
    pub visitors_per_ip: WindowFields,
    pub new_device_for_account: bool,
    pub travel_kmh: Option<f64>,
}

/// Every catalogue field of one event as a typed value: what an identification knows of its
/// event before it is stored. Every field is spelt out (no defaults), so a field added to
/// the catalogue must be added here too, and the compiler finds every place that builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFields<'a> {
    pub visitor_id: &'a str,
    pub visitor_found: bool,
    pub confidence: f64,
    pub event_type: Option<&'a str>,
    pub linked_id: Option<&'a str>,
    pub url: Option<&'a str>,
    pub device: DeviceFields<'a>,
    pub signals: SignalFields<'a>,
    pub scores: ScoreFields,
    pub ip: IpFields<'a>,
    pub velocity: VelocityFields,
}

/// A JSON number as the event stores it: a non-finite float is written as `null`, so it is
/// `Missing`.
fn num(x: f64) -> Value {
    if x.is_finite() {
        Value::Num(x)
    } else {
        Value::Missing
    }
}

fn opt_num(x: Option<f64>) -> Value {
    x.map_or(Value::Missing, num)
}

fn count(x: u32) -> Value {
    Value::Num(f64::from(x))
}

fn text(s: &str) -> Value {
    Value::Str(Arc::from(s))
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Missing, text)
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Missing, Value::Bool)
}

/// Appends the value of the next catalogue field. Values are pushed in catalogue order; debug
/// builds (and so the tests) check each path against the catalogue, at no cost in release
/// builds. A value that does not fit the field's type is `Missing`, as [`Facts::set`] has it.
fn push_field(values: &mut Vec<Value>, path: &'static str, v: Value) {
    let def = FIELDS.get(values.len());
    debug_assert_eq!(def.map(|d| d.path), Some(path), "catalogue order");
    let fits = def.is_some_and(|d| v.fits(d.ty));
    values.push(if fits { v } else { Value::Missing });
}

impl From<EventFields<'_>> for Facts {
    /// The same facts [`Facts::from_json`] reads from the event once it is stored, without
    /// writing and reading JSON. (One caveat: JSON text read back may differ from the float it
    /// was written from in the last bit, for numbers with all 17 significant digits such as
    /// `velocity.travelKmh`; the typed value is the exact one.)
    fn from(e: EventFields<'_>) -> Facts {
        let mut values = Vec::with_capacity(FIELDS.len());
        let mut put = |path: &'static str, v: Value| push_field(&mut values, path, v);
        put("visitorId", text(e.visitor_id));
        put("visitorFound", Value::Bool(e.visitor_found));
        put("confidence", num(e.confidence));
        put("event.type", opt_text(e.event_type));
        put("event.linkedId", opt_text(e.linked_id));
        put("event.url", opt_text(e.url));
        let d = e.device;
        put("device.platform", text(d.platform));
        put("device.browser", text(d.browser));
        put("device.gpu", opt_text(d.gpu));
        put("device.type", text(d.device_type));
        put("device.model", opt_text(d.model));
        put(
            "device.screen.w",
            d.screen.map_or(Value::Missing, |s| count(s.0)),
        );
        put(
            "device.screen.h",
            d.screen.map_or(Value::Missing, |s| count(s.1)),
        );
        let s = e.signals;
        put("signals.bot.detected", Value::Bool(s.bot_detected));
        put("signals.bot.type", opt_text(s.bot_type));
        put("signals.bot.reasons", Value::List(s.bot_reasons));
        put("signals.vpn.detected", Value::Bool(s.vpn_detected));
        put("signals.vpn.provider", opt_text(s.vpn_provider));
        put("signals.vpn.methods", Value::List(s.vpn_methods));
        put("signals.proxy", Value::Bool(s.proxy));
        put("signals.tor", Value::Bool(s.tor));
        put("signals.incognito", Value::Bool(s.incognito));
        put("signals.tampered", Value::Bool(s.tampered));
        put("signals.tamperedReasons", Value::List(s.tampered_reasons));
        put("signals.emulator", Value::Bool(s.emulator));
        put(
            "signals.softwareRendering",
            Value::Bool(s.software_rendering),
        );
        let sc = e.scores;
        put("scores.suspect", count(sc.suspect));
        put("scores.bot", num(sc.bot));
        put("scores.abuse", num(sc.abuse));
        put("scores.ato", num(sc.ato));
        let ip = e.ip;
        put("ip.address", text(ip.address));
        put("ip.city", opt_text(ip.city));
        put("ip.country", opt_text(ip.country));
        put("ip.timezone", opt_text(ip.timezone));
        put("ip.asn", ip.asn.map_or(Value::Missing, count));
        put("ip.asnName", opt_text(ip.asn_name));
        put("ip.lat", opt_num(ip.lat));
        put("ip.lng", opt_num(ip.lng));
        put("ip.datacenter", opt_bool(ip.datacenter));
        put("ip.blocklisted", opt_bool(ip.blocklisted));
        let v = e.velocity;
        put("velocity.distinctIp.5m", count(v.distinct_ip.m5));
        put("velocity.distinctIp.1h", count(v.distinct_ip.h1));
        put("velocity.distinctIp.24h", count(v.distinct_ip.h24));
        put("velocity.distinctCountry.5m", count(v.distinct_country.m5));
        put("velocity.distinctCountry.1h", count(v.distinct_country.h1));
        put(
            "velocity.distinctCountry.24h",
            count(v.distinct_country.h24),
        );
        put(
            "velocity.distinctLinkedId.5m",
            count(v.distinct_linked_id.m5),
        );
        put(
            "velocity.distinctLinkedId.1h",
            count(v.distinct_linked_id.h1),
        );
        put(
            "velocity.distinctLinkedId.24h",
            count(v.distinct_linked_id.h24),
        );
        put(
            "velocity.visitorsPerLinkedId.5m",
            count(v.visitors_per_linked_id.m5),
        );
        put(
            "velocity.visitorsPerLinkedId.1h",
            count(v.visitors_per_linked_id.h1),
        );
        put(
            "velocity.visitorsPerLinkedId.24h",
            count(v.visitors_per_linked_id.h24),
        );
        put("velocity.visitorsPerIp.5m", count(v.visitors_per_ip.m5));
        put("velocity.visitorsPerIp.1h", count(v.visitors_per_ip.h1));
        put("velocity.visitorsPerIp.24h", count(v.visitors_per_ip.h24));
        put(
            "velocity.newDeviceForAccount",
            Value::Bool(v.new_device_for_account),
        );
        put("velocity.travelKmh", opt_num(v.travel_kmh));
        debug_assert_eq!(values.len(), FIELDS.len(), "every catalogue field");
        values.resize(FIELDS.len(), Value::Missing);
        Facts {
            values: values.into_boxed_slice(),
        }
    }
}

/// Streaming reader of the catalogue's fields: a trie of the JSON paths walked by a serde
/// visitor; subtrees no field lives in are skipped with `IgnoredAny`. A key that appears twice
/// in an object counts as its last occurrence alone, as in a parsed `serde_json::Value`: the
/// second time, every field below it is cleared before its value is read.
mod stream {
    use std::fmt;
    use std::sync::{Arc, OnceLock};

    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{Facts, Value};
    use crate::fields::{FieldType, FIELDS};

    #[derive(Default)]
    pub(super) struct Node {
        children: Vec<(&'static str, Node)>,
        field: Option<(usize, FieldType)>,
        /// The fields at this node and under it.
        below: Vec<usize>,
    }

    impl Node {
        /// The child under `key`, with its position among the children.
        fn child(&self, key: &str) -> Option<(usize, &Node)> {
            self.children
                .iter()
                .enumerate()
                .find(|(_, (k, _))| *k == key)
                .map(|(i, (_, n))| (i, n))
        }
    }

    pub(super) fn trie() -> &'static Node {
        static TRIE: OnceLock<Node> = OnceLock::new();
        TRIE.get_or_init(|| {
            let mut root = Node::default();
            for (i, def) in FIELDS.iter().enumerate() {
                let mut node = &mut root;
                for key in def.json_path() {
                    let at = match node.children.iter().position(|(k, _)| *k == key) {
                        Some(at) => at,
                        None => {
                            node.children.push((key, Node::default()));
                            node.children.len() - 1
                        }
                    };
                    node = &mut node.children[at].1;
                    node.below.push(i);
                }
                node.field = Some((i, def.ty));
            }
            root
        })
    }

    pub(super) struct Walk<'a> {
        pub(super) node: &'static Node,
        pub(super) facts: &'a mut Facts,
    }

    impl Walk<'_> {
        fn put(self, ty: FieldType, v: Value) {
            if let Some((i, want)) = self.node.field {
                if want == ty {
                    self.facts.values[i] = v;
                }
            }
        }
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    /// Finds a key's child node without allocating the key.
    struct Key(&'static Node);

    /// A child node met in the object being read, and where it sits among its siblings.
    type Child = Option<(usize, &'static Node)>;

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Child;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = Child;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.0.child(v))
        }
    }

    /// A string list item; anything else spoils the list.
    struct Item;

    impl<'de> DeserializeSeed<'de> for Item {
        type Value = Option<Arc<str>>;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Item {
        type Value = Option<Arc<str>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Arc::from(v)))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
            self.put(FieldType::Bool, Value::Bool(v));
            Ok(())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
            self.put(FieldType::Number, Value::Num(v as f64));
            Ok(())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
            self.put(FieldType::Number, Value::Num(v as f64));
            Ok(())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
            if v.is_finite() {
                self.put(FieldType::Number, Value::Num(v));
            }
            Ok(())
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
            if matches!(self.node.field, Some((_, FieldType::String))) {
                self.put(FieldType::String, Value::Str(Arc::from(v)));
            }
            Ok(())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            if !matches!(self.node.field, Some((_, FieldType::StringList))) {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(());
            }
            let mut items = Vec::new();
            let mut all_strings = true;
            while let Some(item) = seq.next_element_seed(Item)? {
                match item {
                    Some(s) => items.push(s),
                    None => all_strings = false,
                }
            }
            if all_strings {
                self.put(FieldType::StringList, Value::List(Arc::from(items)));
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let node = self.node;
            // The children read so far in this object, by position (a node has far fewer than
            // 64; any beyond would count as always seen).
            let mut seen = 0u64;
            while let Some(child) = map.next_key_seed(Key(node))? {
                match child {
                    Some((at, child)) => {
                        let bit = 1u64.checked_shl(at as u32).unwrap_or(0);
                        if seen & bit != 0 || bit == 0 {
                            // The same key again: what its earlier value set is replaced.
                            for &i in &child.below {
                                self.facts.values[i] = Value::Missing;
                            }
                        }
                        seen |= bit;
                        map.next_value_seed(Walk {
                            node: child,
                            facts: &mut *self.facts,
                        })?
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fields::lookup;

    fn id(p: &str) -> FieldId {
        lookup(p).expect("field")
    }

    pub(crate) fn realistic_event() -> serde_json::Value {
        serde_json::json!({
            "requestId": "req_1714000000_0a1b2c",
            "visitorId": "pv_a1B2c3D4e5F6g",
            "confidence": 0.98,
            "visitorFound": true,
            "firstSeenAt": null,
            "timestamp": "2024-04-25T00:00:00.000Z",
            "type": "login",
            "linkedId": "user@example.com",
            "tag": {"campaign": "spring"},
            "url": "https://shop.example.com/login",
            "identifiedBy": "agent",
            "device": {
                "platform": "macOS", "browser": "Chrome 121", "gpu": "Apple M3 Pro",
                "type": "desktop", "screen": {"w": 1512, "h": 982}, "model": null,
                "userAgent": "Mozilla/5.0"
            },
            "signals": {
                "bot": {"detected": false, "type": null, "reasons": []},
                "vpn": {"detected": true, "provider": "ExampleVPN", "methods": ["public_range", "timezone_mismatch"]},
                "proxy": false, "tor": false, "incognito": true, "tampered": false,
                "tamperedReasons": [], "emulator": false, "softwareRendering": false
            },
            "scores": {"suspect": 11, "bot": 0.02, "abuse": 0.1, "ato": 0.3},
            "velocity": {
                "distinctIp": {"5m": 1, "1h": 2, "24h": 3},
                "distinctCountry": {"5m": 1, "1h": 1, "24h": 2},
                "distinctLinkedId": {"5m": 0, "1h": 1, "24h": 1},
                "visitorsPerLinkedId": {"5m": 1, "1h": 1, "24h": 4},
                "visitorsPerIp": {"5m": 1, "1h": 3, "24h": 9},
                "newDeviceForAccount": true,
                "travelKmh": null
            },
            "ip": {
                "address": "203.0.113.7", "city": "Berlin", "country": "DE",
                "lat": 52.52, "lng": 13.405, "timezone": "Europe/Berlin",
                "asn": 3320, "asnName": "Deutsche Telekom AG", "datacenter": false,
                "blocklisted": null
            },
            "verdict": null,
            "matchedRule": null
        })
    }

    #[test]
    fn from_event_reads_a_realistic_event() {
        let f = Facts::from_event(&realistic_event());
        assert_eq!(
            f.get(id("visitorId")),
            &Value::Str("pv_a1B2c3D4e5F6g".into())
        );
        assert_eq!(f.get(id("visitorFound")), &Value::Bool(true));
        assert_eq!(f.get(id("confidence")), &Value::Num(0.98));
        assert_eq!(f.get(id("event.type")), &Value::Str("login".into()));
        assert_eq!(
            f.get(id("event.linkedId")),
            &Value::Str("user@example.com".into())
        );
        assert_eq!(
            f.get(id("event.url")),
            &Value::Str("https://shop.example.com/login".into())
        );
        assert_eq!(f.get(id("device.screen.w")), &Value::Num(1512.0));
        assert_eq!(f.get(id("device.type")), &Value::Str("desktop".into()));
        assert_eq!(
            f.get(id("device.model")),
            &Value::Missing,
            "null is missing"
        );
        assert_eq!(f.get(id("signals.bot.type")), &Value::Missing);
        assert_eq!(
            f.get(id("signals.bot.reasons")),
            &Value::List(Arc::from([]))
        );
        assert_eq!(
            f.get(id("signals.vpn.methods")),
            &Value::List(Arc::from([
                Arc::from("public_range"),
                Arc::from("timezone_mismatch")
            ]))
        );
        assert_eq!(f.get(id("signals.incognito")), &Value::Bool(true));
        assert_eq!(f.get(id("scores.suspect")), &Value::Num(11.0));
        assert_eq!(f.get(id("velocity.distinctIp.24h")), &Value::Num(3.0));
        assert_eq!(f.get(id("velocity.visitorsPerIp.1h")), &Value::Num(3.0));
        assert_eq!(
            f.get(id("velocity.newDeviceForAccount")),
            &Value::Bool(true)
        );
        assert_eq!(f.get(id("velocity.travelKmh")), &Value::Missing);
        assert_eq!(f.get(id("ip.address")), &Value::Str("203.0.113.7".into()));
        assert_eq!(f.get(id("ip.asn")), &Value::Num(3320.0));
        assert_eq!(f.get(id("ip.lng")), &Value::Num(13.405));
        assert_eq!(f.get(id("ip.datacenter")), &Value::Bool(false));
        assert_eq!(f.get(id("ip.blocklisted")), &Value::Missing);
    }

    #[test]
    fn wrong_json_types_are_missing() {
        let f = Facts::from_event(&serde_json::json!({
            "visitorId": 12, "visitorFound": "yes", "confidence": "0.9",
            "signals": {"bot": {"reasons": ["a", 1]}, "vpn": "on"},
            "ip": {"asn": true}
        }));
        for p in [
            "visitorId",
            "visitorFound",
            "confidence",
            "signals.bot.reasons",
            "signals.vpn.detected",
            "ip.asn",
        ] {
            assert_eq!(f.get(id(p)), &Value::Missing, "{p}");
        }
        assert_eq!(
            Facts::from_event(&serde_json::json!("not an object")),
            Facts::new()
        );
    }

    #[test]
    fn reading_the_text_gives_the_same_facts_as_reading_the_parsed_event() {
        let odd = serde_json::json!({
            "visitorId": 12, "visitorFound": "yes", "confidence": "0.9",
            "signals": {"bot": {"reasons": ["a", 1], "detected": {"x": 1}}, "vpn": "on", "tor": true,
                        "tamperedReasons": ["ua", "fonts"]},
            "ip": {"asn": true, "country": "DE", "lat": 52.5, "address": "1.2.3.4"},
            "device": [1, 2], "extra": {"ip": {"country": "FR"}}, "type": "login",
            "velocity": {"distinctIp": {"5m": 3, "1h": 4.5, "24h": -1}, "travelKmh": null}
        });
        for event in [
            realistic_event(),
            odd,
            serde_json::json!({}),
            serde_json::json!([1]),
        ] {
            let text = event.to_string();
            assert_eq!(
                Facts::from_json(&text).unwrap(),
                Facts::from_event(&event),
                "{text}"
            );
        }
        assert!(Facts::from_json("{\"visitorId\": ").is_err());
        assert!(Facts::from_json("{} trailing").is_err());
    }

    /// `realistic_event()` as typed values.
    fn realistic_fields() -> EventFields<'static> {
        let w = |m5, h1, h24| WindowFields { m5, h1, h24 };
        EventFields {
            visitor_id: "pv_a1B2c3D4e5F6g",
            visitor_found: true,
            confidence: 0.98,
            event_type: Some("login"),
            linked_id: Some("user@example.com"),
            url: Some("https://shop.example.com/login"),
            device: DeviceFields {
                platform: "macOS",
                browser: "Chrome 121",
                gpu: Some("Apple M3 Pro"),
                device_type: "desktop",
                model: None,
                screen: Some((1512, 982)),
            },
            signals: SignalFields {
                bot_detected: false,
                bot_type: None,
                bot_reasons: str_list::<&str>(&[]),
                vpn_detected: true,
                vpn_provider: Some("ExampleVPN"),
                vpn_methods: str_list(&["public_range", "timezone_mismatch"]),
                proxy: false,
                tor: false,
                incognito: true,
                tampered: false,
                tampered_reasons: str_list::<String>(&[]),
                emulator: false,
                software_rendering: false,
            },
            scores: ScoreFields {
                suspect: 11,
                bot: 0.02,
                abuse: 0.1,
                ato: 0.3,
            },
            ip: IpFields {
                address: "203.0.113.7",
                city: Some("Berlin"),
                country: Some("DE"),
                timezone: Some("Europe/Berlin"),
                asn: Some(3320),
                asn_name: Some("Deutsche Telekom AG"),
                lat: Some(52.52),
                lng: Some(13.405),
                datacenter: Some(false),
                blocklisted: None,
            },
            velocity: VelocityFields {
                distinct_ip: w(1, 2, 3),
                distinct_country: w(1, 1, 2),
                distinct_linked_id: w(0, 1, 1),
                visitors_per_linked_id: w(1, 1, 4),
                visitors_per_ip: w(1, 3, 9),
                new_device_for_account: true,
                travel_kmh: None,
            },
        }
    }

    #[test]
    fn typed_fields_give_the_facts_read_from_the_stored_event() {
        let from_text = Facts::from_json(&realistic_event().to_string()).unwrap();
        assert_eq!(Facts::from(realistic_fields()), from_text);
        assert_eq!(
            Facts::from(realistic_fields()),
            Facts::from_event(&realistic_event())
        );
    }

    #[test]
    fn typed_fields_fill_every_catalogue_field() {
        let mut e = realistic_fields();
        e.device.model = Some("iPhone");
        e.signals.bot_type = Some("headless");
        e.ip.blocklisted = Some(true);
        e.velocity.travel_kmh = Some(1234.5);
        let facts = Facts::from(e);
        for (i, def) in FIELDS.iter().enumerate() {
            assert!(
                !facts.get(i as FieldId).is_missing(),
                "{} is not set",
                def.path
            );
        }
    }

    #[test]
    fn typed_numbers_that_json_cannot_hold_are_missing() {
        let mut e = realistic_fields();
        e.confidence = f64::NAN;
        e.scores.bot = f64::INFINITY;
        e.velocity.travel_kmh = Some(f64::INFINITY);
        e.device.screen = None;
        let facts = Facts::from(e);
        for p in [
            "confidence",
            "scores.bot",
            "velocity.travelKmh",
            "device.screen.w",
            "device.screen.h",
        ] {
            assert_eq!(facts.get(id(p)), &Value::Missing, "{p}");
        }
    }

    #[test]
    fn set_refuses_values_of_the_wrong_type() {
        let mut f = Facts::new();
        f.set(id("ip.country"), Value::Str("DE".into()));
        assert_eq!(f.get(id("ip.country")), &Value::Str("DE".into()));
        f.set(id("ip.country"), Value::Num(1.0));
        assert_eq!(f.get(id("ip.country")), &Value::Missing);
        f.set(id("scores.bot"), Value::Num(f64::NAN));
        assert_eq!(f.get(id("scores.bot")), &Value::Missing);
        f.set(FieldId::MAX, Value::Bool(true));
        assert_eq!(f.get(FieldId::MAX), &Value::Missing);
    }
}
