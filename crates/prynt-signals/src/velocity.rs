//! Velocity: how many distinct IPs, countries and linked accounts a visitor used, and how many
//! visitors an IP or a linked account had, over the last 5 minutes, hour and day; plus the
//! visitor's previous location for impossible travel. Counts exclude the event being
//! evaluated (it is recorded after it is scored), as rules engines conventionally do.
//!
//! Kept in memory per workspace environment: each key keeps its own observations of the last
//! 24 hours, at most [`PER_KEY`] of them (the most recent), which bounds both memory and the
//! cost of a count.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use serde::Serialize;

/// Observations kept per key; enough for any count a rule would act on.
pub const PER_KEY: usize = 256;
const DAY_S: i64 = 86_400;
const WINDOWS_S: [i64; 3] = [300, 3_600, DAY_S];

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
    /// The linked account was used before, but never from this visitor.
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

#[derive(Debug, Default)]
pub struct Velocity {
    keys: HashMap<Key, VecDeque<Seen>>,
    /// Each visitor's last located event: (time, lat, lng).
    last_place: HashMap<u64, (i64, f64, f64)>,
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
    let mut counts = [0u32; 3];
    for (i, (value, t)) in pairs.iter().enumerate() {
        // Sorted by value then time: the last pair of a value holds its latest time.
        if pairs.get(i + 1).is_some_and(|(next, _)| next == value) {
            continue;
        }
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

/// Great-circle distance in km.
pub fn haversine_km((lat1, lng1): (f64, f64), (lat2, lng2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371.0 * a.sqrt().asin()
}

impl Velocity {
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
            let seen = self.keys.get(&Key::LinkedVisitors(l));
            f.visitors_per_linked_id = distinct(seen, now);
            f.new_device_for_account = seen.is_some_and(|s| {
                s.iter().any(|(t, _, _)| now - t < DAY_S * 90) && !s.iter().any(|(_, x, _)| *x == v)
            });
        }
        if let (Some(here), Some(&(t0, lat, lng))) = (o.location, self.last_place.get(&v)) {
            let km = haversine_km((lat, lng), here);
            // Below a minute apart, city-level positions make any speed look impossible;
            // count only real distances then.
            let hours = ((now - t0).max(60) as f64) / 3_600.0;
            if km > 50.0 {
                f.travel_kmh = Some((km / hours * 10.0).round() / 10.0);
            } else {
                f.travel_kmh = Some(0.0);
            }
        }
        f
    }

    /// Records `o` so that later events count it.
    pub fn record(&mut self, o: &Observation<'_>) {
        let v = h(o.visitor_id);
        let mut push = |key: Key, value: u64| {
            let q = self.keys.entry(key).or_default();
            q.push_back((o.ts_s, value, v));
            while q.len() > PER_KEY || q.front().is_some_and(|(t, _, _)| o.ts_s - t >= DAY_S) {
                q.pop_front();
            }
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
    }

    /// Forgets every observation that came from `visitor_id` (its erasure).
    pub fn forget_visitor(&mut self, visitor_id: &str) {
        let v = h(visitor_id);
        self.last_place.remove(&v);
        self.keys.retain(|key, q| {
            if matches!(key, Key::VisitorIp(x) | Key::VisitorCountry(x) | Key::VisitorLinked(x) if *x == v)
            {
                return false;
            }
            q.retain(|(_, _, from)| *from != v);
            !q.is_empty()
        });
    }

    /// Drops keys with nothing inside the last day, so idle keys do not accumulate.
    pub fn prune(&mut self, now_s: i64) {
        self.keys.retain(|_, q| {
            while q.front().is_some_and(|(t, _, _)| now_s - t >= DAY_S) {
                q.pop_front();
            }
            !q.is_empty()
        });
        self.last_place.retain(|_, (t, _, _)| now_s - *t < DAY_S);
    }

    /// Keys held, for memory accounting.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
        vel.prune(10 * DAY_S);
        assert!(vel.is_empty());
    }
}
