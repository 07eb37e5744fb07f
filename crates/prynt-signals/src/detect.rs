//! Smart Signals (docs/signals.md): bot, VPN, proxy, Tor, incognito, tampering and emulator verdicts
//! from the agent's raw measurements, the parsed device, the IP intelligence and what the HTTP
//! request itself shows. The agent never decides; everything is cross-checked here, because a
//! patched browser can lie about any one measurement but rarely about all of them consistently.

use std::collections::HashMap;
use std::sync::OnceLock;

use prynt_core::agent::Components;
use serde::Serialize;

use crate::device::{DeviceInfo, DeviceType};
use crate::ip::IpInfo;
use crate::ranges::RangeKind;

/// What the identify request itself shows, beside its payload.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Whether `Sec-Fetch-Site` and `Sec-Fetch-Dest` came: every current browser sends them on
    /// `fetch` and `sendBeacon`; scripted HTTP clients do not (some send `Sec-Fetch-Mode`).
    pub sec_fetch: bool,
    /// The `Sec-CH-UA-Platform` header, which Chromium's network stack sends from what the
    /// browser really is, whatever a page script claims.
    pub client_hint_platform: Option<String>,
}

/// Kinds of bot, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BotKind {
    /// A declared crawler or a crawler's network.
    Crawler,
    /// A browser driven by WebDriver, CDP or a similar automation channel.
    Automation,
    /// A headless browser.
    Headless,
    /// No browser at all: a script posting a payload (captured or made up).
    NoJs,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bot {
    pub detected: bool,
    #[serde(rename = "type")]
    pub kind: Option<BotKind>,
    /// Every check that fired, strongest first.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vpn {
    pub detected: bool,
    pub provider: Option<String>,
    /// `public_range`, `timezone_mismatch`, `relay`.
    pub methods: Vec<&'static str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signals {
    pub bot: Bot,
    pub vpn: Vpn,
    pub proxy: bool,
    pub tor: bool,
    pub incognito: bool,
    pub tampered: bool,
    /// What contradicted what, when `tampered`.
    pub tampered_reasons: Vec<String>,
    pub emulator: bool,
    /// WebGL renders in software (SwiftShader, llvmpipe): common for headless browsers and
    /// virtual machines, but also for real desktops without a GPU driver, so only a hint.
    pub software_rendering: bool,
}

/// Everything the detectors look at.
pub struct Input<'a> {
    pub components: &'a Components,
    pub device: &'a DeviceInfo,
    pub ip: &'a IpInfo,
    pub request: &'a RequestFacts,
}

pub fn detect(input: &Input<'_>) -> Signals {
    let software_rendering = renderer(input.components).is_some_and(is_software_renderer);
    let (tampered_reasons, engine) = tampering(input);
    let mut s = Signals {
        bot: bot(input, software_rendering),
        vpn: vpn(input),
        tor: input.ip.has(RangeKind::Tor),
        incognito: incognito(input.components, engine),
        emulator: emulator(input),
        tampered: !tampered_reasons.is_empty(),
        tampered_reasons,
        software_rendering,
        proxy: false,
    };
    // A browser reaching us from a hosting network is relayed through it, unless the range is a
    // named VPN or relay (reported as such) or a CDN's edge. A VPN inferred from the time zone
    // alone names no range, so it explains nothing about the hosting address.
    let named_vpn = s.vpn.methods.iter().any(|m| *m != "timezone_mismatch");
    s.proxy = input.ip.has(RangeKind::Proxy)
        || (input.ip.datacenter && !named_vpn && !input.ip.has(RangeKind::Cdn));
    s
}

fn renderer(c: &Components) -> Option<&str> {
    let g = c.webgl.as_ref()?;
    g.unmasked_renderer.as_deref().or(g.renderer.as_deref())
}

fn is_software_renderer(r: &str) -> bool {
    let r = r.to_ascii_lowercase();
    [
        "swiftshader",
        "llvmpipe",
        "softpipe",
        "mesa offscreen",
        "microsoft basic render",
    ]
    .iter()
    .any(|m| r.contains(m))
}

fn ua(c: &Components) -> &str {
    c.user_agent.as_deref().unwrap_or("")
}

fn bot(input: &Input<'_>, software_rendering: bool) -> Bot {
    let c = input.components;
    let a = c.automation.as_ref();
    let mut found: Vec<(BotKind, String)> = Vec::new();
    let mut fire = |kind: BotKind, reason: String| found.push((kind, reason));

    if input.device.device_type == DeviceType::Bot {
        fire(
            BotKind::Crawler,
            "the user agent is a declared crawler".into(),
        );
    }
    if let Some(p) = input.ip.provider(RangeKind::Bot) {
        fire(
            BotKind::Crawler,
            format!("the address is in {p}'s crawler range"),
        );
    }
    if let Some(a) = a {
        if a.webdriver == Some(true) {
            fire(BotKind::Automation, "navigator.webdriver is true".into());
        }
        if !a.driver_globals.is_empty() {
            fire(
                BotKind::Automation,
                format!("automation globals: {}", a.driver_globals.join(", ")),
            );
        }
        if !a.document_attributes.is_empty() {
            fire(
                BotKind::Automation,
                format!(
                    "automation attributes: {}",
                    a.document_attributes.join(", ")
                ),
            );
        }
        if a.languages_empty == Some(true) {
            fire(BotKind::Headless, "navigator.languages is empty".into());
        }
        if a.notification_permission.as_deref() == Some("denied")
            && a.permissions_notifications.as_deref() == Some("prompt")
        {
            fire(
                BotKind::Headless,
                "Notification.permission is denied while the permissions API says prompt".into(),
            );
        }
        if a.outer_zero == Some(true) && a.has_focus == Some(true) {
            fire(
                BotKind::Headless,
                "a focused window with no outer size".into(),
            );
        }
    }
    if let Some(b) = &c.behavior {
        for why in crate::behaviour::findings(b, input.device) {
            fire(BotKind::Automation, why);
        }
    }
    let agent = ua(c);
    let app_version = c.app_version.as_deref().unwrap_or("");
    for marker in ["HeadlessChrome", "PhantomJS", "SlimerJS"] {
        if agent.contains(marker) || app_version.contains(marker) {
            fire(BotKind::Headless, format!("the user agent says {marker}"));
        }
    }
    // A payload without any of the measurements only script can take was not made by the agent.
    let measured =
        c.screen.is_some() || c.canvas.is_some() || c.webgl.is_some() || c.fonts.is_some();
    if !measured {
        fire(BotKind::NoJs, "no measurement that needs JavaScript".into());
    }
    let header_ua = input.request.user_agent.as_deref().unwrap_or("");
    if !agent.is_empty() && header_ua != agent {
        fire(
            BotKind::NoJs,
            "the request's User-Agent differs from the one the page measured".into(),
        );
    }
    if !input.request.sec_fetch && sends_sec_fetch(input.device) {
        fire(
            BotKind::NoJs,
            format!(
                "{} sends Sec-Fetch headers, this request has none",
                input.device.browser()
            ),
        );
    }
    // Software rendering alone is not a bot (VMs, desktops without GPU drivers), but beside
    // another headless trait it confirms one.
    if software_rendering && found.iter().any(|(k, _)| *k == BotKind::Headless) {
        found.push((BotKind::Headless, "WebGL renders in software".into()));
    }
    // Declaration order is strength: the strongest kind that fired names the bot.
    found.sort_by_key(|(k, _)| *k as u8);
    let kind = found.first().map(|(k, _)| *k);
    Bot {
        detected: kind.is_some(),
        kind,
        reasons: found.into_iter().map(|(_, r)| r).collect(),
    }
}

/// Browsers that send `Sec-Fetch-*` on every fetch: Chromium 76+, Firefox 90+, Safari 16.4+.
fn sends_sec_fetch(d: &DeviceInfo) -> bool {
    let major = d.browser_major.unwrap_or(0);
    match d.browser_family.as_str() {
        "Chrome" | "Edge" | "Opera" | "Brave" | "Samsung Internet" | "Chromium"
        | "HeadlessChrome" | "Chrome Headless" => major >= 80,
        "Firefox" => major >= 90,
        "Safari" => major >= 17,
        _ => false,
    }
}

fn tz_countries() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static MAP: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    MAP.get_or_init(|| {
        include_str!("../data/tz_countries.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(zone, ccs)| (zone, ccs.split(',').collect()))
            .collect()
    })
}

/// The countries a time zone is used in; `None` for zones of no country (UTC, Etc/…).
pub fn timezone_countries(zone: &str) -> Option<&'static [&'static str]> {
    tz_countries().get(zone).map(Vec::as_slice)
}

fn vpn(input: &Input<'_>) -> Vpn {
    let ip = input.ip;
    let mut v = Vpn::default();
    if let Some(p) = ip.provider(RangeKind::Vpn) {
        v.methods.push("public_range");
        v.provider = Some(p.to_owned());
    }
    if let Some(p) = ip.provider(RangeKind::Relay) {
        v.methods.push("relay");
        v.provider.get_or_insert_with(|| p.to_owned());
    }
    let country = ip.location.as_ref().and_then(|l| l.country.as_deref());
    let zone = input.components.timezone.as_deref();
    if let (Some(country), Some(zone)) = (country, zone) {
        if let Some(countries) = timezone_countries(zone) {
            if !countries.contains(&country) {
                v.methods.push("timezone_mismatch");
            }
        }
    }
    v.detected = !v.methods.is_empty();
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Blink,
    Gecko,
    WebKit,
    Unknown,
}

fn claimed_engine(d: &DeviceInfo) -> Engine {
    match d.browser_family.as_str() {
        // Every iOS browser is WebKit whatever it calls itself.
        _ if matches!(d.platform.as_str(), "iOS" | "iPadOS") => Engine::WebKit,
        f if is_blink_family(f) => Engine::Blink,
        "Firefox" => Engine::Gecko,
        "Safari" => Engine::WebKit,
        _ => Engine::Unknown,
    }
}

/// Browser families built on Blink (outside iOS, where every browser is WebKit).
pub(crate) fn is_blink_family(family: &str) -> bool {
    matches!(
        family,
        "Chrome"
            | "Edge"
            | "Opera"
            | "Brave"
            | "Samsung Internet"
            | "Chromium"
            | "Yandex"
            | "Yandex Browser"
            | "Vivaldi"
            | "HeadlessChrome"
            | "Chrome Headless"
    )
}

/// Contradictions inside the payload, and the engine the measurements point at.
fn tampering(input: &Input<'_>) -> (Vec<String>, Engine) {
    let c = input.components;
    let d = input.device;
    let mut why = Vec::new();
    let engine = claimed_engine(d);
    if let Some(a) = &c.automation {
        if !a.native_tampered.is_empty() {
            why.push(format!(
                "native functions replaced by script: {}",
                a.native_tampered.join(", ")
            ));
        }
        // `eval.toString()` is 33 characters in V8 and 37 in SpiderMonkey and JavaScriptCore.
        if let Some(len) = a.eval_length {
            let expected = match engine {
                Engine::Blink => Some(33),
                Engine::Gecko | Engine::WebKit => Some(37),
                Engine::Unknown => None,
            };
            if expected.is_some_and(|e| e != len) {
                why.push(format!(
                    "the user agent claims {} but the JavaScript engine is not its own",
                    d.browser()
                ));
            }
        }
    }
    if let Some(ps) = c.product_sub.as_deref() {
        let expected = match engine {
            Engine::Blink | Engine::WebKit => Some("20030107"),
            Engine::Gecko => Some("20100101"),
            Engine::Unknown => None,
        };
        if expected.is_some_and(|e| e != ps) {
            why.push(format!(
                "navigator.productSub {ps:?} does not belong to {}",
                d.browser()
            ));
        }
    }
    let ua_os = os_of_ua(ua(c));
    if let (Some(ua_os), Some(platform)) = (ua_os, c.platform.as_deref()) {
        if !platform_fits(ua_os, platform) {
            why.push(format!(
                "the user agent says {ua_os} but navigator.platform is {platform:?}"
            ));
        }
    }
    if let (Some(ua_os), Some(hint)) = (
        ua_os,
        c.ua_data.as_ref().and_then(|h| h.platform.as_deref()),
    ) {
        let hint_os = crate::device::normalise_os(hint);
        let ipad_as_mac = ua_os == "iPadOS" && hint_os == "macOS";
        let comparable = !hint.is_empty() && !ipad_as_mac;
        if comparable && hint_os != ua_os && hint_os != "Other" {
            why.push(format!(
                "the user agent says {ua_os} but the client hints say {hint}"
            ));
        }
    }
    if let Some(r) = renderer(c) {
        let apple_gpu = r.contains("Apple M") || r.contains("Apple GPU");
        let direct3d = r.contains("Direct3D");
        let os = d.platform.as_str();
        if apple_gpu && matches!(os, "Windows" | "Android" | "Linux" | "ChromeOS") {
            why.push(format!("an Apple GPU ({r}) on {os}"));
        }
        if direct3d && matches!(os, "macOS" | "iOS" | "iPadOS" | "Android" | "Linux") {
            why.push(format!("a Direct3D renderer ({r}) on {os}"));
        }
    }
    why.extend(crate::consistency::findings(c, d, input.request));
    (why, engine)
}

/// The operating system a user agent names, spelled as [`DeviceInfo::platform`] spells it.
pub(crate) fn os_of_ua(ua: &str) -> Option<&'static str> {
    if ua.contains("Windows NT") {
        Some("Windows")
    } else if ua.contains("iPhone") {
        Some("iOS")
    } else if ua.contains("iPad") {
        Some("iPadOS")
    } else if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        Some("macOS")
    } else if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    }
}

/// Whether `navigator.platform` is one that a real browser on `ua_os` reports. Android and
/// ChromeOS run on Linux and report "Linux armv8l", "Linux aarch64", "Linux x86_64" and the
/// like; an iPad asking for desktop sites reports "MacIntel"; values no browser on any known
/// OS reports are left to other checks.
fn platform_fits(ua_os: &str, platform: &str) -> bool {
    let linux = platform.starts_with("Linux");
    let mac = platform.starts_with("Mac");
    // A platform string of no known OS (an embedded browser's own) is not a contradiction.
    let known_os = linux || mac || platform.starts_with("Win") || platform.starts_with("iP");
    let fits = match ua_os {
        "Windows" => platform.starts_with("Win"),
        "macOS" => mac,
        "iOS" => matches!(platform, "iPhone" | "iPod" | "iPhone Simulator"),
        "iPadOS" => platform == "iPad" || mac,
        "Android" => linux || platform.is_empty() || platform == "Android",
        "ChromeOS" | "Linux" => linux || platform.contains("BSD") || platform.is_empty(),
        _ => true,
    };
    fits || !known_os
}

fn incognito(c: &Components, engine: Engine) -> bool {
    let Some(s) = &c.storage else {
        return false;
    };
    match engine {
        // Current Chromium accounts a Cache Storage entry on disk in whole 256-byte blocks and
        // in a private profile's in-memory store in exact bytes. Chromium before the quota was
        // equalised gave a private profile a quota below twice the JS heap limit.
        Engine::Blink => {
            // The 1-byte entry costs 160 - 180 bytes in memory and at least one 256-byte block
            // on disk, and another write landing in the measurement only adds: an amount under
            // one block is a private profile, a larger one (even a polluted one) is not.
            let in_memory_cache = s.cache_delta.is_some_and(|d| d > 0.0 && d < 256.0);
            let small_quota = match (s.quota, s.heap_limit) {
                (Some(q), Some(h)) if q > 0.0 && h > 0.0 => q < 2.0 * h,
                _ => false,
            };
            in_memory_cache || small_quota
        }
        // Firefox and Safari private windows refuse the origin-private file system.
        Engine::Gecko => s.get_directory.as_deref() == Some("error"),
        Engine::WebKit => {
            s.get_directory.as_deref() == Some("error") || s.idb_blob.as_deref() == Some("error")
        }
        Engine::Unknown => false,
    }
}

fn emulator(input: &Input<'_>) -> bool {
    let c = input.components;
    let d = input.device;
    let r = renderer(c).unwrap_or("").to_ascii_lowercase();
    let model = d.model.as_deref().unwrap_or("").to_ascii_lowercase();
    let emulator_model = [
        "sdk_gphone",
        "android sdk built for",
        "emulator",
        "genymotion",
    ]
    .iter()
    .any(|m| model.contains(m));
    let vm_gpu = [
        "vmware",
        "virtualbox",
        "parallels",
        "qxl",
        "virgl",
        "google (intel",
        "android emulator",
    ]
    .iter()
    .any(|m| r.contains(m));
    let mobile = matches!(d.platform.as_str(), "Android" | "iOS" | "iPadOS");
    // A phone with a desktop's software renderer is an emulator image.
    let phone_in_software = mobile && is_software_renderer(&r);
    // Mobile user agents from a device with no touch screen: desktop emulation or an emulator.
    let no_touch = mobile && c.max_touch_points == Some(0);
    emulator_model || vm_gpu || phone_in_software || no_touch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceParser;
    use crate::geo::Location;
    use crate::ranges::Operator;
    use prynt_core::agent::{Automation, Storage, WebGl};

    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";
    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";

    /// A consistent Chrome on a Mac, as the agent reports it.
    fn mac_chrome() -> Components {
        Components {
            user_agent: Some(CHROME_MAC.into()),
            platform: Some("MacIntel".into()),
            product_sub: Some("20030107".into()),
            timezone: Some("Europe/Berlin".into()),
            languages: Some(vec!["de-DE".into()]),
            screen: Some(prynt_core::agent::Screen {
                w: Some(1512),
                h: Some(982),
                ..Default::default()
            }),
            max_touch_points: Some(0),
            fonts: Some(vec![
                "Helvetica Neue".into(),
                "Menlo".into(),
                "Apple Color Emoji".into(),
            ]),
            webgl: Some(WebGl {
                unmasked_renderer: Some(
                    "ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)".into(),
                ),
                ..Default::default()
            }),
            storage: Some(Storage {
                quota: Some(300e9),
                heap_limit: Some(4.29e9),
                ..Default::default()
            }),
            automation: Some(Automation {
                webdriver: Some(false),
                eval_length: Some(33),
                notification_permission: Some("default".into()),
                permissions_notifications: Some("prompt".into()),
                languages_empty: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn browser_request(ua: &str) -> RequestFacts {
        RequestFacts {
            user_agent: Some(ua.into()),
            sec_fetch: true,
            client_hint_platform: None,
        }
    }

    fn german_home_ip() -> IpInfo {
        IpInfo {
            location: Some(Location {
                country: Some("DE".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn run(c: &Components, ip: &IpInfo, req: &RequestFacts) -> Signals {
        let device = DeviceParser::shared().expect("parser").describe(c);
        detect(&Input {
            components: c,
            device: &device,
            ip,
            request: req,
        })
    }

    #[test]
    fn a_consistent_browser_at_home_raises_nothing() {
        let s = run(
            &mac_chrome(),
            &german_home_ip(),
            &browser_request(CHROME_MAC),
        );
        assert_eq!(s, Signals::default(), "{s:#?}");
    }

    #[test]
    fn automation_headless_and_scripted_clients_are_bots_of_their_kind() {
        let mut c = mac_chrome();
        c.automation.as_mut().unwrap().webdriver = Some(true);
        let s = run(&c, &german_home_ip(), &browser_request(CHROME_MAC));
        assert!(s.bot.detected);
        assert_eq!(s.bot.kind, Some(BotKind::Automation));

        let headless_ua = CHROME_MAC.replace("Chrome/", "HeadlessChrome/");
        let mut c = mac_chrome();
        c.user_agent = Some(headless_ua.clone());
        let s = run(&c, &german_home_ip(), &browser_request(&headless_ua));
        assert_eq!(s.bot.kind, Some(BotKind::Headless), "{s:#?}");

        // A captured payload replayed by a script: its own User-Agent and no Sec-Fetch headers.
        let s = run(
            &mac_chrome(),
            &german_home_ip(),
            &RequestFacts {
                user_agent: Some("python-requests/2.32".into()),
                sec_fetch: false,
                client_hint_platform: None,
            },
        );
        assert_eq!(s.bot.kind, Some(BotKind::NoJs));
        assert_eq!(s.bot.reasons.len(), 2, "{:?}", s.bot.reasons);
        // Even with the User-Agent copied, the missing Sec-Fetch headers give it away.
        let s = run(
            &mac_chrome(),
            &german_home_ip(),
            &RequestFacts {
                user_agent: Some(CHROME_MAC.into()),
                sec_fetch: false,
                client_hint_platform: None,
            },
        );
        assert!(s.bot.detected);
        // And a made-up payload without browser measurements.
        let bare = Components {
            user_agent: Some(CHROME_MAC.into()),
            ..Default::default()
        };
        let s = run(&bare, &german_home_ip(), &browser_request(CHROME_MAC));
        assert_eq!(s.bot.kind, Some(BotKind::NoJs));

        let crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        let mut c = mac_chrome();
        c.user_agent = Some(crawler.into());
        let s = run(&c, &german_home_ip(), &browser_request(crawler));
        assert_eq!(s.bot.kind, Some(BotKind::Crawler));
    }

    #[test]
    fn software_rendering_alone_is_not_a_bot() {
        let mut c = mac_chrome();
        c.user_agent = Some(CHROME_WIN.replace("Windows NT 10.0; Win64; x64", "X11; Linux x86_64"));
        c.platform = Some("Linux x86_64".into());
        c.fonts = None;
        c.webgl.as_mut().unwrap().unmasked_renderer = Some(
            "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)"
                .into(),
        );
        let ua = c.user_agent.clone().unwrap();
        let s = run(&c, &german_home_ip(), &browser_request(&ua));
        assert!(s.software_rendering);
        assert!(!s.bot.detected, "{s:#?}");
        assert!(!s.emulator);
    }

    #[test]
    fn a_payload_that_lies_about_itself_is_tampered_with_the_contradictions_named() {
        // A Windows user agent with macOS fonts and an Apple GPU.
        let mut c = mac_chrome();
        c.user_agent = Some(CHROME_WIN.into());
        let s = run(&c, &german_home_ip(), &browser_request(CHROME_WIN));
        assert!(s.tampered);
        let all = s.tampered_reasons.join(" | ");
        assert!(all.contains("navigator.platform"), "{all}");
        assert!(all.contains("Apple GPU"), "{all}");
        assert!(all.contains("fonts belong to another system"), "{all}");

        let mut c = mac_chrome();
        c.automation.as_mut().unwrap().eval_length = Some(37);
        c.automation.as_mut().unwrap().native_tampered = vec!["navigator.webdriver".into()];
        let s = run(&c, &german_home_ip(), &browser_request(CHROME_MAC));
        assert_eq!(s.tampered_reasons.len(), 2, "{:?}", s.tampered_reasons);
    }

    #[test]
    fn vpn_by_range_relay_and_timezone() {
        let mut ip = german_home_ip();
        ip.operators = vec![Operator {
            provider: "NordVPN".into(),
            kind: RangeKind::Vpn,
        }];
        let s = run(&mac_chrome(), &ip, &browser_request(CHROME_MAC));
        assert_eq!(s.vpn.provider.as_deref(), Some("NordVPN"));
        assert_eq!(s.vpn.methods, vec!["public_range"]);
        assert!(!s.proxy, "a named VPN is reported as a VPN, not a proxy");

        let mut us = german_home_ip();
        us.location.as_mut().unwrap().country = Some("US".into());
        let s = run(&mac_chrome(), &us, &browser_request(CHROME_MAC));
        assert!(s.vpn.detected);
        assert_eq!(s.vpn.methods, vec!["timezone_mismatch"]);
        // Zones used in several countries, and legacy names, are understood.
        let mut c = mac_chrome();
        c.timezone = Some("Europe/Zurich".into());
        assert!(
            !run(&c, &german_home_ip(), &browser_request(CHROME_MAC))
                .vpn
                .detected
        );
        c.timezone = Some("Asia/Calcutta".into());
        assert!(
            run(&c, &german_home_ip(), &browser_request(CHROME_MAC))
                .vpn
                .detected
        );
        c.timezone = Some("UTC".into());
        assert!(
            !run(&c, &german_home_ip(), &browser_request(CHROME_MAC))
                .vpn
                .detected,
            "UTC says nothing"
        );

        let mut relay = german_home_ip();
        relay.operators = vec![Operator {
            provider: "iCloud Private Relay".into(),
            kind: RangeKind::Relay,
        }];
        let s = run(&mac_chrome(), &relay, &browser_request(CHROME_MAC));
        assert_eq!(s.vpn.methods, vec!["relay"]);
    }

    #[test]
    fn datacenter_and_tor_addresses() {
        let mut ip = german_home_ip();
        ip.datacenter = true;
        let s = run(&mac_chrome(), &ip, &browser_request(CHROME_MAC));
        assert!(s.proxy);
        ip.operators = vec![Operator {
            provider: "Tor".into(),
            kind: RangeKind::Tor,
        }];
        assert!(run(&mac_chrome(), &ip, &browser_request(CHROME_MAC)).tor);
    }

    #[test]
    fn incognito_per_engine() {
        let mut c = mac_chrome();
        c.storage.as_mut().unwrap().quota = Some(1.2e9);
        assert!(run(&c, &german_home_ip(), &browser_request(CHROME_MAC)).incognito);
        // Current Chromium: the same quota everywhere, but exact-byte cache accounting.
        let mut c = mac_chrome();
        c.storage.as_mut().unwrap().quota = Some(10_737_418_240.0);
        c.storage.as_mut().unwrap().cache_delta = Some(512.0);
        assert!(!run(&c, &german_home_ip(), &browser_request(CHROME_MAC)).incognito);
        c.storage.as_mut().unwrap().cache_delta = Some(159.0);
        assert!(run(&c, &german_home_ip(), &browser_request(CHROME_MAC)).incognito);
        // A normal profile's measurement with another write of the page inside it.
        c.storage.as_mut().unwrap().cache_delta = Some(1264.0);
        assert!(!run(&c, &german_home_ip(), &browser_request(CHROME_MAC)).incognito);

        let ff =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0";
        let mut c = mac_chrome();
        c.user_agent = Some(ff.into());
        c.product_sub = Some("20100101".into());
        c.automation.as_mut().unwrap().eval_length = Some(37);
        c.storage.as_mut().unwrap().get_directory = Some("ok".into());
        let s = run(&c, &german_home_ip(), &browser_request(ff));
        assert!(!s.incognito && !s.tampered, "{s:#?}");
        c.storage.as_mut().unwrap().get_directory = Some("error".into());
        assert!(run(&c, &german_home_ip(), &browser_request(ff)).incognito);
        // A probe that did not answer in time says nothing.
        c.storage.as_mut().unwrap().get_directory = Some("timeout".into());
        assert!(!run(&c, &german_home_ip(), &browser_request(ff)).incognito);
    }

    #[test]
    fn emulators_and_virtual_machines() {
        let ua = "Mozilla/5.0 (Linux; Android 14; sdk_gphone64_x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36";
        let mut c = mac_chrome();
        c.user_agent = Some(ua.into());
        c.platform = Some("Linux x86_64".into());
        c.fonts = None;
        c.max_touch_points = Some(5);
        c.webgl.as_mut().unwrap().unmasked_renderer =
            Some("Android Emulator OpenGL ES Translator (Google SwiftShader)".into());
        let s = run(&c, &german_home_ip(), &browser_request(ua));
        assert!(s.emulator, "{s:#?}");
        // A real phone is not.
        let real = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36";
        c.user_agent = Some(real.into());
        c.webgl.as_mut().unwrap().unmasked_renderer = Some("Mali-G715".into());
        assert!(!run(&c, &german_home_ip(), &browser_request(real)).emulator);
    }

    #[test]
    fn android_and_chromeos_browsers_on_linux_platforms_are_consistent() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36",
                "Linux armv8l",
                "Android",
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
                "Linux aarch64",
                "",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
                "Linux x86_64",
                "Chrome OS",
            ),
        ];
        for (ua, platform, hint) in cases {
            let mut c = mac_chrome();
            c.user_agent = Some(ua.into());
            c.platform = Some(platform.into());
            c.fonts = None;
            c.max_touch_points = Some(5);
            c.webgl.as_mut().unwrap().unmasked_renderer = Some("Mali-G715".into());
            if ua.contains("Firefox") {
                c.product_sub = Some("20100101".into());
                c.automation.as_mut().unwrap().eval_length = Some(37);
            }
            if !hint.is_empty() {
                c.ua_data = Some(prynt_core::agent::UaData {
                    platform: Some(hint.into()),
                    ..Default::default()
                });
            }
            let s = run(&c, &german_home_ip(), &browser_request(ua));
            assert!(!s.tampered, "{ua}: {:?}", s.tampered_reasons);
            assert!(!s.bot.detected && !s.emulator, "{ua}: {s:#?}");
        }
    }

    #[test]
    fn a_timezone_mismatch_does_not_hide_a_hosting_address() {
        let mut ip = german_home_ip();
        ip.datacenter = true;
        ip.location.as_mut().unwrap().country = Some("US".into());
        let s = run(&mac_chrome(), &ip, &browser_request(CHROME_MAC));
        assert_eq!(s.vpn.methods, vec!["timezone_mismatch"]);
        assert!(s.proxy, "{s:#?}");
    }

    /// A Windows fingerprint injected into a browser on a Linux host, as anti-detect tools do.
    fn injected_windows() -> Components {
        let mut c = mac_chrome();
        c.user_agent = Some(CHROME_WIN.into());
        c.platform = Some("Win32".into());
        c.fonts = Some(vec!["DejaVu Sans".into(), "Liberation Serif".into()]);
        c.webgl.as_mut().unwrap().unmasked_renderer =
            Some("ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)".into());
        c.hardware_concurrency = Some(8);
        c
    }

    #[test]
    fn what_other_realms_fonts_and_headers_see_exposes_an_injected_fingerprint() {
        let c = injected_windows();
        let clean = run(&c, &german_home_ip(), &browser_request(CHROME_WIN));
        // Fonts alone already contradict the claimed OS.
        assert_eq!(
            clean.tampered_reasons.len(),
            1,
            "{:?}",
            clean.tampered_reasons
        );
        assert!(clean.tampered_reasons[0].contains("fonts belong to another system"));

        let mut c = injected_windows();
        c.integrity = Some(prynt_core::agent::Integrity {
            lies: vec!["Navigator.platform".into()],
            navigator_own: vec!["webdriver".into()],
            webdriver_missing: Some(true),
            worker: Some(prynt_core::agent::RealmView {
                user_agent: Some(CHROME_WIN.into()),
                platform: Some("Linux x86_64".into()),
                hardware_concurrency: Some(2),
                gpu: Some("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)".into()),
                ..Default::default()
            }),
            iframe: Some(prynt_core::agent::RealmView {
                platform: Some("Linux x86_64".into()),
                webdriver: Some(true),
                ..Default::default()
            }),
        });
        c.ua_data = Some(prynt_core::agent::UaData {
            brands: vec![prynt_core::agent::Brand {
                brand: "Chromium".into(),
                version: "156".into(),
            }],
            ..Default::default()
        });
        let mut req = browser_request(CHROME_WIN);
        req.client_hint_platform = Some("\"Linux\"".into());
        let s = run(&c, &german_home_ip(), &req);
        let all = s.tampered_reasons.join(" | ");
        for expected in [
            "built-in functions were replaced by script",
            "navigator has properties of its own",
            "navigator.webdriver was deleted",
            "navigator.platform is \"Win32\" in the page but \"Linux x86_64\" in a Web Worker",
            "navigator.hardwareConcurrency is \"8\" in the page but \"2\" in a Web Worker",
            "WebGL in a Web Worker renders with",
            "in a fresh iframe",
            "navigator.webdriver is false in the page but true in a fresh iframe",
            "fonts belong to another system (DejaVu Sans, Liberation Serif)",
            "Sec-CH-UA-Platform header says \"Linux\"",
            "the user agent says Chromium 121 but the client hints say Chromium 156",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in {all}");
        }
        assert!(!s.bot.detected, "lies alone are tampering, not automation");
    }

    #[test]
    fn realms_that_agree_raise_nothing() {
        let mut c = mac_chrome();
        c.ua_data = Some(prynt_core::agent::UaData {
            brands: vec![
                prynt_core::agent::Brand {
                    brand: "Not A(Brand".into(),
                    version: "8".into(),
                },
                prynt_core::agent::Brand {
                    brand: "Chromium".into(),
                    version: "121".into(),
                },
            ],
            platform: Some("macOS".into()),
            ..Default::default()
        });
        c.integrity = Some(prynt_core::agent::Integrity {
            worker: Some(prynt_core::agent::RealmView {
                user_agent: Some(CHROME_MAC.into()),
                platform: Some("MacIntel".into()),
                languages: Some("de-DE".into()),
                timezone: Some("Europe/Berlin".into()),
                gpu: c.webgl.as_ref().unwrap().unmasked_renderer.clone(),
                ..Default::default()
            }),
            iframe: Some(prynt_core::agent::RealmView {
                user_agent: Some(CHROME_MAC.into()),
                platform: Some("MacIntel".into()),
                webdriver: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut req = browser_request(CHROME_MAC);
        req.client_hint_platform = Some("\"macOS\"".into());
        let s = run(&c, &german_home_ip(), &req);
        assert_eq!(s, Signals::default(), "{s:#?}");
    }

    #[test]
    fn devtools_driven_input_makes_an_automation_bot() {
        let mut c = mac_chrome();
        c.behavior = Some(prynt_core::agent::Behavior {
            pointer_clicks: Some(1),
            centred_jumps: Some(1),
            ..Default::default()
        });
        let s = run(&c, &german_home_ip(), &browser_request(CHROME_MAC));
        assert_eq!(s.bot.kind, Some(BotKind::Automation), "{s:#?}");
        assert!(s.bot.reasons[0].contains("exact centre"));
    }

    #[test]
    fn a_windows_pc_with_apple_fonts_installed_is_consistent() {
        // Designers install Helvetica Neue and Menlo; Windows' own fonts stay.
        let mut c = mac_chrome();
        c.user_agent = Some(CHROME_WIN.into());
        c.platform = Some("Win32".into());
        c.webgl.as_mut().unwrap().unmasked_renderer =
            Some("ANGLE (NVIDIA, NVIDIA GeForce GTX 980 Direct3D11 vs_5_0 ps_5_0, D3D11)".into());
        c.fonts = Some(
            [
                "Calibri",
                "Segoe UI",
                "Helvetica Neue",
                "Menlo",
                "Gill Sans",
            ]
            .map(String::from)
            .to_vec(),
        );
        let s = run(&c, &german_home_ip(), &browser_request(CHROME_WIN));
        assert!(!s.tampered, "{:?}", s.tampered_reasons);
    }
}
