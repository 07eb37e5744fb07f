//! Velocity: how many distinct IPs, countries and linked accounts a visitor used, and how many
//! visitors an IP or a linked account had, over the last 5 minutes, hour and day; plus the
//! visitor's previous location for impossible travel. Counts exclude the event being
//! evaluated (it is recorded after it is scored), as rules engines conventionally do.
//!
//! Kept in memory per workspace environment: each key keeps its own observations of the last
//! 24 hours, at most [`PER_KEY`] of them (the most recent), which bounds both memory and the
//! cost of a count.
//!
//! `newDeviceForAccount` looks further back, at a separate account history: for each linked
//! account, the visitors that used it within the last [`ACCOUNT_WINDOW_S`] (90 days), each with
//! the time it last did, at most [`DEVICES_PER_ACCOUNT`] of them (the most recently seen). An
//! event's account is on a new device when the account was used within the window, but never
//! from the event's visitor within it. The engine holds no storage: whoever runs it rebuilds
//! the history after a restart with [`Velocity::note_account_use`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use serde::Serialize;

/// Observations kept per key; enough for any count a rule would act on.
pub const PER_KEY: usize = 256;
/// A day in seconds: the longest count window, and how long an observation is kept.
pub const DAY_S: i64 = 86_400;
/// How far back the account history behind `newDeviceForAccount` reaches by default: 90 days.
pub const ACCOUNT_WINDOW_S: i64 = 90 * DAY_S;
/// Visitors remembered per linked account: the most recently seen ones. Beyond it the least
/// recently seen visitor is forgotten, so if it comes back it counts as a new device. A real
/// account rarely has this many browsers in 90 days; one that does is shared or attacked.
pub const DEVICES_PER_ACCOUNT: usize = 32;
/// The count windows: 5 minutes, an hour, a day.
pub const WINDOWS_S: [i64; 3] = [300, 3_600, DAY_S];

/// Distinct counts over the three windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Windows {
    #[serde(rename = "5m")]
    pub m5: u32,
    #[serde(rename = "1h")]
    pub h1: u32,
    #[serde(rename = "24h")]
    pub h24: u32,
}

/// The velocity features of one event, as of just before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Distinct IPs this visitor used.
    pub distinct_ip: Windows,
    /// Distinct countries this visitor was seen in.
    pub distinct_country: Windows,
    /// Distinct linked accounts this visitor used.
    pub distinct_linked_id: Windows,
    /// Distinct visitors seen with this event's linked account.
    pub visitors_per_linked_id: Windows,
    /// Distinct visitors seen from this event's IP.
    pub visitors_per_ip: Windows,
    /// The linked account was used within the account window (90 days), but never from this
    /// visitor within it.
    pub new_device_for_account: bool,
    /// Speed in km/h needed to get from the visitor's previous located event to this one, when
    /// both are located and at least a minute apart or far apart.
    pub travel_kmh: Option<f64>,
}

/// One event as velocity sees it.
pub struct Observation<'a> {
    pub visitor_id: &'a str,
    pub ip: &'a str,
    pub country: Option<&'a str>,
    pub linked_id: Option<&'a str>,
    pub location: Option<(f64, f64)>,
    pub ts_s: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    VisitorIp(u64),
    VisitorCountry(u64),
    VisitorLinked(u64),
    LinkedVisitors(u64),
    IpVisitors(u64),
}

/// (time, hash of the value, hash of the visitor it came from)
type Seen = (i64, u64, u64);

#[derive(Debug)]
pub struct Velocity {
    keys: HashMap<Key, VecDeque<Seen>>,
    /// Each visitor's last located event: (time, lat, lng).
    last_place: HashMap<u64, (i64, f64, f64)>,
    /// Per linked account: (visitor, the last time it used the account), at most
    /// [`DEVICES_PER_ACCOUNT`], none older than `account_window_s` once pruned. Sized exactly
    /// (16 bytes a visitor): most accounts have one or two.
    accounts: HashMap<u64, Vec<(u64, i64)>>,
    account_window_s: i64,
}

impl Default for Velocity {
    fn default() -> Self {
        Velocity::with_account_window(ACCOUNT_WINDOW_S)
    }
}

fn h(s: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    s.hash(&mut hasher);
    hasher.finish()
}

fn distinct(seen: Option<&VecDeque<Seen>>, now: i64) -> Windows {
    let Some(seen) = seen else {
        return Windows::default();
    };
    // One sort by value; each distinct value counts in every window its latest time is in.
    let mut pairs: Vec<(u64, i64)> = seen
        .iter()
        .filter(|(t, _, _)| now - t < DAY_S)
        .map(|(t, v, _)| (*v, *t))
        .collect();
    pairs.sort_unstable();
    // Sorted by value then time: the last pair of a value holds its latest time.
    let latest = pairs
        .iter()
        .enumerate()
        .filter(|(i, (value, _))| pairs.get(i + 1).is_none_or(|(next, _)| next != value))
        .map(|(_, (_, t))| *t);
    windows_of(latest, now)
}

/// The counts of distinct values as of `now`, given each distinct value's latest time (once
/// per value): each counts in every window of [`WINDOWS_S`] its latest time is in
/// (`now - t < span`). Times after `now` count in every window (another node's clock may be a
/// little ahead). A store that keeps the counts elsewhere applies this same rule to the same
/// spans (the server's Redis counts: a `ZCOUNT` of the latest times above `now - span`).
fn windows_of(latest: impl IntoIterator<Item = i64>, now: i64) -> Windows {
    let mut counts = [0u32; 3];
    for t in latest {
        for (w, span) in WINDOWS_S.iter().enumerate() {
            if now - t < *span {
                counts[w] += 1;
            }
        }
    }
    Windows {
        m5: counts[0],
        h1: counts[1],
        h24: counts[2],
    }
}

/// The speed in km/h needed to get from `previous` (time, lat, lng) to `here` at `now`,
/// rounded to 0.1: 0 within 50 km (city-level positions), and at least a minute's travel
/// otherwise, since below a minute apart any distance looks impossible.
pub fn travel_kmh(previous: (i64, f64, f64), here: (f64, f64), now: i64) -> f64 {
    let (t0, lat, lng) = previous;
    let km = haversine_km((lat, lng), here);
    let hours = ((now - t0).max(60) as f64) / 3_600.0;
    if km > 50.0 {
        (km / hours * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// Great-circle distance in km.
pub fn haversine_km((lat1, lng1): (f64, f64), (lat2, lng2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371.0 * a.sqrt().asin()
}

impl Velocity {
    /// Velocity whose account history reaches back `window_s` seconds instead of
    /// [`ACCOUNT_WINDOW_S`] (a server keeping its events for less than 90 days can only rebuild
    /// that much after a restart, so it keeps no more before one either).
    pub fn with_account_window(window_s: i64) -> Self {
        Velocity {
            keys: HashMap::new(),
            last_place: HashMap::new(),
            accounts: HashMap::new(),
            account_window_s: window_s.max(1),
        }
    }

    /// How far back the account history reaches, in seconds.
    pub fn account_window_s(&self) -> i64 {
        self.account_window_s
    }

    /// The features of `o`, from what was recorded before it.
    pub fn features(&self, o: &Observation<'_>) -> Features {
        let v = h(o.visitor_id);
        let now = o.ts_s;
        let linked = o.linked_id.map(h);
        let mut f = Features {
            distinct_ip: distinct(self.keys.get(&Key::VisitorIp(v)), now),
            distinct_country: distinct(self.keys.get(&Key::VisitorCountry(v)), now),
            distinct_linked_id: distinct(self.keys.get(&Key::VisitorLinked(v)), now),
            visitors_per_ip: distinct(self.keys.get(&Key::IpVisitors(h(o.ip))), now),
            ..Features::default()
        };
        if let Some(l) = linked {
            f.visitors_per_linked_id = distinct(self.keys.get(&Key::LinkedVisitors(l)), now);
            f.new_device_for_account = self.is_new_device(l, v, now);
        }
        if let (Some(here), Some(&previous)) = (o.location, self.last_place.get(&v)) {
            f.travel_kmh = Some(travel_kmh(previous, here, now));
        }
        f
    }

    /// Whether `account` was used within the window before `now`, but not from `visitor`.
    fn is_new_device(&self, account: u64, visitor: u64, now: i64) -> bool {
        let Some(devices) = self.accounts.get(&account) else {
            return false;
        };
        let mut used = false;
        for (x, t) in devices {
            if now - t < self.account_window_s {
                if *x == visitor {
                    return false;
                }
                used = true;
            }
        }
        used
    }

    /// Records `o` so that later events count it.
    pub fn record(&mut self, o: &Observation<'_>) {
        let v = h(o.visitor_id);
        let mut push = |key: Key, value: u64| {
            let q = self.keys.entry(key).or_default();
            while q.len() >= PER_KEY || q.front().is_some_and(|(t, _, _)| o.ts_s - t >= DAY_S) {
                q.pop_front();
            }
            // Room is made before the push: a full queue pushed first would double its buffer
            // to hold one observation more than it ever keeps.
            q.push_back((o.ts_s, value, v));
        };
        push(Key::VisitorIp(v), h(o.ip));
        if let Some(c) = o.country {
            push(Key::VisitorCountry(v), h(c));
        }
        if let Some(l) = o.linked_id {
            push(Key::VisitorLinked(v), h(l));
            push(Key::LinkedVisitors(h(l)), v);
        }
        push(Key::IpVisitors(h(o.ip)), v);
        if let Some((lat, lng)) = o.location {
            self.last_place.insert(v, (o.ts_s, lat, lng));
        }
        if let Some(l) = o.linked_id {
            self.note(h(l), v, o.ts_s);
        }
    }

    /// Teaches only the account history that `visitor_id` used `linked_id` at `ts_s`: how a
    /// restarted server rebuilds it from its stored events. In any order, and any number of
    /// times: the history keeps each visitor's latest time.
    pub fn note_account_use(&mut self, visitor_id: &str, linked_id: &str, ts_s: i64) {
        self.note(h(linked_id), h(visitor_id), ts_s);
    }

    fn note(&mut self, account: u64, visitor: u64, ts_s: i64) {
        let window = self.account_window_s;
        let devices = self.accounts.entry(account).or_default();
        if let Some(seen) = devices.iter_mut().find(|(x, _)| *x == visitor) {
            seen.1 = seen.1.max(ts_s);
            return;
        }
        // Expired visitors make room first, then the least recently seen one.
        devices.retain(|(_, t)| ts_s - t < window);
        devices.reserve_exact(1);
        devices.push((visitor, ts_s));
        if devices.len() > DEVICES_PER_ACCOUNT {
            if let Some(oldest) = (0..devices.len()).min_by_key(|&i| devices[i].1) {
                devices.swap_remove(oldest);
            }
        }
    }

    /// Visitors the account history holds for `linked_id`, for tests and diagnostics.
    pub fn account_devices(&self, linked_id: &str) -> usize {
        self.accounts.get(&h(linked_id)).map_or(0, Vec::len)
    }

    /// Forgets every observation that came from `visitor_id` (its erasure).
    pub fn forget_visitor(&mut self, visitor_id: &str) {
        let v = h(visitor_id);
        self.last_place.remove(&v);
        self.accounts.retain(|_, devices| {
            devices.retain(|(x, _)| *x != v);
            !devices.is_empty()
        });
        self.keys.retain(|key, q| {
            if matches!(key, Key::VisitorIp(x) | Key::VisitorCountry(x) | Key::VisitorLinked(x) if *x == v)
            {
                return false;
            }
            q.retain(|(_, _, from)| *from != v);
            !q.is_empty()
        });
    }

    /// Drops keys with nothing inside the last day, and account history past its window, so
    /// idle keys and accounts do not accumulate.
    pub fn prune(&mut self, now_s: i64) {
        let window = self.account_window_s;
        self.accounts.retain(|_, devices| {
            let before = devices.len();
            devices.retain(|(_, t)| now_s - t < window);
            if devices.len() < before {
                devices.shrink_to_fit();
            }
            !devices.is_empty()
        });
        self.keys.retain(|_, q| {
            while q.front().is_some_and(|(t, _, _)| now_s - t >= DAY_S) {
                q.pop_front();
            }
            !q.is_empty()
        });
        self.last_place.retain(|_, (t, _, _)| now_s - *t < DAY_S);
    }

    /// Keys and accounts held, for memory accounting.
    pub fn len(&self) -> usize {
        self.keys.len() + self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.accounts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs<'a>(
        v: &'a str,
        ip: &'a str,
        country: &'a str,
        linked: Option<&'a str>,
        t: i64,
    ) -> Observation<'a> {
        Observation {
            visitor_id: v,
            ip,
            country: Some(country),
            linked_id: linked,
            location: None,
            ts_s: t,
        }
    }

    #[test]
    fn counts_are_distinct_per_window_and_exclude_the_current_event() {
        let mut vel = Velocity::default();
        let t = 1_000_000;
        // Before anything: zero.
        let first = obs("pv_a", "1.1.1.1", "DE", Some("u1"), t);
        assert_eq!(vel.features(&first), Features::default());
        vel.record(&first);
        vel.record(&obs("pv_a", "1.1.1.1", "DE", Some("u1"), t + 10));
        vel.record(&obs("pv_a", "2.2.2.2", "FR", Some("u2"), t - 1_800));
        vel.record(&obs("pv_a", "3.3.3.3", "US", None, t - 7_200));
        let f = vel.features(&obs("pv_a", "4.4.4.4", "DE", Some("u1"), t + 20));
        assert_eq!(
            f.distinct_ip,
            Windows {
                m5: 1,
                h1: 2,
                h24: 3
            }
        );
        assert_eq!(
            f.distinct_country,
            Windows {
                m5: 1,
                h1: 2,
                h24: 3
            }
        );
        assert_eq!(
            f.distinct_linked_id,
            Windows {
                m5: 1,
                h1: 2,
                h24: 2
            }
        );
        assert!(!f.new_device_for_account, "pv_a used u1 before");

        // Other visitors on the same account and the same IP.
        vel.record(&obs("pv_b", "1.1.1.1", "DE", Some("u1"), t + 30));
        let f = vel.features(&obs("pv_c", "1.1.1.1", "DE", Some("u1"), t + 40));
        assert_eq!(f.visitors_per_linked_id.m5, 2);
        assert_eq!(f.visitors_per_ip.m5, 2);
        assert!(f.new_device_for_account, "pv_c never used u1");
        // A day later it has all expired.
        let later = vel.features(&obs("pv_a", "1.1.1.1", "DE", Some("u1"), t + DAY_S + 100));
        assert_eq!(later.distinct_ip, Windows::default());
    }

    #[test]
    fn impossible_travel_is_a_speed() {
        let mut vel = Velocity::default();
        let mut berlin = obs("pv_a", "1.1.1.1", "DE", None, 0);
        berlin.location = Some((52.52, 13.405));
        vel.record(&berlin);
        let mut nyc = obs("pv_a", "2.2.2.2", "US", None, 3_600);
        nyc.location = Some((40.7128, -74.006));
        let kmh = vel.features(&nyc).travel_kmh.unwrap();
        assert!((6_000.0..6_600.0).contains(&kmh), "{kmh}");
        let mut near = obs("pv_a", "1.1.1.2", "DE", None, 3_600);
        near.location = Some((52.50, 13.40));
        assert_eq!(vel.features(&near).travel_kmh, Some(0.0));
    }

    #[test]
    fn a_forgotten_visitor_leaves_no_count_behind() {
        let mut vel = Velocity::default();
        vel.record(&obs("pv_a", "1.1.1.1", "DE", Some("u1"), 0));
        vel.record(&obs("pv_b", "1.1.1.1", "DE", Some("u1"), 1));
        vel.forget_visitor("pv_a");
        let f = vel.features(&obs("pv_a", "1.1.1.1", "DE", Some("u1"), 2));
        assert_eq!(f.distinct_ip, Windows::default());
        assert_eq!(f.visitors_per_ip.m5, 1, "only pv_b is left");
        assert!(f.new_device_for_account);
    }

    #[test]
    fn memory_per_key_is_bounded() {
        let mut vel = Velocity::default();
        for i in 0..(PER_KEY * 3) {
            vel.record(&obs(
                "pv_a",
                &format!("10.0.{}.{}", i / 256, i % 256),
                "DE",
                None,
                i as i64,
            ));
        }
        let f = vel.features(&obs("pv_a", "9.9.9.9", "DE", None, (PER_KEY * 3) as i64));
        assert_eq!(f.distinct_ip.h24 as usize, PER_KEY);
        // A full key's buffer never grows past what it keeps (a soak showed it doubling).
        let widest = vel.keys.values().map(VecDeque::capacity).max();
        assert_eq!(widest, Some(PER_KEY));
        vel.prune(10 * DAY_S);
        assert!(vel.is_empty());
    }

    /// Account `linked` used by `visitor` on `day` (a login with no other fact).
    fn login<'a>(visitor: &'a str, linked: &'a str, day: i64) -> Observation<'a> {
        obs(visitor, "1.1.1.1", "DE", Some(linked), day * DAY_S)
    }

    /// Features of a login on `day`, after the hourly prune the server runs.
    fn new_device(vel: &mut Velocity, visitor: &str, linked: &str, day: i64) -> bool {
        vel.prune(day * DAY_S);
        vel.features(&login(visitor, linked, day))
            .new_device_for_account
    }

    #[test]
    fn new_device_for_account_looks_back_90_days_not_one() {
        let mut vel = Velocity::default();
        assert!(
            !new_device(&mut vel, "pv_a", "u1", 0),
            "never used: not new"
        );
        vel.record(&login("pv_a", "u1", 0));
        // Three days later, from another browser: the 24-hour counters forgot day 0 long ago.
        assert!(new_device(&mut vel, "pv_b", "u1", 3), "used from A only");
        assert!(
            !new_device(&mut vel, "pv_a", "u1", 3),
            "A used it 3 days ago"
        );
        vel.record(&login("pv_b", "u1", 3));
        // Day 60: A's use of day 0 is within 90 days.
        assert!(!new_device(&mut vel, "pv_a", "u1", 60));
        vel.record(&login("pv_a", "u1", 60));
        // Day 95: B's only use (day 3) is 92 days old, A's (day 60) is not: B is new again.
        assert!(new_device(&mut vel, "pv_b", "u1", 95));
        assert!(!new_device(&mut vel, "pv_a", "u1", 95));
        assert_eq!(vel.account_devices("u1"), 1, "B's day-3 use was pruned");

        // An account whose whole history is past the window was not used before: nothing is
        // new for it, whichever visitor comes.
        vel.record(&login("pv_a", "u2", 0));
        vel.record(&login("pv_b", "u2", 4));
        assert!(
            new_device(&mut vel, "pv_c", "u2", 93),
            "B's use is 89 days old"
        );
        assert!(
            !new_device(&mut vel, "pv_c", "u2", 95),
            "both uses > 90 days old"
        );
        assert!(!new_device(&mut vel, "pv_b", "u2", 95));
        assert_eq!(vel.account_devices("u2"), 0);

        // The window is 90 days exactly: a use 90 days before no longer counts.
        let mut vel = Velocity::default();
        vel.record(&login("pv_a", "u3", 10));
        let edge = |visitor, t| {
            vel.features(&obs(visitor, "1.1.1.1", "DE", Some("u3"), t))
                .new_device_for_account
        };
        assert!(edge("pv_b", 10 * DAY_S + ACCOUNT_WINDOW_S - 1));
        assert!(!edge("pv_b", 10 * DAY_S + ACCOUNT_WINDOW_S));
        assert!(!edge("pv_a", 10 * DAY_S + ACCOUNT_WINDOW_S - 1));
    }

    #[test]
    fn a_shorter_account_window_forgets_sooner() {
        let mut vel = Velocity::with_account_window(30 * DAY_S);
        assert_eq!(vel.account_window_s(), 30 * DAY_S);
        vel.record(&login("pv_a", "u1", 0));
        assert!(new_device(&mut vel, "pv_b", "u1", 29));
        assert!(!new_device(&mut vel, "pv_b", "u1", 31));
    }

    #[test]
    fn account_history_keeps_the_most_recently_seen_devices() {
        let mut vel = Velocity::default();
        let n = DEVICES_PER_ACCOUNT as i64;
        for i in 0..=n {
            vel.record(&obs(
                &format!("pv_{i}"),
                "1.1.1.1",
                "DE",
                Some("u1"),
                i * 60,
            ));
        }
        assert_eq!(vel.account_devices("u1"), DEVICES_PER_ACCOUNT);
        let t = (n + 1) * 60;
        let new = |v: &str| {
            vel.features(&obs(v, "1.1.1.1", "DE", Some("u1"), t))
                .new_device_for_account
        };
        assert!(new("pv_0"), "the least recently seen was forgotten");
        assert!(!new("pv_1"));
        assert!(!new(&format!("pv_{n}")));
        // A visitor seen again is refreshed, not added: pv_1 survives the next newcomer.
        vel.record(&obs("pv_1", "1.1.1.1", "DE", Some("u1"), t));
        vel.record(&obs("pv_new", "1.1.1.1", "DE", Some("u1"), t + 1));
        assert_eq!(vel.account_devices("u1"), DEVICES_PER_ACCOUNT);
        let new = |v: &str| {
            vel.features(&obs(v, "1.1.1.1", "DE", Some("u1"), t + 2))
                .new_device_for_account
        };
        assert!(!new("pv_1"));
        assert!(new("pv_2"), "now the least recently seen");
    }

    #[test]
    fn account_history_rebuilt_in_any_order_answers_as_recorded() {
        let uses = [
            ("pv_a", "u1", 0),
            ("pv_b", "u1", 3),
            ("pv_a", "u1", 60),
            ("pv_c", "u2", 10),
        ];
        let mut live = Velocity::default();
        for (v, l, day) in uses {
            live.record(&login(v, l, day));
        }
        // Rebuilt newest first, with a duplicate: the latest time of each visitor wins.
        let mut rebuilt = Velocity::default();
        for (v, l, day) in uses.iter().rev().chain(uses.iter()) {
            rebuilt.note_account_use(v, l, day * DAY_S);
        }
        assert_eq!(
            rebuilt.features(&login("pv_a", "u1", 61)),
            Features::default()
        );
        // In time order, since each check prunes as of its day.
        for (v, l, day, expected) in [
            ("pv_c", "u1", 61, true),
            ("pv_a", "u1", 95, false),
            ("pv_b", "u1", 95, true),
            ("pv_c", "u2", 99, false),
            ("pv_a", "u2", 99, true),
            ("pv_a", "u2", 101, false),
        ] {
            assert_eq!(
                new_device(&mut live, v, l, day),
                expected,
                "{v} {l} day {day}"
            );
            assert_eq!(
                new_device(&mut rebuilt, v, l, day),
                expected,
                "{v} {l} day {day}"
            );
        }
    }

    #[test]
    fn a_forgotten_visitor_leaves_no_account_history_behind() {
        let mut vel = Velocity::default();
        vel.record(&login("pv_a", "u1", 0));
        vel.note_account_use("pv_a", "u2", 0);
        vel.record(&login("pv_b", "u1", 1));
        vel.forget_visitor("pv_a");
        assert_eq!(vel.account_devices("u1"), 1);
        assert_eq!(
            vel.account_devices("u2"),
            0,
            "an emptied account is dropped"
        );
        assert!(
            new_device(&mut vel, "pv_a", "u1", 5),
            "A is a stranger to u1 now"
        );
        vel.forget_visitor("pv_b");
        assert!(
            !new_device(&mut vel, "pv_c", "u1", 5),
            "u1 has no history left"
        );
        assert!(vel.is_empty());
    }
}
