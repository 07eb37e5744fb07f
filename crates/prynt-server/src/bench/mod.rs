//! `prynt bench …`: benchmarks that print a human summary and, last, one JSON line.

pub mod accuracy;
mod forest;
mod fp_stalker;
pub mod identify;
mod load;
pub mod matching;
mod recorded;
pub mod seed;
pub mod webhooks;

/// The fingerprint the server would compute from these components.
pub fn fingerprint(
    parser: &prynt_signals::device::DeviceParser,
    c: &prynt_core::agent::Components,
) -> prynt_identify::Fingerprint {
    let info = parser.describe(c);
    let kind = prynt_identify::BrowserKind {
        os: &info.platform,
        family: &info.browser_family,
        major: info.browser_major,
    };
    prynt_identify::Fingerprint::from_components(c, &kind)
}

/// Prints the closing JSON line every benchmark ends with.
pub fn emit(summary: &str, json: serde_json::Value) {
    println!("{summary}");
    println!("{json}");
}

/// Resident memory of this process in bytes (Linux), for memory figures. Memory the allocator
/// holds freed but not yet returned (old buffers of grown tables) is returned first, so the
/// figure is what live data occupies.
pub fn rss_bytes() -> Option<u64> {
    // SAFETY: mi_collect only walks the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
