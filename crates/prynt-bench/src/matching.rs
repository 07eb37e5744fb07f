//! `prynt-bench match`: match latency and index memory at a million known visitors.

use std::time::Instant;

use crate::synth::{Device, Rng};
use prynt_identify::{Fingerprint, Index, Method, ModelParams};
use prynt_signals::device::DeviceParser;
use serde_json::json;

use crate::BenchError;

fn fingerprint(parser: &DeviceParser, d: &Device) -> Fingerprint {
    super::fingerprint(parser, &d.components())
}

pub fn run(visitors: usize, queries: usize) -> Result<(), BenchError> {
    let parser = DeviceParser::shared().map_err(BenchError::Runtime)?;
    let mut rng = Rng::new(42);
    // Fingerprints are computed up front so that only the index is measured.
    let t0 = Instant::now();
    let mut devices = Vec::with_capacity(visitors);
    let mut prints = Vec::with_capacity(visitors);
    // Networks from a stream of their own: most visitors on a home network of their own or
    // of a household of two, the rest on a few hundred mobile carriers' shared ones.
    let mut net_rng = Rng::new(43);
    let mut network = |i: usize| -> u32 {
        let ip: [u8; 4] = if net_rng.chance(0.3) {
            [100, 64, net_rng.below(256) as u8, 0]
        } else {
            (0x5100_0000u32 + (i as u32 / 2) * 256).to_be_bytes()
        };
        prynt_identify::fingerprint::network_key(std::net::IpAddr::from(ip))
    };
    for i in 0..visitors {
        let d = Device::random(&mut rng);
        // Two visitors in three were seen on another network before their latest (a phone's
        // mobile data, a laptop's office), which the index counts too; the key itself picks
        // which, so that the devices' random stream does not move.
        let net_before = match network(2 * visitors + i) {
            n if n % 3 == 0 => 0,
            n => n,
        };
        prints.push(Fingerprint {
            net: network(i),
            net_before,
            ..fingerprint(parser, &d)
        });
        devices.push(d);
    }
    let gen_ms = t0.elapsed().as_millis();

    let rss_before = super::rss_bytes().unwrap_or(0);
    let t1 = Instant::now();
    let mut index = Index::new(ModelParams::default());
    for (i, fp) in prints.iter().enumerate() {
        index.upsert(&format!("pv_{i:013}"), fp, 0, prynt_identify::Method::New);
    }
    let build_ms = t1.elapsed().as_millis();
    let rss_after = super::rss_bytes().unwrap_or(0);
    let heap = index.heap_bytes();

    // Queries: returning devices that drifted (screen, time zone, browser upgrade) and strangers.
    let mut times = Vec::with_capacity(queries);
    let (mut linked, mut new) = (0usize, 0usize);
    for q in 0..queries {
        // Strangers on a network of their own, returns on their own about half the time.
        let fp = if q % 4 == 3 {
            Fingerprint {
                net: network(visitors + q),
                ..fingerprint(parser, &Device::random(&mut rng))
            }
        } else {
            let i = rng.below(visitors);
            let mut d = devices[i].clone();
            if rng.chance(0.3) {
                d.browser_major += 1;
            }
            if rng.chance(0.2) {
                d.screen = (2560, 1440);
            }
            Fingerprint {
                net: if q % 2 == 0 {
                    prints[i].net
                } else {
                    network(i)
                },
                ..fingerprint(parser, &d)
            }
        };
        let t = Instant::now();
        // Queried a fortnight after the visitors were indexed.
        let out = index.find(&fp, 14 * 86_400_000);
        times.push(t.elapsed().as_nanos() as u64);
        match out.method {
            Method::New => new += 1,
            _ => linked += 1,
        }
    }
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    let p50 = pct(0.50);
    let p99 = pct(0.99);
    let bytes_heap = heap as f64 / visitors as f64;
    let bytes_rss = rss_after.saturating_sub(rss_before) as f64 / visitors as f64;
    // The larger of the two honest estimates is reported.
    let per_visitor = bytes_heap.max(bytes_rss);
    super::emit(
        &format!(
            "match: {visitors} visitors (generated in {gen_ms} ms, indexed in {build_ms} ms); \
             {queries} queries: p50 {p50:.1} µs, p99 {p99:.1} µs ({linked} linked, {new} new); \
             index memory {bytes_heap:.0} B/visitor by capacity, {bytes_rss:.0} B/visitor by RSS"
        ),
        json!({
            "visitors": visitors,
            "p99Us": (p99 * 10.0).round() / 10.0,
            "bytesPerVisitor": per_visitor.round(),
        }),
    );
    Ok(())
}
