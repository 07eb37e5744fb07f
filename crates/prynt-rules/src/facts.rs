//! The facts of one event: one typed value per catalogue field, read once from the event JSON
//! so that rules never walk JSON while they evaluate.

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

/// Streaming reader of the catalogue's fields: a trie of the JSON paths walked by a serde
/// visitor; subtrees no field lives in are skipped with `IgnoredAny`.
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
    }

    impl Node {
        fn child(&self, key: &str) -> Option<&Node> {
            self.children
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, n)| n)
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

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Option<&'static Node>;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = Option<&'static Node>;

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
            while let Some(child) = map.next_key_seed(Key(node))? {
                match child {
                    Some(child) => map.next_value_seed(Walk {
                        node: child,
                        facts: &mut *self.facts,
                    })?,
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
