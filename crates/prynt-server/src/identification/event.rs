//! Stage 4, facts: velocity, blocklists and scores, then the event as it is stored, as typed
//! values ([`Event`]), and the rules' facts built from those same values ([`Event::facts`]).
//! The stored JSON is the serde serialisation of [`Stored`] (the event and the rules'
//! decision); a test pins that the facts built here equal the facts a backtest reads back
//! from that JSON, so live decisions and replays see one event.

use std::net::IpAddr;

use prynt_core::timefmt;
use prynt_rules::facts::{
    str_list, DeviceFields, EventFields, Facts, IpFields, ScoreFields, SignalFields,
    VelocityFields, WindowFields,
};
use prynt_signals::detect::{BotKind, Signals};
use prynt_signals::ip::{IpInfo, IpIntel};
use prynt_signals::ranges::RangeKind;
use prynt_signals::scores::{self, Scores};
use prynt_signals::velocity::{Features, Observation, Windows};
use serde::Serialize;

use super::device::Observed;
use super::matching::Match;
use super::request::Admitted;
use crate::decide::Outcome;
use crate::policy::ScopePolicy;
use crate::state::AppState;

/// What the event's context adds to its signals: counts, blocklists and scores.
pub struct Assessment {
    /// The payload's `linkedId`, trimmed; `None` when blank.
    pub linked_id: Option<String>,
    pub velocity: Features,
    /// On a known blocklist (range feed or workspace IP blocklist); `None` when neither exists.
    pub blocklisted: Option<bool>,
    pub scores: Scores,
    /// The address as stored and shown: masked when the workspace says so.
    pub address: String,
}

/// The event as velocity sees it; built twice (to count, then to record once durable) as it
/// is only references.
pub fn observation<'a>(
    observed: &'a Observed,
    matched: &'a Match,
    linked_id: Option<&'a str>,
    now_ms: i64,
) -> Observation<'a> {
    let location = observed.ip.location.as_ref();
    Observation {
        visitor_id: &matched.visitor_id,
        ip: &observed.client_text,
        country: location.and_then(|l| l.country.as_deref()),
        linked_id,
        location: location.and_then(|l| Some((l.lat?, l.lng?))),
        ts_s: now_ms / 1000,
    }
}

pub async fn assess(
    state: &AppState,
    admitted: &Admitted,
    observed: &Observed,
    matched: &Match,
    policy: &ScopePolicy,
    now_ms: i64,
) -> Assessment {
    let linked_id = clean(admitted.payload.linked_id.as_deref());
    let velocity = state
        .risk
        .features(
            &admitted.auth.scope,
            &observation(observed, matched, linked_id.as_deref(), now_ms),
        )
        .await;
    let (listed, has_blocklists) = {
        let lists = policy.lists.read();
        (
            lists.ip_blocklisted(&observed.client_text, now_ms / 1000),
            lists.has_ip_blocklists(),
        )
    };
    let intel = &state.ip_intel;
    let blocklisted = (intel.has_ranges() && observed.ip.has(RangeKind::Abuse)) || listed;
    let settings = &admitted.settings;
    Assessment {
        scores: scores::score(
            &observed.signals,
            blocklisted,
            observed.ip.datacenter,
            &velocity,
            &settings.suspect_weights,
        ),
        velocity,
        blocklisted: (intel.has_ranges() || has_blocklists).then_some(blocklisted),
        address: if settings.mask_ip {
            mask(admitted.client)
        } else {
            observed.client_text.clone()
        },
        linked_id,
    }
}

/// A payload string trimmed; blank is absent.
fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `73.162.xxx.xxx`; IPv6 keeps its first three groups (the routing prefix).
fn mask(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.xxx.xxx", o[0], o[1])
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:xxxx:xxxx:xxxx:xxxx:xxxx", s[0], s[1], s[2])
        }
    }
}

/// The event's `ip` object. A field whose source is not loaded is `null`, not a guess.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpView<'a> {
    pub address: &'a str,
    pub city: Option<&'a str>,
    pub country: Option<&'a str>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub timezone: Option<&'a str>,
    pub asn: Option<u32>,
    pub asn_name: Option<&'a str>,
    pub datacenter: Option<bool>,
    pub blocklisted: Option<bool>,
}

impl<'a> IpView<'a> {
    /// `datacenter` is `null` without ASN data or range feeds to judge by.
    fn new(intel: &IpIntel, address: &'a str, info: &'a IpInfo, blocklisted: Option<bool>) -> Self {
        let loc = info.location.as_ref();
        let known_networks = intel.has_asn() || intel.has_ranges();
        IpView {
            address,
            city: loc.and_then(|l| l.city.as_deref()),
            country: loc.and_then(|l| l.country.as_deref()),
            lat: loc.and_then(|l| l.lat),
            lng: loc.and_then(|l| l.lng),
            timezone: loc.and_then(|l| l.timezone.as_deref()),
            asn: info.asn.as_ref().map(|a| a.asn),
            asn_name: info.asn.as_ref().map(|a| a.name.as_str()),
            datacenter: known_networks.then_some(info.datacenter),
            blocklisted,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScreenView {
    pub w: u32,
    pub h: u32,
}

/// The event's `device` object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView<'a> {
    pub platform: &'a str,
    pub browser: String,
    pub gpu: Option<&'a str>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub screen: Option<ScreenView>,
    pub model: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The stored event before the rules' decision: the reference's shape, field for field in
/// the stored order. Borrows from the earlier stages; only what is made here is owned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    /// Owned: a fresh one is taken if another node handed out the same id this second.
    pub request_id: String,
    pub visitor_id: &'a str,
    pub confidence: f64,
    pub visitor_found: bool,
    /// Filled in from the visitor's record when the event is read.
    pub first_seen_at: Option<()>,
    pub timestamp: String,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub linked_id: Option<&'a str>,
    pub tag: Option<&'a serde_json::Value>,
    pub url: Option<String>,
    pub identified_by: &'static str,
    pub device: DeviceView<'a>,
    pub signals: &'a Signals,
    pub scores: &'a Scores,
    pub velocity: &'a Features,
    pub ip: IpView<'a>,
}

impl<'a> Event<'a> {
    pub fn new(
        state: &AppState,
        request_id: String,
        admitted: &'a Admitted,
        observed: &'a Observed,
        matched: &'a Match,
        assessment: &'a Assessment,
        now_ms: i64,
    ) -> Self {
        let payload = &admitted.payload;
        let device = &observed.device;
        Event {
            request_id,
            visitor_id: &matched.visitor_id,
            confidence: matched.confidence,
            visitor_found: matched.found,
            first_seen_at: None,
            timestamp: timefmt::rfc3339(now_ms / 1000),
            event_type: clean(payload.event_type.as_deref()),
            linked_id: assessment.linked_id.as_deref(),
            tag: payload.tag.as_ref(),
            url: clean(payload.url.as_deref()),
            identified_by: matched.method.as_str(),
            device: DeviceView {
                platform: &device.platform,
                browser: device.browser(),
                gpu: device.gpu.as_deref(),
                kind: device.device_type.as_str(),
                screen: device.screen.map(|(w, h)| ScreenView { w, h }),
                model: device.model.as_deref(),
                user_agent: payload.components.user_agent.as_deref(),
            },
            signals: &observed.signals,
            scores: &assessment.scores,
            velocity: &assessment.velocity,
            ip: IpView::new(
                &state.ip_intel,
                &assessment.address,
                &observed.ip,
                assessment.blocklisted,
            ),
        }
    }

    /// The rules' facts of this event, from its typed values: the same facts
    /// `Facts::from_json` reads from the stored text (see the tests).
    pub fn facts(&self) -> Facts {
        let s = self.signals;
        let v = self.velocity;
        let w = |w: Windows| WindowFields {
            m5: w.m5,
            h1: w.h1,
            h24: w.h24,
        };
        Facts::from(EventFields {
            visitor_id: self.visitor_id,
            visitor_found: self.visitor_found,
            confidence: self.confidence,
            event_type: self.event_type.as_deref(),
            linked_id: self.linked_id,
            url: self.url.as_deref(),
            device: DeviceFields {
                platform: self.device.platform,
                browser: &self.device.browser,
                gpu: self.device.gpu,
                device_type: self.device.kind,
                model: self.device.model,
                screen: self.device.screen.as_ref().map(|s| (s.w, s.h)),
            },
            signals: SignalFields {
                bot_detected: s.bot.detected,
                bot_type: s.bot.kind.map(bot_kind_name),
                bot_reasons: str_list(&s.bot.reasons),
                vpn_detected: s.vpn.detected,
                vpn_provider: s.vpn.provider.as_deref(),
                vpn_methods: str_list(&s.vpn.methods),
                proxy: s.proxy,
                tor: s.tor,
                incognito: s.incognito,
                tampered: s.tampered,
                tampered_reasons: str_list(&s.tampered_reasons),
                emulator: s.emulator,
                software_rendering: s.software_rendering,
            },
            scores: ScoreFields {
                suspect: self.scores.suspect,
                bot: self.scores.bot,
                abuse: self.scores.abuse,
                ato: self.scores.ato,
            },
            ip: IpFields {
                address: self.ip.address,
                city: self.ip.city,
                country: self.ip.country,
                timezone: self.ip.timezone,
                asn: self.ip.asn,
                asn_name: self.ip.asn_name,
                lat: self.ip.lat,
                lng: self.ip.lng,
                datacenter: self.ip.datacenter,
                blocklisted: self.ip.blocklisted,
            },
            velocity: VelocityFields {
                distinct_ip: w(v.distinct_ip),
                distinct_country: w(v.distinct_country),
                distinct_linked_id: w(v.distinct_linked_id),
                visitors_per_linked_id: w(v.visitors_per_linked_id),
                visitors_per_ip: w(v.visitors_per_ip),
                new_device_for_account: v.new_device_for_account,
                travel_kmh: v.travel_kmh,
            },
        })
    }
}

/// `signals.bot.type` as the event spells it (the kebab-case serde name; a test pins that the
/// two agree for every kind).
fn bot_kind_name(k: BotKind) -> &'static str {
    match k {
        BotKind::Crawler => "crawler",
        BotKind::Automation => "automation",
        BotKind::Headless => "headless",
        BotKind::NoJs => "no-js",
    }
}

/// The event as stored: its fields, then the rules' decision (`verdict`, `matchedRule`,
/// `monitorMatches`, `tags`), in one object.
#[derive(Serialize)]
pub struct Stored<'a> {
    #[serde(flatten)]
    pub event: &'a Event<'a>,
    #[serde(flatten)]
    pub decision: &'a Outcome,
}

impl Stored<'_> {
    pub fn to_json(&self) -> Result<String, crate::error::ApiError> {
        serde_json::to_string(self).map_err(|e| {
            crate::error::ApiError::Internal(format!("cannot serialise the event: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use prynt_rules::condition::Verdict;
    use prynt_signals::detect::{Bot, Vpn};
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::decide::RuleRef;

    fn windows(m5: u32, h1: u32, h24: u32) -> Windows {
        Windows { m5, h1, h24 }
    }

    struct Parts {
        signals: Signals,
        scores: Scores,
        velocity: Features,
        tag: Value,
    }

    fn parts() -> Parts {
        Parts {
            signals: Signals {
                bot: Bot {
                    detected: true,
                    kind: Some(BotKind::NoJs),
                    reasons: vec!["no_js".into(), "webdriver".into()],
                },
                vpn: Vpn {
                    detected: true,
                    provider: Some("ExampleVPN".into()),
                    methods: vec!["public_range", "timezone_mismatch"],
                },
                proxy: false,
                tor: true,
                incognito: true,
                tampered: true,
                tampered_reasons: vec!["platform_mismatch".into()],
                emulator: false,
                software_rendering: true,
            },
            scores: Scores {
                abuse: 0.731,
                ato: 0.052,
                bot: 0.993,
                suspect: 27,
            },
            velocity: Features {
                distinct_ip: windows(1, 2, 3),
                distinct_country: windows(1, 1, 2),
                distinct_linked_id: windows(0, 1, 1),
                visitors_per_linked_id: windows(1, 1, 4),
                visitors_per_ip: windows(1, 3, 9),
                new_device_for_account: true,
                travel_kmh: Some(1_250.5),
            },
            tag: json!({"campaign": "spring", "n": [1, 2]}),
        }
    }

    fn event(p: &Parts) -> Event<'_> {
        Event {
            request_id: "req_1714000000_0a1b2c".into(),
            visitor_id: "pv_a1B2c3D4e5F6g",
            confidence: 0.9731,
            visitor_found: true,
            first_seen_at: None,
            timestamp: timefmt::rfc3339(1_714_000_000),
            event_type: Some("login".into()),
            linked_id: Some("user@example.com"),
            tag: Some(&p.tag),
            url: Some("https://shop.example/login?a=\"b\"".into()),
            identified_by: "fingerprint",
            device: DeviceView {
                platform: "macOS",
                browser: "Chrome 121".into(),
                gpu: Some("Apple M3 Pro"),
                kind: "desktop",
                screen: Some(ScreenView { w: 1512, h: 982 }),
                model: None,
                user_agent: Some("Mozilla/5.0 (Macintosh)"),
            },
            signals: &p.signals,
            scores: &p.scores,
            velocity: &p.velocity,
            ip: IpView {
                address: "203.0.xxx.xxx",
                city: Some("Berlin"),
                country: Some("DE"),
                lat: Some(52.52),
                lng: Some(13.405),
                timezone: Some("Europe/Berlin"),
                asn: Some(3320),
                asn_name: Some("Deutsche Telekom AG"),
                datacenter: None,
                blocklisted: Some(true),
            },
        }
    }

    fn outcome() -> Outcome {
        let rule = |id: &str, verdict| RuleRef {
            id: id.into(),
            name: format!("Rule {id}"),
            version: 2,
            verdict,
        };
        let mut tags = Map::new();
        tags.insert("risk".into(), Value::String("high".into()));
        tags.insert("queue".into(), Value::String("manual".into()));
        let mut o = Outcome::default();
        o.verdict = Some(Verdict::Block);
        o.matched = Some(rule("rule_1", Verdict::Block));
        o.monitors = vec![
            rule("rule_2", Verdict::Challenge),
            rule("rule_3", Verdict::Allow),
        ];
        o.tags = tags;
        o
    }

    /// How the event's text was made before the pipeline had typed stages: the event
    /// serialised, the decision's members built with `json!` and spliced in before the
    /// closing brace.
    fn spliced(event: &Event<'_>, o: &Outcome) -> String {
        let rule = |r: &RuleRef| json!({"id": r.id, "name": r.name, "version": r.version, "verdict": r.verdict.as_str()});
        let fields = json!({
            "verdict": o.verdict.map(Verdict::as_str),
            "matchedRule": o.matched.as_ref().map(rule),
            "monitorMatches": o.monitors.iter().map(rule).collect::<Vec<_>>(),
            "tags": o.tags,
        })
        .to_string();
        crate::decide::with_fields(
            &serde_json::to_string(event).unwrap(),
            &fields[1..fields.len() - 1],
        )
    }

    #[test]
    fn the_stored_text_is_what_splicing_the_decision_in_made() {
        let p = parts();
        let e = event(&p);
        for o in [outcome(), Outcome::default()] {
            let stored = Stored {
                event: &e,
                decision: &o,
            }
            .to_json()
            .unwrap();
            assert_eq!(stored, spliced(&e, &o));
        }
    }

    #[test]
    fn typed_facts_are_the_facts_read_back_from_the_stored_text() {
        let p = parts();
        let o = outcome();
        let mut e = event(&p);
        let check = |e: &Event<'_>| {
            let text = Stored {
                event: e,
                decision: &o,
            }
            .to_json()
            .unwrap();
            assert_eq!(e.facts(), Facts::from_json(&text).unwrap(), "{text}");
        };
        check(&e);
        // Everything optional absent, as for a fresh visitor on a server without IP data.
        e.visitor_found = false;
        e.event_type = None;
        e.linked_id = None;
        e.url = None;
        e.tag = None;
        e.device.gpu = None;
        e.device.screen = None;
        e.device.user_agent = None;
        e.ip = IpView {
            address: "2001:db8:1:xxxx:xxxx:xxxx:xxxx:xxxx",
            city: None,
            country: None,
            lat: None,
            lng: None,
            timezone: None,
            asn: None,
            asn_name: None,
            datacenter: Some(false),
            blocklisted: None,
        };
        check(&e);
        let q = Parts {
            signals: Signals::default(),
            velocity: Features::default(),
            ..parts()
        };
        let mut e = event(&q);
        e.device.model = Some("iPhone");
        check(&e);
    }

    #[test]
    fn bot_kinds_are_named_as_serde_names_them() {
        for k in [
            BotKind::Crawler,
            BotKind::Automation,
            BotKind::Headless,
            BotKind::NoJs,
        ] {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                Value::String(bot_kind_name(k).into())
            );
        }
    }

    #[test]
    fn addresses_are_masked_to_their_network() {
        assert_eq!(mask("73.162.10.20".parse().unwrap()), "73.162.xxx.xxx");
        assert_eq!(
            mask("2001:db8:1:2::3".parse().unwrap()),
            "2001:db8:1:xxxx:xxxx:xxxx:xxxx:xxxx"
        );
    }

    #[test]
    fn blank_payload_strings_are_absent() {
        assert_eq!(clean(Some("  login ")).as_deref(), Some("login"));
        assert_eq!(clean(Some("   ")), None);
        assert_eq!(clean(None), None);
    }
}
