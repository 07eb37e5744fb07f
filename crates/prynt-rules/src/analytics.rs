//! Analytics over the columnar event table: event counts by verdict, platform, country or
//! time bucket, and Smart Signal counts, rates and trends (docs/api.md, analytics). Pure: the table in,
//! counts out.

use crate::backtest::EventTable;
use crate::condition::Verdict;
use crate::fields::{lookup, FieldId};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 1970-01-01 was a Thursday: weeks start on Monday, 4 days later.
const MONDAY_OFFSET_MS: i64 = 4 * DAY_MS;

/// Time buckets of a series, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    Day,
    /// Weeks starting on Monday.
    Week,
}

impl Bucket {
    /// The bucket's length.
    pub fn width_ms(self) -> i64 {
        match self {
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
            Bucket::Week => 7 * DAY_MS,
        }
    }

    /// The start of the bucket holding `ts_ms`.
    pub fn start(self, ts_ms: i64) -> i64 {
        match self {
            Bucket::Hour => ts_ms.div_euclid(HOUR_MS) * HOUR_MS,
            Bucket::Day => ts_ms.div_euclid(DAY_MS) * DAY_MS,
            Bucket::Week => {
                (ts_ms - MONDAY_OFFSET_MS).div_euclid(7 * DAY_MS) * 7 * DAY_MS + MONDAY_OFFSET_MS
            }
        }
    }
}

/// How `/v1/analytics/events` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventGroup {
    Verdict,
    Platform,
    Country,
    Time(Bucket),
}

/// A group's key: a word (`"block"`, `"macOS"`, `"US"`), `None` for events without the
/// value, or a bucket start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Text(Option<String>),
    Time(i64),
}

/// Counts of the events with `from_ms <= ts < to_ms` (and the verdict, when given), per group,
/// largest first (time buckets in time order).
pub fn events(
    table: &EventTable,
    from_ms: i64,
    to_ms: i64,
    verdict: Option<Verdict>,
    group: Option<EventGroup>,
) -> (u64, Vec<(Key, u64)>) {
    let field = |p: &str| lookup(p).unwrap_or(FieldId::MAX);
    let text_field = match group {
        Some(EventGroup::Platform) => Some(field("device.platform")),
        Some(EventGroup::Country) => Some(field("ip.country")),
        _ => None,
    };
    // Counters indexed without hashing: verdict codes, dictionary ids (missing last), or the
    // bucket's position in the range.
    let mut total = 0u64;
    let mut by_verdict = [0u64; 4];
    let mut by_id: Vec<u64> = Vec::new();
    let mut missing = 0u64;
    let (first_bucket, width) = match group {
        Some(EventGroup::Time(b)) => (b.start(from_ms), b.width_ms()),
        _ => (0, 1),
    };
    let mut by_time: Vec<u64> = Vec::new();
    let verdict_slot = |v: Option<Verdict>| match v {
        None => 0,
        Some(Verdict::Allow) => 1,
        Some(Verdict::Challenge) => 2,
        Some(Verdict::Block) => 3,
    };
    for row in table.rows_between(from_ms, to_ms) {
        let v = table.row_verdict(row);
        if verdict.is_some() && v != verdict {
            continue;
        }
        total += 1;
        match group {
            None => {}
            Some(EventGroup::Verdict) => by_verdict[verdict_slot(v)] += 1,
            Some(EventGroup::Time(b)) => {
                let start = b.start(table.ts_ms(row).unwrap_or(0));
                let i = ((start - first_bucket) / width) as usize;
                if by_time.len() <= i {
                    by_time.resize(i + 1, 0);
                }
                by_time[i] += 1;
            }
            Some(_) => match text_field.and_then(|f| table.row_str_id(f, row)) {
                Some(id) => {
                    let i = id as usize;
                    if by_id.len() <= i {
                        by_id.resize(i + 1, 0);
                    }
                    by_id[i] += 1;
                }
                None => missing += 1,
            },
        }
    }
    let mut out: Vec<(Key, u64)> = match group {
        None => Vec::new(),
        Some(EventGroup::Verdict) => [
            None,
            Some(Verdict::Allow),
            Some(Verdict::Challenge),
            Some(Verdict::Block),
        ]
        .into_iter()
        .zip(by_verdict)
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| (Key::Text(v.map(|v| v.as_str().to_owned())), n))
        .collect(),
        Some(EventGroup::Time(_)) => by_time
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (Key::Time(first_bucket + i as i64 * width), *n))
            .collect(),
        Some(_) => {
            let f = text_field.unwrap_or(FieldId::MAX);
            let mut v: Vec<(Key, u64)> = by_id
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(id, n)| {
                    let text = table.str_of(f, id as u32).map(str::to_owned);
                    (Key::Text(text), *n)
                })
                .collect();
            if missing > 0 {
                v.push((Key::Text(None), missing));
            }
            v
        }
    };
    if !matches!(group, Some(EventGroup::Time(_))) {
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    (total, out)
}

/// The Smart Signals analytics report on, with their event fields.
pub const SIGNALS: &[(&str, &str)] = &[
    ("bot", "signals.bot.detected"),
    ("vpn", "signals.vpn.detected"),
    ("proxy", "signals.proxy"),
    ("tor", "signals.tor"),
    ("incognito", "signals.incognito"),
    ("tampered", "signals.tampered"),
    ("emulator", "signals.emulator"),
];

/// `up` or `down` when the rate in the second half of the range differs from the first half's
/// by more than 10%, else `stable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Stable,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Stable => "stable",
        }
    }

    fn of(first: (u64, u64), second: (u64, u64)) -> Trend {
        let rate = |(n, total): (u64, u64)| {
            if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            }
        };
        let (a, b) = (rate(first), rate(second));
        if b > a * 1.1 && b > 0.0 {
            Trend::Up
        } else if b < a * 0.9 {
            Trend::Down
        } else {
            Trend::Stable
        }
    }
}

/// One signal over the range.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalFigures {
    pub signal: &'static str,
    pub count: u64,
    /// `count` over the events in the range.
    pub rate: f64,
    pub trend: Trend,
}

/// Per signal (all, or the one named): how many events in the range had it, their share, and
/// the trend between the range's halves.
pub fn signals(
    table: &EventTable,
    from_ms: i64,
    to_ms: i64,
    only: Option<&str>,
) -> (u64, Vec<SignalFigures>) {
    let chosen: Vec<(&'static str, FieldId)> = SIGNALS
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == *name))
        .filter_map(|(name, path)| Some((*name, lookup(path)?)))
        .collect();
    let middle = from_ms + (to_ms - from_ms) / 2;
    let mut totals = [0u64; 2];
    let mut counts = vec![[0u64; 2]; chosen.len()];
    for row in table.rows_between(from_ms, to_ms) {
        let half = usize::from(table.ts_ms(row).unwrap_or(0) >= middle);
        totals[half] += 1;
        for (i, (_, field)) in chosen.iter().enumerate() {
            if table.row_bool(*field, row) == Some(true) {
                counts[i][half] += 1;
            }
        }
    }
    let total = totals[0] + totals[1];
    let figures = chosen
        .iter()
        .zip(&counts)
        .map(|((name, _), c)| {
            let count = c[0] + c[1];
            SignalFigures {
                signal: name,
                count,
                rate: if total == 0 {
                    0.0
                } else {
                    count as f64 / total as f64
                },
                trend: Trend::of((c[0], totals[0]), (c[1], totals[1])),
            }
        })
        .collect();
    (total, figures)
}

/// One bucket of a signal series: its events and, per signal, how many had it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub start_ms: i64,
    pub total: u64,
    pub counts: Vec<(&'static str, u64)>,
}

/// Signal counts per day or week of the range (buckets without events are left out).
pub fn signal_series(
    table: &EventTable,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
    only: Option<&str>,
) -> (u64, Vec<SeriesPoint>) {
    let chosen: Vec<(&'static str, FieldId)> = SIGNALS
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == *name))
        .filter_map(|(name, path)| Some((*name, lookup(path)?)))
        .collect();
    let (first, width) = (bucket.start(from_ms), bucket.width_ms());
    let mut points: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut total = 0;
    for row in table.rows_between(from_ms, to_ms) {
        total += 1;
        let i = ((bucket.start(table.ts_ms(row).unwrap_or(0)) - first) / width) as usize;
        if points.len() <= i {
            points.resize_with(i + 1, || (0, vec![0; chosen.len()]));
        }
        let p = &mut points[i];
        p.0 += 1;
        for (i, (_, field)) in chosen.iter().enumerate() {
            if table.row_bool(*field, row) == Some(true) {
                p.1[i] += 1;
            }
        }
    }
    let mut out: Vec<SeriesPoint> = points
        .into_iter()
        .enumerate()
        .filter(|(_, (t, _))| *t > 0)
        .map(|(i, (t, c))| SeriesPoint {
            start_ms: first + i as i64 * width,
            total: t,
            counts: chosen.iter().map(|(n, _)| *n).zip(c).collect(),
        })
        .collect();
    out.sort_by_key(|p| p.start_ms);
    (total, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Facts, Value};

    fn row(t: &mut EventTable, ts: i64, verdict: Option<Verdict>, country: &str, bot: bool) {
        let mut f = Facts::new();
        let set = |f: &mut Facts, p: &str, v: Value| f.set(lookup(p).unwrap(), v);
        set(&mut f, "ip.country", Value::Str(country.into()));
        set(&mut f, "signals.bot.detected", Value::Bool(bot));
        set(&mut f, "signals.vpn.detected", Value::Bool(false));
        t.push(ts, &format!("req_{}_000001", ts / 1000), verdict, &f);
    }

    #[test]
    fn counts_group_and_filter_like_a_plain_loop() {
        let mut t = EventTable::new();
        let day = DAY_MS;
        let base = 20_000 * day;
        for i in 0..100i64 {
            let v = match i % 3 {
                0 => Some(Verdict::Block),
                1 => Some(Verdict::Allow),
                _ => None,
            };
            row(
                &mut t,
                base + i * HOUR_MS,
                v,
                if i % 4 == 0 { "US" } else { "DE" },
                i % 5 == 0,
            );
        }
        let (total, groups) = events(
            &t,
            base,
            base + 100 * HOUR_MS,
            None,
            Some(EventGroup::Verdict),
        );
        assert_eq!(total, 100);
        assert_eq!(groups[0], (Key::Text(Some("block".into())), 34));
        assert!(groups.contains(&(Key::Text(None), 33)));
        let (total, groups) = events(
            &t,
            base,
            base + 100 * HOUR_MS,
            Some(Verdict::Block),
            Some(EventGroup::Country),
        );
        assert_eq!(total, 34);
        let us = (0..100).filter(|i| i % 3 == 0 && i % 4 == 0).count() as u64;
        assert!(groups.contains(&(Key::Text(Some("US".into())), us)));
        let (_, days) = events(
            &t,
            base,
            base + 100 * HOUR_MS,
            None,
            Some(EventGroup::Time(Bucket::Day)),
        );
        assert_eq!(
            days.iter().map(|d| d.1).collect::<Vec<_>>(),
            vec![24, 24, 24, 24, 4]
        );
        let (empty, none) = events(&t, 0, 1000, None, Some(EventGroup::Verdict));
        assert_eq!((empty, none.len()), (0, 0));
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 is a Monday; 2026-11-28 a Saturday.
        let monday = 1_795_392_000_000;
        assert_eq!(Bucket::Week.start(monday + 5 * DAY_MS + 123), monday);
        assert_eq!(Bucket::Week.start(monday), monday);
        assert_eq!(Bucket::Week.start(monday - 1), monday - 7 * DAY_MS);
    }

    #[test]
    fn signal_rates_and_trends() {
        let mut t = EventTable::new();
        // First half: 1 bot in 10; second half: 5 in 10.
        for i in 0..20i64 {
            let bot = if i < 10 { i == 0 } else { i % 2 == 0 };
            row(&mut t, i * 1000, None, "US", bot);
        }
        let (total, figs) = signals(&t, 0, 20_000, None);
        assert_eq!(total, 20);
        let bot = figs.iter().find(|f| f.signal == "bot").unwrap();
        assert_eq!((bot.count, bot.trend), (6, Trend::Up));
        assert!((bot.rate - 0.3).abs() < 1e-9);
        let vpn = figs.iter().find(|f| f.signal == "vpn").unwrap();
        assert_eq!((vpn.count, vpn.trend), (0, Trend::Stable));
        let (_, only) = signals(&t, 0, 20_000, Some("bot"));
        assert_eq!(only.len(), 1);
        assert_eq!(Trend::of((10, 100), (5, 100)), Trend::Down);
        assert_eq!(Trend::of((10, 100), (10, 100)), Trend::Stable);
    }
}
