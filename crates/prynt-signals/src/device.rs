//! Device data from the user agent (uap-core regexes through the `ua-parser` crate), corrected
//! by UA client hints and touch points: platform, browser family and major version, device type,
//! GPU and screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use prynt_core::agent::Components;
use serde::Serialize;

static REGEXES: &str = include_str!("../data/uap-core/regexes.yaml");

/// User agents per cache generation (two are kept). Parsing one costs tens of microseconds,
/// a hit nanoseconds.
const CACHE_SIZE: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
    Bot,
}

impl DeviceType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Bot => "bot",
        }
    }
}

/// What the user agent string alone says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UaFacts {
    pub browser_family: String,
    pub browser_major: Option<u32>,
    pub os_family: String,
    pub device_family: String,
    pub device_model: Option<String>,
}

/// The device as the event shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// Operating system: macOS, Windows, iOS, iPadOS, Android, Linux, ChromeOS, or Other.
    pub platform: String,
    /// Browser family, normalised (Chrome, Safari, Firefox, Edge, Opera, Brave, Samsung Internet, …).
    pub browser_family: String,
    pub browser_major: Option<u32>,
    pub device_type: DeviceType,
    pub gpu: Option<String>,
    pub screen: Option<(u32, u32)>,
    /// The phone or tablet model when the user agent names one.
    pub model: Option<String>,
}

impl DeviceInfo {
    /// "Chrome 121", or the family alone when the version is unknown.
    pub fn browser(&self) -> String {
        match self.browser_major {
            Some(v) => format!("{} {v}", self.browser_family),
            None => self.browser_family.clone(),
        }
    }
}

pub struct DeviceParser {
    extractor: ua_parser::Extractor<'static>,
    cache: Mutex<UaCache>,
}

/// Recently parsed user agents in two generations: lookups promote entries from the old
/// generation to the new one, and a full new generation replaces the old one. Used entries
/// survive, and no moment ever empties the whole cache: clearing it all at once sent every
/// following request to the regexes together and stalled the server under load.
#[derive(Default)]
struct UaCache {
    young: HashMap<String, Arc<UaFacts>>,
    old: HashMap<String, Arc<UaFacts>>,
}

impl UaCache {
    fn get(&mut self, ua: &str) -> Option<Arc<UaFacts>> {
        if let Some(hit) = self.young.get(ua) {
            return Some(Arc::clone(hit));
        }
        let (key, hit) = self.old.remove_entry(ua)?;
        self.insert(key, Arc::clone(&hit));
        Some(hit)
    }

    fn insert(&mut self, ua: String, facts: Arc<UaFacts>) {
        if self.young.len() >= CACHE_SIZE {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(ua, facts);
    }
}

static SHARED: OnceLock<Result<DeviceParser, String>> = OnceLock::new();

impl DeviceParser {
    /// Compiles the vendored regexes; done once per process (about a second).
    pub fn new() -> Result<Self, String> {
        let regexes: ua_parser::Regexes<'static> =
            serde_yaml::from_str(REGEXES).map_err(|e| format!("regexes.yaml: {e}"))?;
        let extractor =
            ua_parser::Extractor::try_from(regexes).map_err(|e| format!("regexes: {e}"))?;
        Ok(DeviceParser {
            extractor,
            cache: Mutex::new(UaCache::default()),
        })
    }

    /// The process-wide parser.
    pub fn shared() -> Result<&'static DeviceParser, String> {
        SHARED
            .get_or_init(DeviceParser::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses a user agent, remembering recent answers.
    pub fn ua(&self, ua: &str) -> Arc<UaFacts> {
        if let Some(hit) = self.cache.lock().ok().and_then(|mut c| c.get(ua)) {
            return hit;
        }
        let (b, o, d) = self.extractor.extract(ua);
        let facts = Arc::new(UaFacts {
            browser_family: b
                .as_ref()
                .map(|b| b.family.to_string())
                .unwrap_or_else(|| "Other".into()),
            browser_major: b
                .as_ref()
                .and_then(|b| b.major)
                .and_then(|m| m.parse().ok()),
            os_family: o
                .as_ref()
                .map(|o| o.os.to_string())
                .unwrap_or_else(|| "Other".into()),
            device_family: d
                .as_ref()
                .map(|d| d.device.to_string())
                .unwrap_or_else(|| "Other".into()),
            device_model: d
                .as_ref()
                .and_then(|d| d.model.as_ref().map(|m| m.to_string())),
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(ua.to_owned(), Arc::clone(&facts));
        }
        facts
    }

    /// The device as seen through the UA, client hints, touch points, WebGL and screen.
    pub fn describe(&self, c: &Components) -> DeviceInfo {
        let facts = self.ua(c.user_agent.as_deref().unwrap_or(""));
        let touch = c.max_touch_points.unwrap_or(0);
        let hints = c.ua_data.as_ref();

        let mut platform = normalise_os(&facts.os_family).to_owned();
        if let Some(p) = hints
            .and_then(|h| h.platform.as_deref())
            .filter(|p| !p.is_empty())
        {
            platform = normalise_os(p).to_owned();
        }
        // iPadOS Safari presents itself as a Mac; a Mac has no touch screen.
        let ipad_as_mac = platform == "macOS" && touch > 1;
        if ipad_as_mac || facts.device_family == "iPad" {
            platform = "iPadOS".into();
        }

        let (mut family, mut major) = (
            normalise_browser(&facts.browser_family).to_owned(),
            facts.browser_major,
        );
        if let Some(h) = hints {
            let list = if h.full_version_list.is_empty() {
                &h.brands
            } else {
                &h.full_version_list
            };
            if let Some(brand) = pick_brand(list) {
                family = brand.0;
                if let Some(v) = brand.1 {
                    major = Some(v);
                }
            }
        }

        let mobile_hint = hints.and_then(|h| h.mobile);
        let device_type = if facts.device_family == "Spider" {
            DeviceType::Bot
        } else if platform == "iPadOS"
            || matches!(
                facts.device_family.as_str(),
                "Generic_Android_Tablet" | "Kindle"
            )
            || (platform == "Android" && mobile_hint == Some(false))
        {
            DeviceType::Tablet
        } else if mobile_hint == Some(true)
            || matches!(platform.as_str(), "iOS" | "Android")
            || facts.device_family == "iPhone"
            || facts.device_family == "Generic Smartphone"
        {
            if platform == "Android"
                && !c.user_agent.as_deref().unwrap_or("").contains("Mobile")
                && mobile_hint.is_none()
            {
                DeviceType::Tablet
            } else {
                DeviceType::Mobile
            }
        } else {
            DeviceType::Desktop
        };

        let gpu = c
            .webgl
            .as_ref()
            .and_then(|g| g.unmasked_renderer.as_deref().or(g.renderer.as_deref()))
            .and_then(crate::gpu::normalise);
        let screen = c.screen.and_then(|s| Some((s.w?, s.h?)));
        let model = hints
            .and_then(|h| h.model.clone())
            .filter(|m| !m.is_empty())
            .or_else(|| {
                facts
                    .device_model
                    .clone()
                    .filter(|m| !m.is_empty() && m != "Mac")
            });
        DeviceInfo {
            platform,
            browser_family: family,
            browser_major: major,
            device_type,
            gpu,
            screen,
            model,
        }
    }
}

pub fn normalise_os(os: &str) -> &'static str {
    match os {
        "Mac OS X" | "macOS" | "Mac OS" => "macOS",
        "Windows" => "Windows",
        "iOS" => "iOS",
        "Android" => "Android",
        "Chrome OS" | "ChromeOS" | "Chromium OS" => "ChromeOS",
        "Linux" | "Ubuntu" | "Fedora" | "Debian" | "Arch Linux" | "Mint" | "Gentoo" | "Red Hat"
        | "SUSE" | "openSUSE" => "Linux",
        _ => "Other",
    }
}

fn normalise_browser(family: &str) -> &str {
    match family {
        "Chrome Mobile" | "Chrome Mobile iOS" | "Chrome Mobile WebView" => "Chrome",
        "Mobile Safari" | "Mobile Safari UI/WKWebView" | "Safari" => "Safari",
        "Firefox Mobile" | "Firefox iOS" => "Firefox",
        "Edge Mobile" => "Edge",
        "Opera Mobile" => "Opera",
        other => other,
    }
}

/// The meaningful brand of UA client hints (not the GREASE entry, not the bare engine).
fn pick_brand(list: &[prynt_core::agent::Brand]) -> Option<(String, Option<u32>)> {
    const NAMES: [(&str, &str); 7] = [
        ("Brave", "Brave"),
        ("Microsoft Edge", "Edge"),
        ("Opera", "Opera"),
        ("Samsung Internet", "Samsung Internet"),
        ("YaBrowser", "Yandex Browser"),
        ("Google Chrome", "Chrome"),
        ("HeadlessChrome", "HeadlessChrome"),
    ];
    for (brand, name) in NAMES {
        if let Some(b) = list.iter().find(|b| b.brand == brand) {
            let major = b.version.split('.').next().and_then(|v| v.parse().ok());
            return Some((name.to_owned(), major));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_core::agent::{Brand, Components, UaData, WebGl};

    #[test]
    fn the_ua_cache_keeps_used_entries_across_generations() {
        let facts = |n: &str| {
            Arc::new(UaFacts {
                browser_family: n.into(),
                browser_major: None,
                os_family: String::new(),
                device_family: String::new(),
                device_model: None,
            })
        };
        let mut c = UaCache::default();
        c.insert("kept".into(), facts("kept"));
        for i in 0..CACHE_SIZE - 1 {
            c.insert(format!("ua{i}"), facts("x"));
        }
        // The young generation is full: the next insert ages it, nothing is lost yet.
        c.insert("next".into(), facts("next"));
        assert!(c.get("ua0").is_some(), "the old generation still answers");
        assert_eq!(
            c.get("kept").map(|f| f.browser_family.clone()).as_deref(),
            Some("kept")
        );
        // Another full generation later, only what was used meanwhile survives.
        for i in 0..CACHE_SIZE {
            c.insert(format!("later{i}"), facts("y"));
        }
        assert!(c.get("kept").is_some(), "promoted on use");
        assert!(c.get("ua1").is_none(), "unused entries age out");
    }

    fn comps(ua: &str) -> Components {
        Components {
            user_agent: Some(ua.into()),
            ..Default::default()
        }
    }

    #[test]
    fn common_user_agents_are_described() {
        let p = DeviceParser::shared().unwrap();
        let mac = p.describe(&comps("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36"));
        assert_eq!(
            (
                mac.platform.as_str(),
                mac.browser().as_str(),
                mac.device_type
            ),
            ("macOS", "Chrome 121", DeviceType::Desktop)
        );
        let iphone = p.describe(&comps("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"));
        assert_eq!(
            (
                iphone.platform.as_str(),
                iphone.browser().as_str(),
                iphone.device_type
            ),
            ("iOS", "Safari 17", DeviceType::Mobile)
        );
        let win = p.describe(&comps(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:122.0) Gecko/20100101 Firefox/122.0",
        ));
        assert_eq!(
            (
                win.platform.as_str(),
                win.browser().as_str(),
                win.device_type
            ),
            ("Windows", "Firefox 122", DeviceType::Desktop)
        );
        let tab = p.describe(&comps("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"));
        assert_eq!(
            (tab.platform.as_str(), tab.device_type),
            ("Android", DeviceType::Tablet)
        );
        let phone = p.describe(&comps("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"));
        assert_eq!(
            (
                phone.platform.as_str(),
                phone.browser().as_str(),
                phone.device_type
            ),
            ("Android", "Chrome 120", DeviceType::Mobile)
        );
        let bot = p.describe(&comps(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ));
        assert_eq!(bot.device_type, DeviceType::Bot);
    }

    #[test]
    fn client_hints_and_touch_correct_the_user_agent() {
        let p = DeviceParser::shared().unwrap();
        let mut ipad = comps("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15");
        ipad.max_touch_points = Some(5);
        let d = p.describe(&ipad);
        assert_eq!(
            (d.platform.as_str(), d.device_type),
            ("iPadOS", DeviceType::Tablet)
        );

        let mut brave = comps("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36");
        brave.ua_data = Some(UaData {
            brands: vec![
                Brand {
                    brand: "Not A(Brand".into(),
                    version: "99".into(),
                },
                Brand {
                    brand: "Brave".into(),
                    version: "121".into(),
                },
                Brand {
                    brand: "Chromium".into(),
                    version: "121".into(),
                },
            ],
            mobile: Some(false),
            platform: Some("Windows".into()),
            ..Default::default()
        });
        brave.webgl = Some(WebGl {
            unmasked_renderer: Some("ANGLE (NVIDIA, NVIDIA GeForce RTX 4070 (0x00002786) Direct3D11 vs_5_0 ps_5_0, D3D11)".into()),
            ..Default::default()
        });
        let d = p.describe(&brave);
        assert_eq!(d.browser(), "Brave 121");
        assert_eq!(d.gpu.as_deref(), Some("NVIDIA GeForce RTX 4070"));
    }
}
