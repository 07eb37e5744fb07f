//! Analytics (`/v1/analytics`): event counts grouped by verdict, platform, country or time
//! bucket, and Smart Signal counts, rates and trends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::common::Verdict;
use crate::error::Result;

/// The dimension of `GET /v1/analytics/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventGroupBy {
    Verdict,
    Platform,
    Country,
    Hour,
    Day,
    /// Weeks start on Monday, UTC.
    Week,
}

/// The query of `GET /v1/analytics/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAnalyticsParams {
    /// Start of the range (ISO 8601), inclusive.
    pub from: String,
    /// End of the range (ISO 8601), exclusive.
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<EventGroupBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

impl EventAnalyticsParams {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        EventAnalyticsParams {
            from: from.into(),
            to: to.into(),
            group_by: None,
            verdict: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventAnalytics {
    pub from: String,
    pub to: String,
    pub total: u64,
    /// Present when grouped: largest group first, time buckets in time order.
    pub groups: Option<Vec<EventGroup>>,
}

/// One group: its key under the dimension's name (`{"verdict": "allow", "count", "pct"}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EventGroup {
    pub count: u64,
    /// Share of the range's events, 0 to 1.
    pub pct: f64,
    /// The dimension and its value (`null` for events without it, such as no verdict).
    #[serde(flatten)]
    pub key: BTreeMap<String, Value>,
}

impl EventGroup {
    /// The group's value of `dimension` (`"verdict"`, `"day"`, ...); `None` for the group of
    /// events without one.
    pub fn key_of(&self, dimension: &str) -> Option<&str> {
        self.key.get(dimension).and_then(Value::as_str)
    }
}

/// The dimension of `GET /v1/analytics/signals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalGroupBy {
    /// Per signal (the default): count, rate and trend.
    Signal,
    Day,
    Week,
}

/// The query of `GET /v1/analytics/signals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignalAnalyticsParams {
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<SignalGroupBy>,
    /// One of `bot`, `vpn`, `proxy`, `tor`, `incognito`, `tampered`, `emulator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

impl SignalAnalyticsParams {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        SignalAnalyticsParams {
            from: from.into(),
            to: to.into(),
            group_by: None,
            signal: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SignalAnalytics {
    pub from: String,
    pub to: String,
    pub total: u64,
    /// Per signal, when grouped by signal.
    pub signals: Option<Vec<SignalFigure>>,
    /// Per bucket, when grouped by day or week.
    pub series: Option<Vec<SignalPoint>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SignalFigure {
    pub signal: String,
    pub count: u64,
    /// `count / total`.
    pub rate: f64,
    pub trend: Trend,
}

/// The rate in the second half of the range against the first half (±10%).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Up,
    Down,
    #[default]
    Stable,
    #[serde(other)]
    Unknown,
}

/// One day or week of a signal series.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SignalPoint {
    pub total: u64,
    /// Count per signal name.
    pub signals: BTreeMap<String, u64>,
    /// The bucket's start under `day` or `week`.
    #[serde(flatten)]
    pub bucket: BTreeMap<String, Value>,
}

impl Client {
    /// `GET /v1/analytics/events`.
    pub async fn event_analytics(&self, params: &EventAnalyticsParams) -> Result<EventAnalytics> {
        self.get(self.url_with_query(&["v1", "analytics", "events"], params)?)
            .await
    }

    /// `GET /v1/analytics/signals`.
    pub async fn signal_analytics(
        &self,
        params: &SignalAnalyticsParams,
    ) -> Result<SignalAnalytics> {
        self.get(self.url_with_query(&["v1", "analytics", "signals"], params)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_answers_decode() {
        let e: EventAnalytics = serde_json::from_str(
            r#"{"from":"2026-02-07T00:00Z","to":"2026-02-14T00:00Z","total":1284102,"groups":[
                {"verdict":"allow","count":1187421,"pct":0.9247},
                {"verdict":null,"count":3,"pct":0.0}]}"#,
        )
        .expect("decodes");
        let groups = e.groups.expect("groups");
        assert_eq!(groups[0].key_of("verdict"), Some("allow"));
        assert_eq!(groups[0].count, 1_187_421);
        assert_eq!(groups[1].key_of("verdict"), None);
        let s: SignalAnalytics = serde_json::from_str(
            r#"{"from":"a","to":"b","total":2847291,"signals":[
                {"signal":"bot","count":84291,"rate":0.0296,"trend":"up"},
                {"signal":"vpn","count":12847,"rate":0.0045,"trend":"sideways"}]}"#,
        )
        .expect("decodes");
        let figures = s.signals.expect("signals");
        assert_eq!(figures[0].trend, Trend::Up);
        assert_eq!(figures[1].trend, Trend::Unknown);
        let s: SignalAnalytics = serde_json::from_str(
            r#"{"from":"a","to":"b","total":5,"series":[{"day":"2026-02-01T00:00:00Z","total":5,"signals":{"bot":1}}]}"#,
        )
        .expect("decodes");
        let point = &s.series.expect("series")[0];
        assert_eq!(point.signals.get("bot"), Some(&1));
        assert!(point.bucket.contains_key("day"));
    }
}
