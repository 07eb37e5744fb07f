//! List contents: entry normalisation per list type, entries with expiry, IP ranges (CIDR)
//! matched without a linear scan, and the set of lists of one environment by name.
//!
//! Expiry is checked on every lookup, so a TTL takes effect the moment it passes; `prune` only
//! frees memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::condition::ListCatalog;
use crate::eval::ListLookup;
use crate::fields::ListType;

/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An IP entry: one address or a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpEntry {
    Addr(IpAddr),
    /// Host bits cleared; the prefix is shorter than the address.
    Net(IpAddr, u8),
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses: events and lists may spell them either way.
fn canonical_addr(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn mask_v4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask_v6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

fn parse_ip(raw: &str) -> Result<IpEntry, String> {
    let s = raw.trim();
    let Some((addr, len)) = s.split_once('/') else {
        return s
            .parse::<IpAddr>()
            .map(|a| IpEntry::Addr(canonical_addr(a)))
            .map_err(|_| format!("\"{s}\" is not an IPv4 or IPv6 address or CIDR range"));
    };
    let bad = || format!("\"{s}\" is not an IPv4 or IPv6 address or CIDR range");
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let len: u8 = len.parse().map_err(|_| bad())?;
    match addr {
        IpAddr::V4(v4) => {
            if len > 32 {
                return Err(format!("\"{s}\": an IPv4 prefix is at most /32"));
            }
            let net = Ipv4Addr::from(mask_v4(u32::from(v4), len));
            Ok(if len == 32 {
                IpEntry::Addr(IpAddr::V4(net))
            } else {
                IpEntry::Net(IpAddr::V4(net), len)
            })
        }
        IpAddr::V6(v6) => {
            if len > 128 {
                return Err(format!("\"{s}\": an IPv6 prefix is at most /128"));
            }
            // A range inside ::ffff:0:0/96 is a range of IPv4 addresses.
            if let (Some(v4), true) = (v6.to_ipv4_mapped(), len >= 96) {
                let l4 = len - 96;
                let net = Ipv4Addr::from(mask_v4(u32::from(v4), l4));
                return Ok(if l4 == 32 {
                    IpEntry::Addr(IpAddr::V4(net))
                } else {
                    IpEntry::Net(IpAddr::V4(net), l4)
                });
            }
            let net = Ipv6Addr::from(mask_v6(u128::from(v6), len));
            Ok(if len == 128 {
                IpEntry::Addr(IpAddr::V6(net))
            } else {
                IpEntry::Net(IpAddr::V6(net), len)
            })
        }
    }
}

fn ip_text(e: IpEntry) -> String {
    match e {
        IpEntry::Addr(a) => a.to_string(),
        IpEntry::Net(a, len) => format!("{a}/{len}"),
    }
}

/// Trimmed and lower-cased, without allocating when it already is. "Already lower case" is
/// what lower-casing leaves unchanged, not the absence of upper-case letters: title-case
/// letters (`ǅ`, `ῼ`) are neither, and lower-case all the same.
fn email_key(raw: &str) -> Cow<'_, str> {
    let s = raw.trim();
    // Char by char this is exact: the one context-dependent mapping of `str::to_lowercase`
    // (a final capital sigma) changes its letter either way.
    if s.chars().flat_map(char::to_lowercase).eq(s.chars()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn normalise_email(raw: &str) -> Result<String, String> {
    let s = email_key(raw);
    let shown = raw.trim();
    if s.is_empty() {
        return Err("an email address cannot be empty".into());
    }
    if s.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "an email address has at most {MAX_EMAIL_CHARS} characters"
        ));
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("\"{shown}\" must contain exactly one '@'"));
    };
    if local.is_empty() {
        return Err(format!("\"{shown}\" has nothing before the '@'"));
    }
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.chars().any(char::is_whitespace);
    if !domain_ok {
        return Err(format!(
            "\"{shown}\" needs a domain with a dot and no spaces after the '@'"
        ));
    }
    Ok(s.into_owned())
}

/// The canonical text of a list entry, or why it is not a valid entry of that type.
///
/// visitor: `pv_` and 13 letters or digits. ip: an address or CIDR range in canonical text
/// (IPv4-mapped IPv6 as IPv4; host bits cleared; a full-length prefix is a plain address).
/// email: trimmed and lower-cased, one `@`, a local part and a dotted domain.
pub fn normalise_entry(ty: ListType, raw: &str) -> Result<String, String> {
    match ty {
        ListType::Visitor => {
            let s = raw.trim();
            if prynt_core::ids::is_visitor_id(s) {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "\"{s}\" is not a visitor ID: pv_ followed by 13 letters or digits"
                ))
            }
        }
        ListType::Ip => parse_ip(raw).map(ip_text),
        ListType::Email => normalise_email(raw),
    }
}

/// `expires_s` of an entry: live while `now_s` is before it.
fn live(expires_s: Option<i64>, now_s: i64) -> bool {
    expires_s.is_none_or(|e| now_s < e)
}

/// Networks of one family, one hash map per prefix length: a lookup masks the address once
/// per length present (a handful in practice, at most 33 or 129), whatever the entry count.
#[derive(Debug, Clone, Default)]
struct Nets<K> {
    /// Longest prefix first.
    by_len: Vec<(u8, HashMap<K, Option<i64>>)>,
}

impl<K: std::hash::Hash + Eq + Copy> Nets<K> {
    fn insert(&mut self, len: u8, net: K, expires_s: Option<i64>) {
        let i = match self.by_len.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(i) => i,
            Err(i) => {
                self.by_len.insert(i, (len, HashMap::new()));
                i
            }
        };
        self.by_len[i].1.insert(net, expires_s);
    }

    fn remove(&mut self, len: u8, net: K) -> bool {
        let Ok(i) = self.by_len.binary_search_by(|(l, _)| len.cmp(l)) else {
            return false;
        };
        let removed = self.by_len[i].1.remove(&net).is_some();
        if self.by_len[i].1.is_empty() {
            self.by_len.remove(i);
        }
        removed
    }

    /// Whether a live network of any length holds the address; `mask` gives the network key
    /// of the address at a length.
    fn contains(&self, mask: impl Fn(u8) -> K, now_s: i64) -> bool {
        self.by_len
            .iter()
            .any(|(len, m)| m.get(&mask(*len)).is_some_and(|e| live(*e, now_s)))
    }

    fn live_len(&self, now_s: i64) -> usize {
        self.by_len
            .iter()
            .map(|(_, m)| m.values().filter(|e| live(**e, now_s)).count())
            .sum()
    }

    fn prune(&mut self, now_s: i64) {
        for (_, m) in &mut self.by_len {
            m.retain(|_, e| live(*e, now_s));
        }
        self.by_len.retain(|(_, m)| !m.is_empty());
    }
}

/// The contents of one list.
#[derive(Debug, Clone)]
pub struct ListData {
    ty: ListType,
    /// Visitor and email entries by canonical text.
    strings: HashMap<Box<str>, Option<i64>>,
    /// IP addresses (canonical: IPv4-mapped as IPv4).
    addrs: HashMap<IpAddr, Option<i64>>,
    v4: Nets<u32>,
    v6: Nets<u128>,
}

impl ListData {
    pub fn new(ty: ListType) -> Self {
        ListData {
            ty,
            strings: HashMap::new(),
            addrs: HashMap::new(),
            v4: Nets::default(),
            v6: Nets::default(),
        }
    }

    pub fn list_type(&self) -> ListType {
        self.ty
    }

    /// Adds an entry, or refreshes its expiry when present. Callers normalise entries first
    /// (with [`normalise_entry`], to report why one is refused); the entry is normalised again
    /// here, which is cheap and keeps the contents canonical whatever is passed, and an entry
    /// that is not valid for the list's type is not stored (it could never match).
    pub fn insert(&mut self, entry: String, expires_s: Option<i64>) {
        match self.ty {
            ListType::Ip => match parse_ip(&entry) {
                Ok(IpEntry::Addr(a)) => {
                    self.addrs.insert(a, expires_s);
                }
                Ok(IpEntry::Net(IpAddr::V4(n), len)) => {
                    self.v4.insert(len, u32::from(n), expires_s)
                }
                Ok(IpEntry::Net(IpAddr::V6(n), len)) => {
                    self.v6.insert(len, u128::from(n), expires_s)
                }
                Err(_) => {}
            },
            ty => {
                if let Ok(e) = normalise_entry(ty, &entry) {
                    self.strings.insert(e.into_boxed_str(), expires_s);
                }
            }
        }
    }

    /// Removes an entry (spelt in any form that normalises to it); whether it was present.
    pub fn remove(&mut self, entry: &str) -> bool {
        match self.ty {
            ListType::Ip => match parse_ip(entry) {
                Ok(IpEntry::Addr(a)) => self.addrs.remove(&a).is_some(),
                Ok(IpEntry::Net(IpAddr::V4(n), len)) => self.v4.remove(len, u32::from(n)),
                Ok(IpEntry::Net(IpAddr::V6(n), len)) => self.v6.remove(len, u128::from(n)),
                Err(_) => false,
            },
            ty => normalise_entry(ty, entry)
                .map(|e| self.strings.remove(e.as_str()).is_some())
                .unwrap_or(false),
        }
    }

    /// Whether the event value `value` is a live entry at `now_s`: an IP inside a live range
    /// counts; emails compare trimmed and lower-cased; visitor IDs compare exactly.
    pub fn contains(&self, value: &str, now_s: i64) -> bool {
        let hit = |e: Option<&Option<i64>>| e.is_some_and(|e| live(*e, now_s));
        match self.ty {
            ListType::Visitor => hit(self.strings.get(value)),
            ListType::Email => hit(self.strings.get(&*email_key(value))),
            ListType::Ip => {
                let Ok(a) = value.trim().parse::<IpAddr>() else {
                    return false;
                };
                let a = canonical_addr(a);
                if hit(self.addrs.get(&a)) {
                    return true;
                }
                match a {
                    IpAddr::V4(v4) => {
                        let x = u32::from(v4);
                        self.v4.contains(|len| mask_v4(x, len), now_s)
                    }
                    IpAddr::V6(v6) => {
                        let x = u128::from(v6);
                        self.v6.contains(|len| mask_v6(x, len), now_s)
                    }
                }
            }
        }
    }

    /// Entries that have not expired at `now_s`.
    pub fn live_len(&self, now_s: i64) -> usize {
        self.strings.values().filter(|e| live(**e, now_s)).count()
            + self.addrs.values().filter(|e| live(**e, now_s)).count()
            + self.v4.live_len(now_s)
            + self.v6.live_len(now_s)
    }

    /// Drops expired entries (they already never match).
    pub fn prune(&mut self, now_s: i64) {
        self.strings.retain(|_, e| live(*e, now_s));
        self.addrs.retain(|_, e| live(*e, now_s));
        self.v4.prune(now_s);
        self.v6.prune(now_s);
    }
}

/// The lists of one environment, by name.
#[derive(Debug, Clone, Default)]
pub struct ListSet {
    lists: HashMap<String, ListData>,
}

impl ListSet {
    pub fn new() -> Self {
        ListSet::default()
    }

    /// Adds or replaces a list.
    pub fn insert_list(&mut self, name: String, data: ListData) {
        self.lists.insert(name, data);
    }

    /// Deletes a list: rules that reference it stop matching on it (unknown).
    pub fn remove_list(&mut self, name: &str) {
        self.lists.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<&ListData> {
        self.lists.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut ListData> {
        self.lists.get_mut(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}

impl ListLookup for ListSet {
    fn contains(&self, list: &str, value: &str, now_s: i64) -> Option<bool> {
        self.lists.get(list).map(|d| d.contains(value, now_s))
    }
}

impl ListCatalog for ListSet {
    fn list_type(&self, name: &str) -> Option<ListType> {
        self.lists.get(name).map(ListData::list_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ty: ListType, raw: &str) -> String {
        normalise_entry(ty, raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn visitor_entries() {
        assert_eq!(
            ok(ListType::Visitor, " pv_a1B2c3D4e5F6g "),
            "pv_a1B2c3D4e5F6g"
        );
        for bad in [
            "pv_short",
            "px_a1B2c3D4e5F6g",
            "pv_a1B2c3D4e5F6g7",
            "pv_a1B2c3D4e5F6-",
            "",
        ] {
            assert!(normalise_entry(ListType::Visitor, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_entries_are_canonical() {
        for (raw, want) in [
            ("10.1.2.3", "10.1.2.3"),
            (" 10.1.2.3 ", "10.1.2.3"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("10.1.2.3/32", "10.1.2.3"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1/120", "192.0.2.0/24"),
            ("::ffff:192.0.2.1/128", "192.0.2.1"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
            ("2001:db8:ffff::1/32", "2001:db8::/32"),
            ("2001:db8::1/128", "2001:db8::1"),
        ] {
            assert_eq!(ok(ListType::Ip, raw), want, "{raw}");
        }
        for bad in [
            "10.1.2",
            "10.1.2.3/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/a",
            "host.example.com",
            "010.1.2.3",
            "fe80::1%eth0",
            "",
        ] {
            assert!(normalise_entry(ListType::Ip, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_entries() {
        assert_eq!(
            ok(ListType::Email, "  Jane.Doe@Example.COM "),
            "jane.doe@example.com"
        );
        assert!(
            normalise_entry(ListType::Email, &format!("{}@example.com", "a".repeat(243))).is_err()
        );
        assert!(
            normalise_entry(ListType::Email, &format!("{}@example.com", "a".repeat(242))).is_ok()
        );
        for bad in [
            "jane",
            "@example.com",
            "a@b@example.com",
            "jane@localhost",
            "jane@exa mple.com",
            "jane@.com",
            "jane@example.",
            "",
        ] {
            assert!(normalise_entry(ListType::Email, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ttl_expiry_takes_effect_at_once() {
        let mut l = ListData::new(ListType::Visitor);
        l.insert("pv_a1B2c3D4e5F6g".into(), Some(100));
        l.insert("pv_zzzzzzzzzzzzz".into(), None);
        assert!(l.contains("pv_a1B2c3D4e5F6g", 99));
        assert!(
            !l.contains("pv_a1B2c3D4e5F6g", 100),
            "expired at its expiry"
        );
        assert!(!l.contains("pv_a1B2c3D4e5F6g", 5_000));
        assert_eq!(l.live_len(99), 2);
        assert_eq!(l.live_len(100), 1);
        // Re-adding refreshes the expiry.
        l.insert("pv_a1B2c3D4e5F6g".into(), Some(200));
        assert!(l.contains("pv_a1B2c3D4e5F6g", 150));
        l.prune(200);
        assert_eq!(l.live_len(0), 1);
        assert!(l.contains("pv_zzzzzzzzzzzzz", i64::MAX));
    }

    #[test]
    fn cidr_containment_v4_and_v6() {
        let mut l = ListData::new(ListType::Ip);
        l.insert("10.0.0.0/8".into(), None);
        l.insert("192.0.2.7".into(), None);
        l.insert("2001:db8::/32".into(), None);
        l.insert("198.51.100.0/24".into(), Some(50));
        assert!(l.contains("10.200.3.4", 0));
        assert!(l.contains("::ffff:10.200.3.4", 0), "mapped IPv6 is IPv4");
        assert!(!l.contains("11.0.0.1", 0));
        assert!(l.contains("192.0.2.7", 0));
        assert!(!l.contains("192.0.2.8", 0));
        assert!(l.contains("2001:db8:1234::5", 0));
        assert!(l.contains("2001:DB8::", 0));
        assert!(!l.contains("2001:db9::1", 0));
        assert!(l.contains("198.51.100.77", 49));
        assert!(
            !l.contains("198.51.100.77", 50),
            "an expired range stops matching"
        );
        assert!(!l.contains("not an ip", 0));
        assert_eq!(l.live_len(0), 4);
        assert_eq!(l.live_len(50), 3);
        // A narrower expired range does not hide a broader live one.
        l.insert("10.1.0.0/16".into(), Some(10));
        assert!(l.contains("10.1.2.3", 20));
        assert!(l.remove("10.0.0.0/8"));
        assert!(!l.contains("10.200.3.4", 0));
        assert!(l.contains("10.1.2.3", 5));
        assert!(l.remove("::ffff:192.0.2.7"));
        assert!(!l.remove("192.0.2.7"));
    }

    #[test]
    fn many_cidrs_stay_exact() {
        let mut l = ListData::new(ListType::Ip);
        for i in 0..4_000u32 {
            let net = Ipv4Addr::from((i << 12) | 0x0A00_0000);
            l.insert(format!("{net}/{}", 20 + (i % 5)), None);
        }
        // Brute force against the same ranges.
        let ranges: Vec<(u32, u8)> = (0..4_000u32)
            .map(|i| {
                let len = 20 + (i % 5) as u8;
                (mask_v4((i << 12) | 0x0A00_0000, len), len)
            })
            .collect();
        let mut x: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let a = 0x0A00_0000 | (x & 0x00FF_FFFF);
            let want = ranges.iter().any(|&(n, len)| mask_v4(a, len) == n);
            assert_eq!(l.contains(&Ipv4Addr::from(a).to_string(), 0), want);
        }
    }

    #[test]
    fn emails_match_case_insensitively() {
        let mut l = ListData::new(ListType::Email);
        l.insert("Fraud@Example.com".into(), None);
        assert!(l.contains("fraud@example.com", 0));
        assert!(l.contains(" FRAUD@example.COM", 0));
        assert!(!l.contains("fraud@example.org", 0));
        assert!(l.remove("FRAUD@EXAMPLE.COM"));
        assert_eq!(l.live_len(0), 0);
    }

    #[test]
    fn invalid_entries_are_not_stored() {
        let mut l = ListData::new(ListType::Ip);
        l.insert("not an ip".into(), None);
        l.insert("pv_a1B2c3D4e5F6g".into(), None);
        assert_eq!(l.live_len(0), 0);
    }

    #[test]
    fn list_set_looks_up_by_name() {
        let mut s = ListSet::new();
        let mut d = ListData::new(ListType::Visitor);
        d.insert("pv_a1B2c3D4e5F6g".into(), None);
        s.insert_list("vips".into(), d);
        assert_eq!(s.list_type("vips"), Some(ListType::Visitor));
        assert_eq!(
            ListLookup::contains(&s, "vips", "pv_a1B2c3D4e5F6g", 0),
            Some(true)
        );
        assert_eq!(
            ListLookup::contains(&s, "vips", "pv_zzzzzzzzzzzzz", 0),
            Some(false)
        );
        assert_eq!(ListLookup::contains(&s, "gone", "x", 0), None);
        s.remove_list("vips");
        assert_eq!(
            ListLookup::contains(&s, "vips", "pv_a1B2c3D4e5F6g", 0),
            None
        );
        assert_eq!(s.list_type("vips"), None);
    }
}
