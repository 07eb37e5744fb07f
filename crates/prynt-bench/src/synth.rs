//! A synthetic browser population for benchmarks: devices drawn from realistic archetypes
//! (Windows/macOS/Linux desktops, iPhones, Android phones) with popularity-weighted GPUs,
//! screens, languages and time zones. Devices of the same model share their whole rendering
//! stack, so the population contains the large crowds of near-identical devices that real
//! traffic has. Deterministic for a seed.

use prynt_core::agent::{Audio, Canvas, Components, Screen, Storage, WebGl, WindowSize};

/// SplitMix64: tiny, fast, and stable across platforms and versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Picks by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|i| i.1).sum();
        let mut x = self.f64() * total;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archetype {
    WindowsChrome,
    WindowsEdge,
    WindowsFirefox,
    MacChrome,
    MacSafari,
    IPhoneSafari,
    AndroidChrome,
    LinuxFirefox,
}

const ARCHETYPES: [(Archetype, f64); 8] = [
    (Archetype::WindowsChrome, 0.38),
    (Archetype::WindowsEdge, 0.08),
    (Archetype::WindowsFirefox, 0.05),
    (Archetype::MacChrome, 0.10),
    (Archetype::MacSafari, 0.07),
    (Archetype::IPhoneSafari, 0.17),
    (Archetype::AndroidChrome, 0.12),
    (Archetype::LinuxFirefox, 0.03),
];

/// (language, home time zone, its offset in minutes), weighted by share of traffic.
const LOCALES: [((&str, &str, i32), f64); 28] = [
    (("en-US", "America/New_York", 300), 0.17),
    (("en-US", "America/Chicago", 360), 0.07),
    (("en-US", "America/Denver", 420), 0.02),
    (("en-US", "America/Los_Angeles", 480), 0.08),
    (("en-US", "America/Phoenix", 420), 0.01),
    (("en-CA", "America/Toronto", 300), 0.02),
    (("en-GB", "Europe/London", 0), 0.07),
    (("en-AU", "Australia/Sydney", -600), 0.02),
    (("en-IN", "Asia/Kolkata", -330), 0.03),
    (("de-DE", "Europe/Berlin", -60), 0.07),
    (("de-AT", "Europe/Vienna", -60), 0.01),
    (("fr-FR", "Europe/Paris", -60), 0.06),
    (("fr-CA", "America/Toronto", 300), 0.01),
    (("es-ES", "Europe/Madrid", -60), 0.04),
    (("es-MX", "America/Mexico_City", 360), 0.03),
    (("pt-BR", "America/Sao_Paulo", 180), 0.05),
    (("ja-JP", "Asia/Tokyo", -540), 0.04),
    (("hi-IN", "Asia/Kolkata", -330), 0.03),
    (("it-IT", "Europe/Rome", -60), 0.04),
    (("nl-NL", "Europe/Amsterdam", -60), 0.03),
    (("pl-PL", "Europe/Warsaw", -60), 0.02),
    (("sv-SE", "Europe/Stockholm", -60), 0.01),
    (("tr-TR", "Europe/Istanbul", -180), 0.02),
    (("ko-KR", "Asia/Seoul", -540), 0.02),
    (("zh-CN", "Asia/Shanghai", -480), 0.02),
    (("id-ID", "Asia/Jakarta", -420), 0.02),
    (("ru-RU", "Europe/Moscow", -180), 0.02),
    (("uk-UA", "Europe/Kyiv", -120), 0.01),
];
/// Second languages people add to their browser, weighted.
const SECOND_LANGUAGES: [(&str, f64); 6] = [
    ("en-US", 0.45),
    ("en-GB", 0.15),
    ("de-DE", 0.1),
    ("fr-FR", 0.1),
    ("es-ES", 0.1),
    ("ru-RU", 0.1),
];

const WIN_GPUS: [(&str, f64); 8] = [
    (
        "ANGLE (Intel, Intel(R) UHD Graphics 620 (0x00005917) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.22,
    ),
    (
        "ANGLE (Intel, Intel(R) Iris(R) Xe Graphics (0x00009A49) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.20,
    ),
    (
        "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002504) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.12,
    ),
    (
        "ANGLE (NVIDIA, NVIDIA GeForce GTX 1650 (0x00001F82) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.10,
    ),
    (
        "ANGLE (NVIDIA, NVIDIA GeForce RTX 4070 (0x00002786) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.08,
    ),
    (
        "ANGLE (AMD, AMD Radeon(TM) Graphics (0x00001638) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.14,
    ),
    (
        "ANGLE (AMD, AMD Radeon RX 6600 (0x000073FF) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.06,
    ),
    (
        "ANGLE (Intel, Intel(R) HD Graphics 520 (0x00001916) Direct3D11 vs_5_0 ps_5_0, D3D11)",
        0.08,
    ),
];
const MAC_GPUS: [(&str, f64); 5] = [
    (
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M1, Unspecified Version)",
        0.35,
    ),
    (
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)",
        0.25,
    ),
    (
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)",
        0.15,
    ),
    (
        "ANGLE (Apple, ANGLE Metal Renderer: Apple M1 Pro, Unspecified Version)",
        0.15,
    ),
    (
        "ANGLE (Intel Inc., Intel(R) Iris(TM) Plus Graphics 655, OpenGL 4.1)",
        0.10,
    ),
];
const DESKTOP_SCREENS: [((u32, u32), f64); 7] = [
    ((1920, 1080), 0.40),
    ((1366, 768), 0.10),
    ((1536, 864), 0.12),
    ((2560, 1440), 0.14),
    ((1440, 900), 0.08),
    ((1280, 720), 0.06),
    ((3840, 2160), 0.10),
];
const MAC_SCREENS: [((u32, u32), f64); 4] = [
    ((1440, 900), 0.3),
    ((1512, 982), 0.3),
    ((1728, 1117), 0.2),
    ((2560, 1440), 0.2),
];
/// iPhone models: (screen, GPU family tag, weight).
const IPHONES: [((u32, u32, &str), f64); 5] = [
    ((390, 844, "A15"), 0.30),
    ((393, 852, "A16"), 0.25),
    ((430, 932, "A17"), 0.15),
    ((375, 667, "A13"), 0.15),
    ((414, 896, "A12"), 0.15),
];
/// An Android phone model: (model name, screen width, screen height, GPU renderer).
type AndroidModel = (&'static str, u32, u32, &'static str);

/// Android traffic is spread over many models; the most popular few still make crowds.
const ANDROIDS: [(AndroidModel, f64); 24] = [
    (("SM-S918B", 384, 854, "Adreno (TM) 740"), 0.08),
    (("SM-A546B", 412, 915, "Mali-G68"), 0.10),
    (("Pixel 8", 412, 915, "Mali-G715"), 0.06),
    (("Redmi Note 12", 393, 873, "Adreno (TM) 610"), 0.08),
    (("SM-A135F", 412, 915, "Mali-G52"), 0.06),
    (("moto g54 5G", 412, 915, "IMG BXM-8-256"), 0.04),
    (("SM-S911B", 360, 780, "Adreno (TM) 740"), 0.05),
    (("SM-A156B", 384, 832, "Mali-G57"), 0.05),
    (("SM-G991B", 360, 800, "Mali-G78"), 0.04),
    (("Pixel 7a", 412, 892, "Mali-G710"), 0.04),
    (("Pixel 6", 412, 915, "Mali-G78"), 0.03),
    (("2201117TY", 393, 851, "Adreno (TM) 610"), 0.03),
    (("23129RAA4G", 393, 873, "Mali-G57 MC2"), 0.03),
    (("CPH2591", 412, 915, "Mali-G57 MC2"), 0.03),
    (("RMX3710", 412, 915, "Mali-G57 MC2"), 0.03),
    (("V2250", 393, 873, "Adreno (TM) 619"), 0.02),
    (("SM-A346B", 384, 854, "Mali-G68"), 0.03),
    (("SM-M336B", 412, 915, "Mali-G68"), 0.02),
    (("M2101K6G", 393, 873, "Adreno (TM) 618"), 0.03),
    (("moto g84 5G", 412, 915, "Adreno (TM) 619"), 0.02),
    (("Nokia G21", 400, 889, "Mali-G52 MC2"), 0.02),
    (("SM-T220", 800, 1340, "Mali-G52"), 0.02),
    (("CPH2481", 412, 919, "Adreno (TM) 619"), 0.02),
    (("22101316G", 393, 873, "Adreno (TM) 644"), 0.02),
];
const EXTRA_FONTS: [&str; 24] = [
    "Adobe Garamond",
    "Helvetica Neue",
    "Roboto",
    "Open Sans",
    "Lato",
    "Montserrat",
    "Source Sans Pro",
    "Fira Code",
    "JetBrains Mono",
    "Ubuntu",
    "Noto Sans",
    "Playfair Display",
    "Raleway",
    "Poppins",
    "Merriweather",
    "Inter",
    "Nunito",
    "PT Sans",
    "Oswald",
    "Cascadia Code",
    "Consolas",
    "Calibri Light",
    "Garamond",
    "Book Antiqua",
];
const WIN_FONTS: [&str; 12] = [
    "Arial",
    "Calibri",
    "Cambria",
    "Consolas",
    "Courier New",
    "Georgia",
    "Segoe UI",
    "Tahoma",
    "Times New Roman",
    "Trebuchet MS",
    "Verdana",
    "Segoe UI Emoji",
];
const MAC_FONTS: [&str; 12] = [
    "Arial",
    "Avenir",
    "Helvetica",
    "Helvetica Neue",
    "Menlo",
    "Monaco",
    "Georgia",
    "Futura",
    "Gill Sans",
    "Optima",
    "Palatino",
    "Times",
];
const LINUX_FONTS: [&str; 6] = [
    "DejaVu Sans",
    "DejaVu Serif",
    "DejaVu Sans Mono",
    "Liberation Sans",
    "Liberation Serif",
    "Liberation Mono",
];

/// One synthetic browser: the stable facts from which its visits are rendered.
#[derive(Debug, Clone)]
pub struct Device {
    pub archetype: Archetype,
    pub browser_major: u32,
    pub os_version: u32,
    pub model: &'static str,
    pub gpu: &'static str,
    pub screen: (u32, u32),
    pub pixel_ratio: f64,
    pub cores: u32,
    pub memory: f64,
    pub locale: (&'static str, &'static str, i32),
    /// A second language after the locale's, if the person added one.
    pub second_language: Option<&'static str>,
    pub fonts: Vec<&'static str>,
    /// Rendering quirks that distinguish otherwise identical machines (driver builds).
    pub driver: u32,
}

impl Device {
    pub fn random(rng: &mut Rng) -> Device {
        let archetype = *rng.weighted(&ARCHETYPES);
        let locale = *rng.weighted(&LOCALES);
        let second_language = rng
            .chance(0.2)
            .then(|| *rng.weighted(&SECOND_LANGUAGES))
            .filter(|l| *l != locale.0);
        let mut d = Device {
            archetype,
            browser_major: 118 + rng.below(6) as u32,
            os_version: 0,
            model: "",
            gpu: "",
            screen: (1920, 1080),
            pixel_ratio: 1.0,
            cores: 8,
            memory: 8.0,
            locale,
            second_language,
            fonts: Vec::new(),
            driver: rng.below(4) as u32,
        };
        let extras = |rng: &mut Rng, n: usize| -> Vec<&'static str> {
            (0..n)
                .map(|_| EXTRA_FONTS[rng.below(EXTRA_FONTS.len())])
                .collect()
        };
        match archetype {
            Archetype::WindowsChrome | Archetype::WindowsEdge | Archetype::WindowsFirefox => {
                d.gpu = *rng.weighted(&WIN_GPUS);
                d.screen = *rng.weighted(&DESKTOP_SCREENS);
                d.pixel_ratio = *rng.weighted(&[(1.0, 0.6), (1.25, 0.25), (1.5, 0.15)]);
                d.cores = *rng.weighted(&[(4, 0.3), (8, 0.4), (12, 0.15), (16, 0.15)]);
                d.memory = 8.0;
                d.os_version = 10;
                d.fonts = WIN_FONTS.to_vec();
                let n = rng.below(6);
                d.fonts.extend(extras(rng, n));
            }
            Archetype::MacChrome | Archetype::MacSafari => {
                d.gpu = *rng.weighted(&MAC_GPUS);
                d.screen = *rng.weighted(&MAC_SCREENS);
                d.pixel_ratio = 2.0;
                d.cores = *rng.weighted(&[(8, 0.6), (10, 0.25), (12, 0.15)]);
                d.memory = 8.0;
                d.os_version = 14;
                d.fonts = MAC_FONTS.to_vec();
                let n = rng.below(5);
                d.fonts.extend(extras(rng, n));
                if archetype == Archetype::MacSafari {
                    d.browser_major = 16 + rng.below(2) as u32;
                }
            }
            Archetype::IPhoneSafari => {
                let (w, h, chip) = *rng.weighted(&IPHONES);
                d.model = chip;
                d.gpu = "Apple GPU";
                d.screen = (w, h);
                d.pixel_ratio = 3.0;
                d.cores = 6;
                d.memory = 0.0;
                d.os_version = 17;
                d.browser_major = 17;
                d.fonts = MAC_FONTS[..8].to_vec();
                d.driver = 0;
            }
            Archetype::AndroidChrome => {
                let (model, w, h, gpu) = *rng.weighted(&ANDROIDS);
                d.model = model;
                d.gpu = gpu;
                d.screen = (w, h);
                d.pixel_ratio = 2.625;
                d.cores = 8;
                d.memory = 4.0;
                d.os_version = 13 + rng.below(2) as u32;
                d.fonts = vec!["Roboto", "Noto Sans", "Droid Sans Mono"];
                d.driver = 0;
            }
            Archetype::LinuxFirefox => {
                d.gpu = "Mesa Intel(R) UHD Graphics 620 (KBL GT2)";
                d.screen = *rng.weighted(&DESKTOP_SCREENS);
                d.cores = *rng.weighted(&[(4, 0.5), (8, 0.5)]);
                d.memory = 0.0;
                d.os_version = 6;
                d.fonts = LINUX_FONTS.to_vec();
                let n = rng.below(8);
                d.fonts.extend(extras(rng, n));
            }
        }
        d.fonts.sort_unstable();
        d.fonts.dedup();
        d
    }

    fn user_agent(&self) -> String {
        let v = self.browser_major;
        match self.archetype {
            Archetype::WindowsChrome => format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
            Archetype::WindowsEdge => format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0"),
            Archetype::WindowsFirefox => format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
            Archetype::MacChrome => format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
            Archetype::MacSafari => format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 Safari/605.1.15"),
            Archetype::IPhoneSafari => format!("Mozilla/5.0 (iPhone; CPU iPhone OS {}_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.2 Mobile/15E148 Safari/604.1", self.os_version),
            Archetype::AndroidChrome => format!("Mozilla/5.0 (Linux; Android {}; {}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36", self.os_version, self.model),
            Archetype::LinuxFirefox => format!("Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
        }
    }

    /// What the agent would measure on this device today.
    pub fn components(&self) -> Components {
        let desktop = !matches!(
            self.archetype,
            Archetype::IPhoneSafari | Archetype::AndroidChrome
        );
        let (platform, vendor) = match self.archetype {
            Archetype::WindowsChrome | Archetype::WindowsEdge | Archetype::WindowsFirefox => {
                ("Win32", "Google Inc.")
            }
            Archetype::MacChrome => ("MacIntel", "Google Inc."),
            Archetype::MacSafari => ("MacIntel", "Apple Computer, Inc."),
            Archetype::IPhoneSafari => ("iPhone", "Apple Computer, Inc."),
            Archetype::AndroidChrome => ("Linux armv8l", "Google Inc."),
            Archetype::LinuxFirefox => ("Linux x86_64", ""),
        };
        // The rendering stack is a function of hardware, OS build, browser engine and driver.
        let stack = format!(
            "{:?}|{}|{}|{}|{}",
            self.archetype, self.gpu, self.os_version, self.model, self.driver
        );
        let engine = format!("{:?}|{}", self.archetype, self.browser_major / 4);
        let h = |s: &str| {
            format!(
                "{:016x}",
                prynt_identify::fingerprint::hash32(&[s.as_bytes()]) as u64 * 0x9E37_79B1
            )
        };
        let (lang, tz, offset) = self.locale;
        let primary = lang.split('-').next().unwrap_or(lang).to_owned();
        Components {
            user_agent: Some(self.user_agent()),
            platform: Some(platform.into()),
            vendor: Some(vendor.into()),
            product_sub: Some(
                if self.archetype == Archetype::LinuxFirefox
                    || self.archetype == Archetype::WindowsFirefox
                {
                    "20100101"
                } else {
                    "20030107"
                }
                .into(),
            ),
            languages: Some(
                [Some(lang), Some(primary.as_str()), self.second_language]
                    .into_iter()
                    .flatten()
                    .map(str::to_owned)
                    .collect(),
            ),
            timezone: Some(tz.into()),
            timezone_offset: Some(offset),
            screen: Some(Screen {
                w: Some(self.screen.0),
                h: Some(self.screen.1),
                avail_w: Some(self.screen.0),
                avail_h: Some(self.screen.1.saturating_sub(if desktop { 40 } else { 0 })),
                color_depth: Some(if self.pixel_ratio >= 2.0 { 30 } else { 24 }),
                pixel_ratio: Some(self.pixel_ratio),
            }),
            window: Some(WindowSize {
                inner_w: Some(self.screen.0.saturating_sub(16)),
                inner_h: Some(self.screen.1.saturating_sub(120)),
                outer_w: Some(self.screen.0),
                outer_h: Some(self.screen.1.saturating_sub(40)),
            }),
            hardware_concurrency: Some(self.cores),
            device_memory: (self.memory > 0.0).then_some(self.memory),
            max_touch_points: Some(if desktop { 0 } else { 5 }),
            cookie_enabled: Some(true),
            do_not_track: None,
            canvas: Some(Canvas {
                text: Some(h(&format!("ct|{stack}"))),
                geometry: Some(h(&format!("cg|{stack}"))),
                winding: Some(true),
            }),
            webgl: Some(WebGl {
                vendor: Some("WebKit".into()),
                renderer: Some("WebKit WebGL".into()),
                unmasked_vendor: Some(self.gpu.split(',').next().unwrap_or("").into()),
                unmasked_renderer: Some(self.gpu.into()),
                version: Some("WebGL 1.0".into()),
                shading_language: Some("WebGL GLSL ES 1.0".into()),
                params: Some(h(&format!("wp|{}|{}", self.gpu, engine))),
                extensions: Some(h(&format!("we|{engine}"))),
                render: Some(h(&format!("wr|{stack}"))),
            }),
            audio: Some(Audio {
                hash: Some(h(&format!("au|{engine}|{}", self.os_version))),
                sum: Some(124.04),
            }),
            fonts: Some(self.fonts.iter().map(|f| (*f).to_owned()).collect()),
            math: Some(h(&format!("m|{engine}"))),
            storage: Some(Storage {
                local_storage: Some(true),
                session_storage: Some(true),
                indexed_db: Some(true),
                quota: Some(2.9e11),
                ..Default::default()
            }),
            plugins: Some(if desktop && self.archetype != Archetype::MacSafari {
                vec!["PDF Viewer::internal-pdf-viewer".into()]
            } else {
                vec![]
            }),
            mime_types: Some(if desktop {
                vec!["application/pdf".into()]
            } else {
                vec![]
            }),
            ..Default::default()
        }
    }
}

/// How a browser changes between two visits `gap_days` apart, at the rates seen in real
/// browsers (FP-Stalker sample, docs/identification.md): browser upgrades about monthly (never a
/// downgrade), driver or OS updates that change rendering, a laptop moving between its own
/// screen and an external monitor, font installs, a rare language change. Travel is separate
/// ([`Device::components_at`]) because it is temporary.
pub fn drift(
    d: &mut Device,
    rng: &mut Rng,
    gap_days: f64,
    second_screen: Option<(u32, u32)>,
    home_screen: (u32, u32),
) {
    let per = |rate_per_12_days: f64| (rate_per_12_days * gap_days / 12.0).min(0.95);
    if rng.chance((gap_days / 30.0).min(0.95)) {
        d.browser_major += 1;
    }
    if rng.chance(per(0.06)) {
        d.driver += 10;
    }
    if let Some(second) = second_screen {
        if rng.chance(0.2) {
            d.screen = if d.screen == home_screen {
                second
            } else {
                home_screen
            };
        }
    }
    if !d.fonts.is_empty() && rng.chance(per(0.03)) {
        let extra = EXTRA_FONTS[rng.below(EXTRA_FONTS.len())];
        if !d.fonts.contains(&extra) {
            d.fonts.push(extra);
            d.fonts.sort_unstable();
        }
    }
    if rng.chance(per(0.004)) {
        d.locale.0 = LOCALES[rng.below(LOCALES.len())].0 .0;
    }
}

impl Device {
    /// Components as measured while travelling in time zone `tz` (or at home when `None`).
    pub fn components_at(&self, tz: Option<(&'static str, i32)>) -> Components {
        let mut c = self.components();
        if let Some((zone, offset)) = tz {
            c.timezone = Some(zone.into());
            c.timezone_offset = Some(offset);
        }
        c
    }

    /// A time zone away from home, for travel.
    pub fn travel_zone(rng: &mut Rng) -> (&'static str, i32) {
        let l = LOCALES[rng.below(LOCALES.len())].0;
        (l.1, l.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_population_is_deterministic_and_has_crowds() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let da: Vec<_> = (0..100)
            .map(|_| Device::random(&mut a).components().user_agent)
            .collect();
        let db: Vec<_> = (0..100)
            .map(|_| Device::random(&mut b).components().user_agent)
            .collect();
        assert_eq!(da, db);
        let mut rng = Rng::new(1);
        let iphones = (0..1000)
            .map(|_| Device::random(&mut rng))
            .filter(|d| {
                d.archetype == Archetype::IPhoneSafari && d.model == "A15" && d.locale.0 == "en-US"
            })
            .count();
        assert!(iphones >= 5, "identical iPhones exist: {iphones}");
    }
}
