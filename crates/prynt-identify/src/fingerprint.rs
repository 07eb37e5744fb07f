//! A fingerprint: the agent's components reduced to fixed-size hashes, grouped so that
//! measurements driven by the same cause (the GPU and driver stack, the OS build) count once.

use prynt_core::agent::Components;
use serde::{Deserialize, Serialize};

/// The compared components, in the order of [`Fingerprint::h`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Comp {
    /// Operating system family.
    Os = 0,
    /// Browser family (Chrome, Safari, Firefox, …).
    Browser,
    /// The user agent with every number masked: device model and OS naming, not versions.
    UaShape,
    /// `navigator.platform`, vendor, productSub.
    Platform,
    Languages,
    Timezone,
    /// Screen size, orientation-independent.
    Screen,
    /// Colour depth and device pixel ratio.
    Display,
    /// CPU cores, device memory, touch points.
    Hardware,
    /// Rendering outputs: canvas text and geometry, WebGL drawing, audio.
    Render,
    /// Rendering capabilities: WebGL parameters and extensions, math probes.
    Caps,
    /// WebGL vendor and renderer.
    Gpu,
    /// Installed fonts (compared as sets through [`Fingerprint::fonts`]).
    Fonts,
    /// Plugins and MIME types.
    Plugins,
    /// Cookie, storage and Do-Not-Track settings.
    Prefs,
}

/// Components decided by the device model, OS and browser build rather than by the person:
/// identical laptops of a fleet share all of them, so together they are one piece of evidence.
pub const STACK: [Comp; 11] = [
    Comp::Os,
    Comp::Browser,
    Comp::UaShape,
    Comp::Platform,
    Comp::Display,
    Comp::Hardware,
    Comp::Render,
    Comp::Caps,
    Comp::Gpu,
    Comp::Plugins,
    Comp::Prefs,
];

/// The components that say which kind of device this is (model, OS, browser, GPU), but not
/// its drivers or browser build: personal settings are counted among devices of the same class,
/// since an iPhone model decides its screen and fonts and a phone's language goes with where it
/// is sold.
pub const DEVICE_CLASS: [Comp; 7] = [
    Comp::Os,
    Comp::Browser,
    Comp::UaShape,
    Comp::Platform,
    Comp::Gpu,
    Comp::Hardware,
    Comp::Display,
];

/// Number of compared components.
pub const N_COMP: usize = 15;

pub const ALL: [Comp; N_COMP] = [
    Comp::Os,
    Comp::Browser,
    Comp::UaShape,
    Comp::Platform,
    Comp::Languages,
    Comp::Timezone,
    Comp::Screen,
    Comp::Display,
    Comp::Hardware,
    Comp::Render,
    Comp::Caps,
    Comp::Gpu,
    Comp::Fonts,
    Comp::Plugins,
    Comp::Prefs,
];

/// What the server made of the user agent, needed to decide which components to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserKind<'a> {
    pub os: &'a str,
    pub family: &'a str,
    pub major: Option<u32>,
}

/// The comparable essence of one visit. A zero hash means "unknown or untrusted".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fingerprint {
    pub h: [u32; N_COMP],
    /// Installed fonts as a 128-bit set (font name hashed to a bit).
    pub fonts: [u64; 2],
    /// Browser major version; versions only go up for the same browser.
    pub browser_major: u16,
    /// The network the visit came from ([`network_key`]), 0 when unknown. Not part of the
    /// device: it is weighed apart from the components (see `Index`).
    #[serde(default)]
    pub net: u32,
    /// In a visitor's profile, the network it was on before `net` (the latest other one), 0
    /// when unknown; in a visit, 0. Phones move between home Wi-Fi and mobile data, laptops
    /// between home and work: a return is often on the network before last.
    #[serde(default)]
    pub net_before: u32,
}

/// The network of a client address: its /24 for IPv4 (and IPv4-mapped IPv6), its /56 for
/// IPv6, hashed; never 0. A home connection's devices share it, and an address renumbered by
/// its ISP usually leaves it; a /56 is what ISPs commonly delegate to one home, while the
/// interface part of an IPv6 address changes daily under privacy extensions.
pub fn network_key(ip: std::net::IpAddr) -> u32 {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => network_key_v4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_key_v4(v4.octets()),
            None => hash32(&[b"n6", &v6.octets()[..7]]),
        },
    }
}

fn network_key_v4(o: [u8; 4]) -> u32 {
    hash32(&[b"n4", &o[..3]])
}

/// 32-bit FNV-1a, never zero (zero is reserved for "unknown").
pub fn hash32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for &b in *p {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0193);
    }
    if h == 0 {
        1
    } else {
        h
    }
}

fn h_opt(parts: &[Option<&str>]) -> u32 {
    if parts.iter().all(Option::is_none) {
        return 0;
    }
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.unwrap_or("").as_bytes()).collect();
    hash32(&bytes)
}

fn num(v: Option<impl std::fmt::Display>) -> Option<String> {
    v.map(|x| x.to_string())
}

/// Bits of a languages value that hold the set of base languages ("en" for "en-US").
const LANG_SET_BITS: u32 = 12;
const LANG_LIST_MASK: u32 = (1 << (32 - LANG_SET_BITS)) - 1;

/// The languages component: the set of base languages in the top [`LANG_SET_BITS`] bits (one
/// bit each), the exact ordered list hashed in the rest. So a language added, removed or moved
/// shows as a list that differs over a set that nests ([`languages_near`]).
fn languages_hash(list: &[String]) -> u32 {
    let text = list.join(",").to_ascii_lowercase();
    let set = list
        .iter()
        .map(|l| {
            let base = l
                .split(['-', '_'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            1u32 << (hash32(&[base.as_bytes()]) % LANG_SET_BITS)
        })
        .fold(0, |a, b| a | b);
    (set << (32 - LANG_SET_BITS)) | (hash32(&[text.as_bytes()]) & LANG_LIST_MASK).max(1)
}

/// Two known, different language lists whose base languages nest (one set within the other):
/// a language added, removed or reordered, or the interface language put first.
pub fn languages_near(a: u32, b: u32) -> bool {
    let (x, y) = (a >> (32 - LANG_SET_BITS), b >> (32 - LANG_SET_BITS));
    a != 0 && b != 0 && x != 0 && y != 0 && (x & y == x || x & y == y)
}

/// Whether a reported screen is in zoomed CSS pixels (Firefox's) with a usable ratio.
fn firefox_zooms(kind: &BrowserKind<'_>, ratio: f64) -> bool {
    kind.family == "Firefox" && ratio.is_finite() && (0.25..=8.0).contains(&ratio)
}

/// CSS pixels at `ratio` in device pixels, to the nearest 8 (Firefox rounds the CSS size).
fn device_px(css: u32, ratio: f64) -> u32 {
    ((css as f64 * ratio / 8.0).round() * 8.0) as u32
}

/// Replaces every run of digits by `#`: "Chrome/121.0.6167.85" → "Chrome/#.#.#.#".
pub fn mask_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(ch);
            in_digits = false;
        }
    }
    out
}

/// Which components a browser is known to randomise or blur (ThumbmarkJS / FingerprintJS
/// stabilisation rules, and what real browsers were seen doing); those are left out rather
/// than compared.
struct Distrust {
    /// Canvas and the WebGL drawing.
    canvas: bool,
    /// The 2D canvas alone.
    canvas_2d: bool,
    audio: bool,
    fonts: bool,
    hardware: bool,
    /// The CPU core count alone.
    cores: bool,
    plugins: bool,
}

/// From this Firefox release on, the 2D canvas is noised per session and private windows
/// report another core count (its fingerprinting protection; Firefox ESR 153 was seen doing
/// both in normal and private windows: another canvas after every restart, 4 cores instead of
/// 2 in a private window). Private windows have done so since the protection's first release,
/// so a normal window's canvas could never be compared with a private one's in any case.
const FIREFOX_NOISED_FROM: u32 = 120;

fn distrust(kind: &BrowserKind<'_>, c: &Components) -> Distrust {
    let safari17 = kind.family == "Safari" && kind.major.is_some_and(|m| m >= 17);
    let brave = kind.family == "Brave";
    let samsung = kind.family == "Samsung Internet";
    let firefox = kind.family == "Firefox";
    let firefox_noised = firefox && kind.major.is_none_or(|m| m >= FIREFOX_NOISED_FROM);
    // Firefox private browsing refuses the origin-private file system and blurs canvas/fonts.
    let firefox_private =
        firefox && c.storage.as_ref().and_then(|s| s.get_directory.as_deref()) == Some("error");
    Distrust {
        // From FIREFOX_NOISED_FROM on, only the 2D canvas is noised, in private windows too
        // (their WebGL drawing and audio were seen unchanged).
        canvas: safari17 || brave || (firefox_private && !firefox_noised),
        canvas_2d: firefox_noised,
        audio: safari17 || brave || samsung,
        fonts: firefox_private,
        hardware: brave,
        cores: firefox_noised,
        plugins: brave,
    }
}

impl Fingerprint {
    pub fn from_components(c: &Components, kind: &BrowserKind<'_>) -> Fingerprint {
        let d = distrust(kind, c);
        let mut h = [0u32; N_COMP];
        h[Comp::Os as usize] = h_opt(&[Some(kind.os)]);
        h[Comp::Browser as usize] = h_opt(&[Some(kind.family)]);
        h[Comp::UaShape as usize] = c
            .user_agent
            .as_deref()
            .map(|ua| hash32(&[mask_digits(ua).as_bytes()]))
            .unwrap_or(0);
        h[Comp::Platform as usize] = h_opt(&[
            c.platform.as_deref(),
            c.vendor.as_deref(),
            c.product_sub.as_deref(),
        ]);
        h[Comp::Languages as usize] = c
            .languages
            .as_ref()
            .filter(|l| !l.is_empty())
            .map(|l| languages_hash(l))
            .unwrap_or(0);
        h[Comp::Timezone as usize] = h_opt(&[c.timezone.as_deref()]);
        if let Some(s) = &c.screen {
            if let (Some(w), Some(hh)) = (s.w, s.h) {
                // Firefox's page zoom scales the screen it reports (in CSS pixels) with the
                // pixel ratio; in device pixels it stays the monitor's.
                let (w, hh) = match s.pixel_ratio.filter(|r| firefox_zooms(kind, *r)) {
                    Some(r) => (device_px(w, r), device_px(hh, r)),
                    None => (w, hh),
                };
                let (a, b) = (w.max(hh), w.min(hh));
                h[Comp::Screen as usize] = hash32(&[&a.to_le_bytes(), &b.to_le_bytes()]);
            }
            let dpr = s.pixel_ratio.map(|r| format!("{:.2}", r));
            h[Comp::Display as usize] = h_opt(&[num(s.color_depth).as_deref(), dpr.as_deref()]);
        }
        if !d.hardware {
            // A phone's or tablet's screen is part of the device: it never changes for the
            // same browser, unlike a desktop's monitor.
            let handheld = matches!(kind.os, "iOS" | "iPadOS" | "Android");
            let screen = (handheld && h[Comp::Screen as usize] != 0)
                .then(|| h[Comp::Screen as usize].to_string());
            h[Comp::Hardware as usize] = h_opt(&[
                num(c.hardware_concurrency.filter(|_| !d.cores)).as_deref(),
                num(c.device_memory).as_deref(),
                num(c.max_touch_points).as_deref(),
                screen.as_deref(),
            ]);
        }
        let webgl = c.webgl.as_ref();
        let canvas = c.canvas.as_ref().filter(|_| !d.canvas && !d.canvas_2d);
        let audio = c.audio.as_ref().filter(|_| !d.audio);
        h[Comp::Render as usize] = h_opt(&[
            canvas.and_then(|x| x.text.as_deref()),
            canvas.and_then(|x| x.geometry.as_deref()),
            webgl
                .and_then(|g| g.render.as_deref())
                .filter(|_| !d.canvas),
            audio.and_then(|a| a.hash.as_deref()),
        ]);
        h[Comp::Caps as usize] = h_opt(&[
            webgl.and_then(|g| g.params.as_deref()),
            webgl.and_then(|g| g.extensions.as_deref()),
            c.math.as_deref(),
        ]);
        h[Comp::Gpu as usize] = h_opt(&[
            webgl.and_then(|g| g.unmasked_vendor.as_deref().or(g.vendor.as_deref())),
            webgl.and_then(|g| g.unmasked_renderer.as_deref().or(g.renderer.as_deref())),
        ]);
        let mut fonts = [0u64; 2];
        if !d.fonts {
            if let Some(list) = &c.fonts {
                let mut names: Vec<String> = list.iter().map(|f| f.to_ascii_lowercase()).collect();
                names.sort();
                names.dedup();
                for n in &names {
                    let bit = hash32(&[n.as_bytes()]) % 128;
                    fonts[(bit / 64) as usize] |= 1u64 << (bit % 64);
                }
                h[Comp::Fonts as usize] =
                    hash32(&[&fonts[0].to_le_bytes(), &fonts[1].to_le_bytes()]);
            }
        }
        if !d.plugins {
            let mut plugins: Vec<&str> = c.plugins.iter().flatten().map(String::as_str).collect();
            plugins.sort_unstable();
            let mut mimes: Vec<&str> = c.mime_types.iter().flatten().map(String::as_str).collect();
            mimes.sort_unstable();
            if c.plugins.is_some() || c.mime_types.is_some() {
                h[Comp::Plugins as usize] =
                    hash32(&[plugins.join("|").as_bytes(), mimes.join("|").as_bytes()]);
            }
        }
        let st = c.storage.as_ref();
        h[Comp::Prefs as usize] = h_opt(&[
            num(c.cookie_enabled).as_deref(),
            c.do_not_track.as_deref(),
            num(st.and_then(|s| s.local_storage)).as_deref(),
            num(st.and_then(|s| s.indexed_db)).as_deref(),
        ]);
        Fingerprint {
            h,
            fonts,
            browser_major: kind
                .major
                .map(|m| m.min(u16::MAX as u32) as u16)
                .unwrap_or(0),
            net: 0,
            net_before: 0,
        }
    }

    /// The same fingerprint, seen from the network of `ip` (a visit: no network before).
    pub fn with_network(self, ip: Option<std::net::IpAddr>) -> Fingerprint {
        Fingerprint {
            net: ip.map_or(0, network_key),
            net_before: 0,
            ..self
        }
    }

    /// This visit as its visitor's new profile, after `previous`: the network before is the
    /// previous profile's network when this one differs from it, else the one it had.
    pub fn after(self, previous: &Fingerprint) -> Fingerprint {
        let net_before = if self.net == 0 {
            0
        } else if self.net == previous.net {
            previous.net_before
        } else {
            previous.net
        };
        Fingerprint { net_before, ..self }
    }

    pub fn get(&self, c: Comp) -> u32 {
        self.h[c as usize]
    }

    /// Jaccard similarity of the two font sets, when both are known.
    pub fn font_similarity(&self, other: &Fingerprint) -> Option<f64> {
        if self.h[Comp::Fonts as usize] == 0 || other.h[Comp::Fonts as usize] == 0 {
            return None;
        }
        let inter: u32 = (0..2)
            .map(|i| (self.fonts[i] & other.fonts[i]).count_ones())
            .sum();
        let union: u32 = (0..2)
            .map(|i| (self.fonts[i] | other.fonts[i]).count_ones())
            .sum();
        Some(if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        })
    }

    /// The software and hardware stack as one value: every component that the device model,
    /// OS build and browser build decide together. Zero when none of them is known.
    pub fn stack(&self) -> u32 {
        self.joint(&STACK)
    }

    /// The device class as one value (see [`DEVICE_CLASS`]); 0 when none of it is known.
    pub fn device_class(&self) -> u32 {
        self.joint(&DEVICE_CLASS)
    }

    /// Whether both are of the same device class.
    pub fn same_class(&self, other: &Fingerprint) -> bool {
        DEVICE_CLASS.iter().all(|&c| self.get(c) == other.get(c))
    }

    /// Every component and the browser version as one value.
    pub fn exact(&self) -> u32 {
        let mut bytes = [0u8; 4 * N_COMP + 2];
        for (i, v) in self.h.iter().enumerate() {
            bytes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        bytes[4 * N_COMP..].copy_from_slice(&self.browser_major.to_le_bytes());
        hash32(&[&bytes])
    }

    /// The values of `comps` together as one value; 0 when none of them is known.
    fn joint(&self, comps: &[Comp]) -> u32 {
        let mut bytes = [0u8; 4 * N_COMP];
        let mut any = false;
        for (i, c) in comps.iter().enumerate() {
            let v = self.get(*c);
            any |= v != 0;
            bytes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        if any {
            hash32(&[&bytes[..4 * comps.len()]])
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_core::agent::{Canvas, Screen};

    fn kind<'a>(family: &'a str, major: u32) -> BrowserKind<'a> {
        BrowserKind {
            os: "macOS",
            family,
            major: Some(major),
        }
    }

    fn langs(l: &[&str]) -> Components {
        Components {
            languages: Some(l.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn language_lists_that_nest_are_near_and_others_are_not() {
        let k = kind("Chrome", 131);
        let lang = |l: &[&str]| Fingerprint::from_components(&langs(l), &k).get(Comp::Languages);
        let base = lang(&["en-US", "en"]);
        for near in [
            lang(&["en-US", "en", "de"]),
            lang(&["de", "en-US", "en"]),
            lang(&["en-US"]),
            lang(&["en", "en-US"]),
        ] {
            assert_ne!(near, base);
            assert!(languages_near(base, near) && languages_near(near, base));
        }
        assert!(!languages_near(base, lang(&["de-DE", "de"])));
        assert!(!languages_near(base, lang(&["fr-FR", "fr"])));
        assert!(!languages_near(base, 0));
        assert_ne!(
            lang(&["en-US", "en"]),
            lang(&["en", "en-US"]),
            "order still counts"
        );
    }

    #[test]
    fn firefox_noise_is_left_out_and_its_zoom_keeps_the_screen() {
        let firefox = kind("Firefox", 140);
        let mut a = Components {
            hardware_concurrency: Some(2),
            canvas: Some(Canvas {
                text: Some("t1".into()),
                geometry: Some("g1".into()),
                ..Default::default()
            }),
            screen: Some(Screen {
                w: Some(1920),
                h: Some(1080),
                pixel_ratio: Some(1.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut b = a.clone();
        // Another session: another canvas; a private window: another core count; zoomed to
        // 120%: the screen in CSS pixels shrinks as the ratio grows.
        b.canvas = Some(Canvas {
            text: Some("t2".into()),
            geometry: Some("g2".into()),
            ..Default::default()
        });
        b.hardware_concurrency = Some(4);
        b.screen = Some(Screen {
            w: Some(1600),
            h: Some(900),
            pixel_ratio: Some(1.2),
            ..Default::default()
        });
        let (fa, fb) = (
            Fingerprint::from_components(&a, &firefox),
            Fingerprint::from_components(&b, &firefox),
        );
        for c in [Comp::Render, Comp::Hardware, Comp::Screen] {
            assert_eq!(fa.get(c), fb.get(c), "{c:?}");
        }
        assert_ne!(fa.get(Comp::Display), fb.get(Comp::Display));
        // Chromium's canvas, cores and screen are its own.
        let chrome = kind("Chrome", 131);
        let (ca, cb) = (
            Fingerprint::from_components(&a, &chrome),
            Fingerprint::from_components(&b, &chrome),
        );
        for c in [Comp::Render, Comp::Hardware, Comp::Screen] {
            assert_ne!(ca.get(c), cb.get(c), "{c:?}");
        }
        // A private window (no origin-private file system) noises the 2D canvas only: its
        // WebGL drawing still counts.
        let with_webgl = |c: &Components, get_directory: &str| {
            let mut c = c.clone();
            c.webgl = Some(prynt_core::agent::WebGl {
                render: Some("w1".into()),
                ..Default::default()
            });
            c.storage = Some(prynt_core::agent::Storage {
                get_directory: Some(get_directory.into()),
                ..Default::default()
            });
            Fingerprint::from_components(&c, &firefox)
        };
        let (normal, private) = (with_webgl(&a, "ok"), with_webgl(&b, "error"));
        assert_ne!(private.get(Comp::Render), 0);
        assert_eq!(normal.get(Comp::Render), private.get(Comp::Render));
        // An old Firefox's canvas is still compared.
        a.hardware_concurrency = Some(4);
        let old = kind("Firefox", 115);
        assert_ne!(
            Fingerprint::from_components(&a, &old).get(Comp::Render),
            Fingerprint::from_components(&b, &old).get(Comp::Render)
        );
    }

    #[test]
    fn versions_do_not_change_the_ua_shape_and_screen_ignores_orientation() {
        let mut a = Components {
            user_agent: Some("Mozilla/5.0 Chrome/121.0.1.2 Safari/537.36".into()),
            ..Default::default()
        };
        let mut b = a.clone();
        b.user_agent = Some("Mozilla/5.0 Chrome/122.0.9.9 Safari/537.36".into());
        a.screen = Some(Screen {
            w: Some(390),
            h: Some(844),
            ..Default::default()
        });
        b.screen = Some(Screen {
            w: Some(844),
            h: Some(390),
            ..Default::default()
        });
        let fa = Fingerprint::from_components(&a, &kind("Chrome", 121));
        let fb = Fingerprint::from_components(&b, &kind("Chrome", 122));
        assert_eq!(fa.get(Comp::UaShape), fb.get(Comp::UaShape));
        assert_eq!(fa.get(Comp::Screen), fb.get(Comp::Screen));
        assert_eq!((fa.browser_major, fb.browser_major), (121, 122));
    }

    #[test]
    fn noisy_components_are_left_out_for_browsers_that_randomise_them() {
        let c = Components {
            canvas: Some(Canvas {
                text: Some("abc".into()),
                geometry: Some("def".into()),
                winding: None,
            }),
            ..Default::default()
        };
        assert_ne!(
            Fingerprint::from_components(&c, &kind("Chrome", 121)).get(Comp::Render),
            0
        );
        assert_eq!(
            Fingerprint::from_components(&c, &kind("Safari", 17)).get(Comp::Render),
            0
        );
        assert_eq!(
            Fingerprint::from_components(&c, &kind("Brave", 121)).get(Comp::Render),
            0
        );
        assert_ne!(
            Fingerprint::from_components(&c, &kind("Safari", 16)).get(Comp::Render),
            0
        );
    }

    #[test]
    fn font_sets_compare_by_overlap() {
        let mut a = Components {
            fonts: Some((0..40).map(|i| format!("Font {i}")).collect()),
            ..Default::default()
        };
        let fa = Fingerprint::from_components(&a, &kind("Chrome", 121));
        a.fonts.as_mut().unwrap().push("Newly Installed".into());
        let fb = Fingerprint::from_components(&a, &kind("Chrome", 121));
        let sim = fa.font_similarity(&fb).unwrap();
        assert!(sim > 0.9 && sim < 1.0, "{sim}");
        assert_eq!(fa.font_similarity(&fa), Some(1.0));
    }
}

/// Size of [`Fingerprint::to_bytes`].
pub const ENCODED_LEN: usize = 4 * N_COMP + 16 + 2 + 4 + 4;

/// Size of the encoding before the network before last was kept: read without it.
const ENCODED_LEN_WITHOUT_NET_BEFORE: usize = ENCODED_LEN - 4;

/// Size of the encoding before the network was kept: read with an unknown network.
const ENCODED_LEN_WITHOUT_NET: usize = ENCODED_LEN - 8;

impl Fingerprint {
    /// A compact little-endian encoding for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        for h in self.h {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out.extend_from_slice(&self.fonts[0].to_le_bytes());
        out.extend_from_slice(&self.fonts[1].to_le_bytes());
        out.extend_from_slice(&self.browser_major.to_le_bytes());
        out.extend_from_slice(&self.net.to_le_bytes());
        out.extend_from_slice(&self.net_before.to_le_bytes());
        out
    }

    /// Decodes [`Fingerprint::to_bytes`], or the older encodings without the network before
    /// or without any network; `None` for anything of another size.
    pub fn from_bytes(b: &[u8]) -> Option<Fingerprint> {
        if ![
            ENCODED_LEN,
            ENCODED_LEN_WITHOUT_NET_BEFORE,
            ENCODED_LEN_WITHOUT_NET,
        ]
        .contains(&b.len())
        {
            return None;
        }
        let mut f = Fingerprint::default();
        for (i, h) in f.h.iter_mut().enumerate() {
            *h = u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().ok()?);
        }
        let at = 4 * N_COMP;
        f.fonts[0] = u64::from_le_bytes(b[at..at + 8].try_into().ok()?);
        f.fonts[1] = u64::from_le_bytes(b[at + 8..at + 16].try_into().ok()?);
        f.browser_major = u16::from_le_bytes(b[at + 16..at + 18].try_into().ok()?);
        if b.len() >= ENCODED_LEN_WITHOUT_NET_BEFORE {
            f.net = u32::from_le_bytes(b[at + 18..at + 22].try_into().ok()?);
        }
        if b.len() == ENCODED_LEN {
            f.net_before = u32::from_le_bytes(b[at + 22..at + 26].try_into().ok()?);
        }
        Some(f)
    }
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_wrong_sizes() {
        let mut f = Fingerprint::default();
        for (i, h) in f.h.iter_mut().enumerate() {
            *h = i as u32 * 7919;
        }
        f.fonts = [u64::MAX, 42];
        f.browser_major = 121;
        f.net = network_key("81.12.200.7".parse().unwrap());
        f.net_before = network_key("10.1.2.3".parse().unwrap());
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()), Some(f));
        assert_eq!(Fingerprint::from_bytes(&[0; 3]), None);
        // Profiles stored before the network before last was kept read back without it, and
        // those stored before any network was kept with an unknown network.
        let older = &f.to_bytes()[..ENCODED_LEN - 4];
        assert_eq!(
            Fingerprint::from_bytes(older),
            Some(Fingerprint { net_before: 0, ..f })
        );
        let oldest = &f.to_bytes()[..ENCODED_LEN - 8];
        assert_eq!(
            Fingerprint::from_bytes(oldest),
            Some(Fingerprint {
                net: 0,
                net_before: 0,
                ..f
            })
        );
        assert_eq!(
            Fingerprint::from_bytes(&f.to_bytes()[..ENCODED_LEN - 2]),
            None
        );
    }

    #[test]
    fn the_network_is_the_ipv4_24_or_the_ipv6_56() {
        let key = |s: &str| network_key(s.parse().unwrap());
        assert_eq!(key("81.12.200.7"), key("81.12.200.250"));
        assert_ne!(key("81.12.200.7"), key("81.12.201.7"));
        assert_eq!(key("::ffff:81.12.200.7"), key("81.12.200.9"));
        assert_eq!(
            key("2a02:8070:1234:5600::1b"),
            key("2a02:8070:1234:56ff:1:2:3:4")
        );
        assert_ne!(
            key("2a02:8070:1234:5600::1b"),
            key("2a02:8070:1234:5700::1b")
        );
        assert_ne!(key("81.12.200.7"), 0);
    }
}
