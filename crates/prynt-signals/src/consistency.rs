//! Consistency: the lies a spoofing script cannot keep consistent. Anti-detect tools and
//! stealth plugins rewrite what the page's `window` reports, but a dedicated Web Worker runs in
//! a realm they do not reach and renders WebGL on the GPU that is really there; a fresh iframe is
//! a second realm with its own built-ins; a Proxy or a script function never passes every test a
//! built-in passes; the fonts and the browser's own client-hint header come from the machine,
//! not from the script. Each finding is a sentence a fraud analyst can read.

use prynt_core::agent::{Components, RealmView};

use crate::detect::RequestFacts;
use crate::device::{normalise_os, DeviceInfo};

/// Fonts that ship with desktop Linux distributions and with neither Windows nor macOS.
const LINUX_ONLY_FONTS: &[&str] = &[
    "DejaVu Sans",
    "DejaVu Sans Mono",
    "DejaVu Serif",
    "Liberation Mono",
    "Liberation Sans",
    "Liberation Serif",
    "Nimbus Sans",
    "URW Bookman",
    "Cantarell",
    "FreeSans",
    "Ubuntu",
    "Ubuntu Mono",
];

/// Fonts every installation of the OS has (any one of them is enough).
const WINDOWS_CORE_FONTS: &[&str] = &[
    "Segoe UI",
    "Segoe UI Emoji",
    "Tahoma",
    "Calibri",
    "Consolas",
    "Cambria",
    "Lucida Console",
    "Microsoft YaHei",
    "MS Gothic",
];
const MAC_CORE_FONTS: &[&str] = &[
    "Helvetica Neue",
    "Menlo",
    "Lucida Grande",
    "Apple Color Emoji",
    "Geneva",
    "Avenir",
];

/// Every contradiction found between realms, built-ins, fonts and headers.
pub(crate) fn findings(c: &Components, d: &DeviceInfo, request: &RequestFacts) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(i) = &c.integrity {
        if !i.lies.is_empty() {
            why.push(format!(
                "built-in functions were replaced by script (a Proxy or a script function in place of the browser's own): {}",
                i.lies.join(", ")
            ));
        }
        if !i.navigator_own.is_empty() {
            why.push(format!(
                "navigator has properties of its own, redefined by script: {}",
                i.navigator_own.join(", ")
            ));
        }
        // Chromium and Firefox have had `navigator.webdriver` for years; only a script deletes it.
        let engine_has_it = matches!(d.browser_family.as_str(), "Firefox")
            || crate::detect::is_blink_family(&d.browser_family);
        if i.webdriver_missing == Some(true) && engine_has_it {
            why.push("navigator.webdriver was deleted by script; the browser always has it".into());
        }
        if let Some(w) = &i.worker {
            realm_differences(c, w, "a Web Worker", &mut why);
            if let (Some(page), Some(worker)) = (page_gpu(c), w.gpu.as_deref()) {
                if !page.is_empty() && !worker.is_empty() && page != worker {
                    why.push(format!(
                        "the page claims the GPU {page:?} but WebGL in a Web Worker renders with {worker:?}"
                    ));
                }
            }
            let page_hint = c.ua_data.as_ref().and_then(|h| h.platform.as_deref());
            if let (Some(page), Some(worker)) = (page_hint, w.ua_platform.as_deref()) {
                if page != worker {
                    why.push(format!(
                        "the page's client hints say {page:?} but a Web Worker's say {worker:?}"
                    ));
                }
            }
            if let (Some(page), Some(worker)) = (c.timezone.as_deref(), w.timezone.as_deref()) {
                if page != worker {
                    why.push(format!(
                        "the page's time zone is {page} but a Web Worker's is {worker}"
                    ));
                }
            }
        }
        if let Some(f) = &i.iframe {
            realm_differences(c, f, "a fresh iframe", &mut why);
            let page = c.automation.as_ref().and_then(|a| a.webdriver);
            if let (Some(page), Some(frame)) = (page, f.webdriver) {
                if page != frame {
                    why.push(format!(
                        "navigator.webdriver is {page} in the page but {frame} in a fresh iframe"
                    ));
                }
            }
        }
    }
    fonts_against_os(c, d, &mut why);
    if let (Some(ua), Some(hints)) = (chromium_major_of_ua(c), chromium_major_of_hints(c)) {
        if ua != hints {
            why.push(format!(
                "the user agent says Chromium {ua} but the client hints say Chromium {hints}"
            ));
        }
    }
    if let (Some(header), Some(ua_os)) = (
        request.client_hint_platform.as_deref(),
        crate::detect::os_of_ua(c.user_agent.as_deref().unwrap_or("")),
    ) {
        let header_os = normalise_os(header.trim_matches('"'));
        if header_os != "Other" && !same_os_family(header_os, ua_os) {
            why.push(format!(
                "the browser's own Sec-CH-UA-Platform header says {header} but the page's user agent says {ua_os}"
            ));
        }
    }
    why
}

/// The engine's major version in a Chromium user agent (`Chrome/121.0.0.0`, which Edge, Opera
/// and Samsung Internet carry too).
fn chromium_major_of_ua(c: &Components) -> Option<u32> {
    let ua = c.user_agent.as_deref()?;
    let rest = &ua[ua.find("Chrome/")? + "Chrome/".len()..];
    let digits = rest.split(|ch: char| !ch.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The engine's major version in the client hints' brands (the `Chromium` brand).
fn chromium_major_of_hints(c: &Components) -> Option<u32> {
    let brands = &c.ua_data.as_ref()?.brands;
    let b = brands.iter().find(|b| b.brand == "Chromium")?;
    b.version.split('.').next()?.parse().ok()
}

/// The renderer the page's WebGL reports, as the worker reads it (unmasked where allowed).
fn page_gpu(c: &Components) -> Option<&str> {
    let g = c.webgl.as_ref()?;
    g.unmasked_renderer.as_deref().or(g.renderer.as_deref())
}

/// ChromeOS runs its browser on Linux: the desktop mode of some Android browsers and the
/// Linux container of ChromeOS report the other name.
fn same_os_family(a: &str, b: &str) -> bool {
    a == b || matches!((a, b), ("ChromeOS", "Linux") | ("Linux", "ChromeOS"))
}

fn realm_differences(c: &Components, r: &RealmView, realm: &str, why: &mut Vec<String>) {
    // Compared in place; a sentence is only made for a difference.
    let mut differ = |what: &str, page: &dyn std::fmt::Debug, other: &dyn std::fmt::Debug| {
        why.push(format!(
            "{what} is {page:?} in the page but {other:?} in {realm}"
        ));
    };
    if let (Some(page), Some(other)) = (c.user_agent.as_deref(), r.user_agent.as_deref()) {
        if page != other {
            differ("navigator.userAgent", &page, &other);
        }
    }
    if let (Some(page), Some(other)) = (c.platform.as_deref(), r.platform.as_deref()) {
        if page != other {
            differ("navigator.platform", &page, &other);
        }
    }
    if let (Some(page), Some(other)) = (&c.languages, r.languages.as_deref()) {
        // The realm sends its list joined with commas.
        if !other.is_empty() && !other.split(',').eq(page.iter().map(String::as_str)) {
            differ("navigator.languages", &page.join(","), &other);
        }
    }
    if let (Some(page), Some(other)) = (c.hardware_concurrency, r.hardware_concurrency) {
        if page != other {
            differ(
                "navigator.hardwareConcurrency",
                &page.to_string(),
                &other.to_string(),
            );
        }
    }
}

/// Fonts that only come with macOS (Windows and Linux machines have them only when someone
/// installs them, which designers do: so they only count beside a missing core font).
const MAC_ONLY_FONTS: &[&str] = &[
    "Apple Color Emoji",
    "Helvetica Neue",
    "Lucida Grande",
    "Geneva",
    "Menlo",
    "Hiragino Sans",
    "PingFang SC",
    "Marker Felt",
];
const WINDOWS_ONLY_FONTS: &[&str] = &[
    "Segoe UI",
    "Segoe UI Emoji",
    "Segoe Print",
    "Bahnschrift",
    "Leelawadee UI",
    "Ink Free",
];

/// A desktop that claims Windows or macOS but has another OS's fonts and none of its own. A
/// font installed on top never takes the OS's own fonts away, so the missing core is what
/// makes foreign fonts a contradiction rather than a designer's machine.
fn fonts_against_os(c: &Components, d: &DeviceInfo, why: &mut Vec<String>) {
    let Some(fonts) = &c.fonts else { return };
    let (core, foreign): (&[&str], [&[&str]; 2]) = match d.platform.as_str() {
        "Windows" => (WINDOWS_CORE_FONTS, [LINUX_ONLY_FONTS, MAC_ONLY_FONTS]),
        "macOS" => (MAC_CORE_FONTS, [LINUX_ONLY_FONTS, WINDOWS_ONLY_FONTS]),
        _ => return,
    };
    let is_foreign = |f: &&String| foreign.iter().any(|l| l.contains(&f.as_str()));
    if fonts.iter().any(|f| core.contains(&f.as_str())) || !fonts.iter().any(|f| is_foreign(&f)) {
        return;
    }
    let others: Vec<&str> = fonts
        .iter()
        .filter(is_foreign)
        .map(String::as_str)
        .collect();
    why.push(format!(
        "the fonts belong to another system ({}) and none of {}'s own are there",
        others.join(", "),
        d.platform
    ));
}
