//! The field catalogue: every event field a rule may test, its value type, and the list type it
//! can be looked up in.
//!
//! A field's path is what rules spell (`ip.country`, `velocity.distinctIp.1h`); it is also the
//! dotted path into the stored event JSON, except that the `event.` prefix names the top level
//! (`event.type` is the event's `type`), so that event-level fields read as such in a rule.

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Bool,
    Number,
    String,
    /// A list of strings such as `signals.bot.reasons`.
    StringList,
}

impl FieldType {
    /// How messages name the type.
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Bool => "a boolean",
            FieldType::Number => "a number",
            FieldType::String => "a string",
            FieldType::StringList => "a list of strings",
        }
    }
}

/// The type of a workspace list, which decides what its entries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListType {
    Visitor,
    Ip,
    Email,
}

impl ListType {
    pub fn as_str(self) -> &'static str {
        match self {
            ListType::Visitor => "visitor",
            ListType::Ip => "ip",
            ListType::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<ListType> {
        match s {
            "visitor" => Some(ListType::Visitor),
            "ip" => Some(ListType::Ip),
            "email" => Some(ListType::Email),
            _ => None,
        }
    }
}

/// One field of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub path: &'static str,
    pub ty: FieldType,
    /// The list type whose lists this field can be looked up in (`in` with a list name).
    pub list: Option<ListType>,
}

impl FieldDef {
    /// The keys to follow from the top of the event JSON to this field's value.
    pub fn json_path(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .strip_prefix("event.")
            .unwrap_or(self.path)
            .split('.')
    }
}

/// Index of a field in [`FIELDS`].
pub type FieldId = u16;

const fn f(path: &'static str, ty: FieldType) -> FieldDef {
    FieldDef {
        path,
        ty,
        list: None,
    }
}

const fn listed(path: &'static str, ty: FieldType, list: ListType) -> FieldDef {
    FieldDef {
        path,
        ty,
        list: Some(list),
    }
}

use FieldType::{Bool, Number, String as Str, StringList};

/// Every field a rule may test. The order is the [`FieldId`] and is not a stored format: rules
/// are stored by path, and a table of events is rebuilt from the events.
pub static FIELDS: &[FieldDef] = &[
    listed("visitorId", Str, ListType::Visitor),
    f("visitorFound", Bool),
    f("confidence", Number),
    f("event.type", Str),
    listed("event.linkedId", Str, ListType::Email),
    f("event.url", Str),
    f("device.platform", Str),
    f("device.browser", Str),
    f("device.gpu", Str),
    f("device.type", Str),
    f("device.model", Str),
    f("device.screen.w", Number),
    f("device.screen.h", Number),
    f("signals.bot.detected", Bool),
    f("signals.bot.type", Str),
    f("signals.bot.reasons", StringList),
    f("signals.vpn.detected", Bool),
    f("signals.vpn.provider", Str),
    f("signals.vpn.methods", StringList),
    f("signals.proxy", Bool),
    f("signals.tor", Bool),
    f("signals.incognito", Bool),
    f("signals.tampered", Bool),
    f("signals.tamperedReasons", StringList),
    f("signals.emulator", Bool),
    f("signals.softwareRendering", Bool),
    f("scores.suspect", Number),
    f("scores.bot", Number),
    f("scores.abuse", Number),
    f("scores.ato", Number),
    listed("ip.address", Str, ListType::Ip),
    f("ip.city", Str),
    f("ip.country", Str),
    f("ip.timezone", Str),
    f("ip.asn", Number),
    f("ip.asnName", Str),
    f("ip.lat", Number),
    f("ip.lng", Number),
    f("ip.datacenter", Bool),
    f("ip.blocklisted", Bool),
    f("velocity.distinctIp.5m", Number),
    f("velocity.distinctIp.1h", Number),
    f("velocity.distinctIp.24h", Number),
    f("velocity.distinctCountry.5m", Number),
    f("velocity.distinctCountry.1h", Number),
    f("velocity.distinctCountry.24h", Number),
    f("velocity.distinctLinkedId.5m", Number),
    f("velocity.distinctLinkedId.1h", Number),
    f("velocity.distinctLinkedId.24h", Number),
    f("velocity.visitorsPerLinkedId.5m", Number),
    f("velocity.visitorsPerLinkedId.1h", Number),
    f("velocity.visitorsPerLinkedId.24h", Number),
    f("velocity.visitorsPerIp.5m", Number),
    f("velocity.visitorsPerIp.1h", Number),
    f("velocity.visitorsPerIp.24h", Number),
    f("velocity.newDeviceForAccount", Bool),
    f("velocity.travelKmh", Number),
];

/// The id of the field with this exact path.
pub fn lookup(path: &str) -> Option<FieldId> {
    // A linear scan of ~60 short strings: it only runs when a rule is parsed.
    FIELDS
        .iter()
        .position(|d| d.path == path)
        .and_then(|i| FieldId::try_from(i).ok())
}

/// The definition of a field id; `None` for an id outside the catalogue.
pub fn def(id: FieldId) -> Option<&'static FieldDef> {
    FIELDS.get(usize::from(id))
}

/// The field ids of the fields that carry a visitor id, an IP address and a linked account,
/// the three values backtest evidence is looked up by.
pub(crate) mod well_known {
    use super::FieldId;
    pub const VISITOR_ID: FieldId = 0;
    pub const LINKED_ID: FieldId = 4;
    pub const IP_ADDRESS: FieldId = 30;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn paths_are_unique_and_lookup_finds_each() {
        let mut seen = HashSet::new();
        for (i, d) in FIELDS.iter().enumerate() {
            assert!(seen.insert(d.path), "duplicate {}", d.path);
            assert_eq!(lookup(d.path), Some(i as FieldId));
        }
        assert_eq!(lookup("ip.nope"), None);
        assert_eq!(
            lookup("type"),
            None,
            "the top-level type is spelt event.type"
        );
    }

    #[test]
    fn well_known_ids_point_at_their_fields() {
        assert_eq!(FIELDS[well_known::VISITOR_ID as usize].path, "visitorId");
        assert_eq!(
            FIELDS[well_known::LINKED_ID as usize].path,
            "event.linkedId"
        );
        assert_eq!(FIELDS[well_known::IP_ADDRESS as usize].path, "ip.address");
    }

    #[test]
    fn event_prefix_maps_to_the_top_level() {
        let d = &FIELDS[lookup("event.linkedId").unwrap() as usize];
        assert_eq!(d.json_path().collect::<Vec<_>>(), ["linkedId"]);
        assert_eq!(d.list, Some(ListType::Email));
        let v = &FIELDS[lookup("velocity.distinctIp.24h").unwrap() as usize];
        assert_eq!(
            v.json_path().collect::<Vec<_>>(),
            ["velocity", "distinctIp", "24h"]
        );
    }

    #[test]
    fn list_type_round_trips() {
        for t in [ListType::Visitor, ListType::Ip, ListType::Email] {
            assert_eq!(ListType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ListType::parse("IP"), None);
    }
}
