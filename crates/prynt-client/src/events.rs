//! Events (`/v1/events`): one identification in full, and the filtered, cursor-paginated
//! listing of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::common::{CursorPage, Verdict};
use crate::error::Result;
use crate::pager::Pager;

/// One identification in full, as `GET /v1/events/{requestId}` shows it. Values a stage could
/// not compute are `None`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    pub request_id: String,
    pub visitor_id: String,
    pub confidence: f64,
    pub visitor_found: bool,
    pub first_seen_at: Option<String>,
    pub timestamp: String,
    /// The identify call's `type` (`login`, `payment`, ...).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub linked_id: Option<String>,
    pub tag: Option<Value>,
    pub url: Option<String>,
    /// `token`, `fingerprint` or `new`.
    pub identified_by: Option<String>,
    pub device: Option<Device>,
    pub signals: Option<Signals>,
    pub scores: Option<Scores>,
    /// The velocity counts the scores used (see the signals guide).
    pub velocity: Option<Value>,
    pub ip: Option<IpInfo>,
    /// `None` when the environment has no live rule.
    pub verdict: Option<Verdict>,
    pub matched_rule: Option<RuleRef>,
    pub monitor_matches: Vec<RuleRef>,
    /// Set by `tag` side effects.
    pub tags: Option<BTreeMap<String, Value>>,
    /// Fields this version of the client does not model, as the server sent them.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    pub platform: Option<String>,
    pub browser: Option<String>,
    pub gpu: Option<String>,
    /// `desktop`, `mobile`, `tablet`, ...
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    pub screen: Option<ScreenSize>,
    pub model: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ScreenSize {
    pub w: Option<u32>,
    pub h: Option<u32>,
}

/// Smart Signals of an event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Signals {
    pub bot: Option<BotSignal>,
    pub vpn: Option<VpnSignal>,
    pub incognito: Option<bool>,
    pub tampered: Option<bool>,
    pub tampered_reasons: Vec<String>,
    pub emulator: Option<bool>,
    pub proxy: Option<bool>,
    pub tor: Option<bool>,
    pub software_rendering: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BotSignal {
    pub detected: bool,
    #[serde(rename = "type")]
    pub bot_type: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpnSignal {
    pub detected: bool,
    pub provider: Option<String>,
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Scores {
    pub abuse: Option<f64>,
    pub ato: Option<f64>,
    pub bot: Option<f64>,
    /// The suspect score, an integer.
    pub suspect: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpInfo {
    pub address: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub timezone: Option<String>,
    pub asn: Option<u64>,
    pub asn_name: Option<String>,
    pub datacenter: Option<bool>,
    pub blocklisted: Option<bool>,
}

/// The rule that decided an event, or a monitor rule that matched it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleRef {
    pub id: String,
    pub name: Option<String>,
    pub version: Option<i64>,
    pub verdict: Option<Verdict>,
}

/// An event in a listing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSummary {
    pub request_id: String,
    pub visitor_id: String,
    pub confidence: Option<f64>,
    pub verdict: Option<Verdict>,
    pub timestamp: String,
    /// The identify call's `type`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub linked_id: Option<String>,
    /// `signals.bot.detected`.
    pub bot: Option<bool>,
    /// `ip.country` (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// `ip.address` as stored (masked when the environment masks addresses).
    pub ip: Option<String>,
}

/// Filters and paging of `GET /v1/events`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
    /// Events before this ISO 8601 timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Events after this ISO 8601 timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Only bot-detected (`true`) or not bot-detected (`false`) events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot: Option<bool>,
    /// Only events of this `type` (exact match, 1 to 64 characters).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Only events located in this country (ISO 3166-1 alpha-2, either case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// 1 to 100; the server's default is 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Client {
    /// `GET /v1/events/{requestId}`: the full identification result.
    pub async fn get_event(&self, request_id: &str) -> Result<Event> {
        self.get(self.url(&["v1", "events", request_id])?).await
    }

    /// `GET /v1/events`: one page of events, newest first.
    pub async fn list_events(&self, params: &EventListParams) -> Result<CursorPage<EventSummary>> {
        self.get(self.url_with_query(&["v1", "events"], params)?)
            .await
    }

    /// Every event matching `params` (from `params.cursor` on), page by page or as a stream.
    pub fn events_pager(&self, params: EventListParams) -> Result<Pager<EventSummary>> {
        let cursor = params.cursor.clone();
        let params = EventListParams {
            cursor: None,
            ..params
        };
        let url = self.url_with_query(&["v1", "events"], &params)?;
        Ok(Pager::new(self.clone(), url, cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_event_decodes_and_keeps_unmodelled_fields() {
        let text = r#"{
            "requestId": "req_1707832921_a7f2c9", "visitorId": "pv_8kX2mNqR3jT7p",
            "confidence": 0.995, "visitorFound": true, "firstSeenAt": "2025-09-14T08:12:33Z",
            "timestamp": "2026-02-14T11:45:22Z",
            "device": {"platform": "macOS", "browser": "Chrome 121", "gpu": "Apple M3 Pro",
                       "type": "desktop", "screen": {"w": 2560, "h": 1440}},
            "signals": {"bot": {"detected": false}, "vpn": {"detected": false, "provider": null},
                        "incognito": false, "tampered": false, "emulator": false,
                        "proxy": false, "tor": false},
            "scores": {"abuse": 0.03, "ato": 0.01, "bot": 0.02, "suspect": 4},
            "ip": {"address": "73.162.xxx.xxx", "city": "San Francisco", "country": "US",
                   "lat": 37.7749, "lng": -122.4194, "blocklisted": false},
            "verdict": "allow", "matchedRule": null,
            "riskFactors": ["new-in-a-later-version"]
        }"#;
        let e: Event = serde_json::from_str(text).expect("decodes");
        assert_eq!(e.visitor_id, "pv_8kX2mNqR3jT7p");
        assert_eq!(e.verdict, Some(Verdict::Allow));
        assert_eq!(
            e.device.and_then(|d| d.screen).and_then(|s| s.w),
            Some(2560)
        );
        assert_eq!(e.scores.and_then(|s| s.suspect), Some(4));
        assert!(e.extra.contains_key("riskFactors"));
        assert!(!e.extra.contains_key("visitorId"));

        // Stages that computed nothing are nulls, not errors.
        let e: Event = serde_json::from_str(
            r#"{"requestId":"req_1_a","visitorId":"pv_1","confidence":0.5,"visitorFound":false,
                "timestamp":"t","device":null,"signals":null,"scores":null,"ip":null,"verdict":null}"#,
        )
        .expect("decodes");
        assert!(e.signals.is_none() && e.verdict.is_none());
    }

    #[test]
    fn list_params_leave_out_what_is_not_set() {
        let q = serde_urlencoded::to_string(EventListParams {
            verdict: Some(Verdict::Block),
            bot: Some(false),
            event_type: Some("login".into()),
            country: Some("us".into()),
            limit: Some(10),
            ..Default::default()
        })
        .expect("encodes");
        assert_eq!(q, "verdict=block&bot=false&type=login&country=us&limit=10");
    }
}
