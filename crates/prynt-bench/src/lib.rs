//! Prynt's benchmarks and the synthetic data they run on, apart from the product: the `prynt`
//! binary and the engine crates carry no benchmark code.
//!
//! - [`synth`]: a synthetic browser population (devices, drift between visits).
//! - [`accuracy`]: identification accuracy beside the exact hash and FP-Stalker, on the
//!   synthetic population or a recorded one; [`matching`]: match latency and index memory.
//!   Both call the engine crates' public APIs in this process.
//! - [`identify`], [`webhooks`]: HTTP load against a real `prynt serve` process that they start
//!   (see [`server`]); they reach the server only through its API. [`scale_out`]: the same load
//!   on one node on SQLite, one on PostgreSQL and two on one PostgreSQL database, and how fast
//!   changes and new visitors cross from one node to the other.
//! - [`seed`]: fills a store with synthetic events through `prynt-store`'s write path.
//! - [`crash`], [`soak`]: reliability runs against a real `prynt serve` (SIGKILLs under load
//!   with nothing acknowledged lost; a long run at a share of capacity with memory flat).
//!
//! Every benchmark prints a human summary and, last, one JSON line ([`emit`]).

pub mod accuracy;
pub mod crash;
mod forest;
mod fp_stalker;
pub mod identify;
mod load;
pub mod matching;
mod node;
mod recorded;
pub mod scale_out;
pub mod seed;
pub mod server;
pub mod soak;
pub mod synth;
pub mod webhooks;

/// How a benchmark failed: bad input (the binary exits with 2) or a failure while running (1).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

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
/// figure is what live data occupies. Meaningful when mimalloc is the global allocator, as in
/// the `prynt-bench` binary (and in `prynt`, whose index the figure stands for).
pub fn rss_bytes() -> Option<u64> {
    // SAFETY: mi_collect only walks the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
