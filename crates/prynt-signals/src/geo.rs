//! IP geolocation from MaxMind-format (MMDB) city databases: DB-IP City Lite as packaged by
//! ip-location-db (flat records, one file per IP version) by default, or an operator's own
//! GeoIP2/GeoLite2 City file (nested records, both IP versions in one file).

use std::net::IpAddr;
use std::path::Path;

use maxminddb::Reader;
use serde::Deserialize;

use crate::SignalsError;

/// Where an address is, as far as the database knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// IANA time zone of the location, when the database has one.
    pub timezone: Option<String>,
}

/// A flat DB-IP record: `country_code, state1, state2, city, postcode, latitude, longitude,
/// timezone`, coordinates as 32-bit floats.
#[derive(Deserialize)]
struct DbipRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
    latitude: Option<f32>,
    longitude: Option<f32>,
    #[serde(borrow)]
    timezone: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct GeoIp2City<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct GeoIp2Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct GeoIp2Location<'a> {
    latitude: Option<f64>,
    longitude: Option<f64>,
    #[serde(borrow)]
    time_zone: Option<&'a str>,
}

/// A nested GeoIP2/GeoLite2 City record.
#[derive(Deserialize)]
struct GeoIp2Record<'a> {
    #[serde(borrow)]
    city: Option<GeoIp2City<'a>>,
    #[serde(borrow)]
    country: Option<GeoIp2Country<'a>>,
    #[serde(borrow)]
    location: Option<GeoIp2Location<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Dbip,
    GeoIp2,
}

struct Db {
    reader: Reader<Vec<u8>>,
    layout: Layout,
}

impl Db {
    fn open(path: &Path) -> Result<Db, SignalsError> {
        let reader = Reader::open_readfile(path).map_err(|e| SignalsError::Data {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let kind = reader.metadata().database_type.to_ascii_lowercase();
        let layout = if kind.contains("geoip2") || kind.contains("geolite2") {
            Layout::GeoIp2
        } else {
            Layout::Dbip
        };
        Ok(Db { reader, layout })
    }

    fn is_v6(&self) -> bool {
        self.reader.metadata().ip_version == 6
    }

    fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let found = self.reader.lookup(ip).ok()?;
        match self.layout {
            Layout::Dbip => {
                let r: DbipRecord = found.decode().ok()??;
                Some(Location {
                    country: text(r.country_code).map(|c| c.to_ascii_uppercase()),
                    city: text(r.city),
                    lat: r.latitude.map(round_coord),
                    lng: r.longitude.map(round_coord),
                    timezone: text(r.timezone),
                })
            }
            Layout::GeoIp2 => {
                let r: GeoIp2Record = found.decode().ok()??;
                let loc = r.location;
                Some(Location {
                    country: text(r.country.and_then(|c| c.iso_code))
                        .map(|c| c.to_ascii_uppercase()),
                    city: text(r.city.and_then(|c| c.names).and_then(|n| n.en)),
                    lat: loc.as_ref().and_then(|l| l.latitude),
                    lng: loc.as_ref().and_then(|l| l.longitude),
                    timezone: text(loc.and_then(|l| l.time_zone)),
                })
            }
        }
    }
}

/// Databases write an empty string for an unknown value.
fn text(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// 32-bit floats print as 37.774898529052734; four decimals is about 11 m, finer than any city
/// database is accurate.
fn round_coord(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}

/// One or two city databases, asked by IP version.
pub struct GeoDb {
    v4: Option<Db>,
    v6: Option<Db>,
}

impl GeoDb {
    /// Opens the given files. A file whose metadata says IPv6 serves IPv6 addresses, and IPv4
    /// too when it is the only file (GeoIP2 files hold both); an IPv4 file serves IPv4.
    pub fn open(files: &[&Path]) -> Result<GeoDb, SignalsError> {
        let mut db = GeoDb { v4: None, v6: None };
        for path in files {
            let opened = Db::open(path)?;
            if opened.is_v6() {
                db.v6 = Some(opened);
            } else {
                db.v4 = Some(opened);
            }
        }
        Ok(db)
    }

    /// Where `ip` is. IPv4-mapped IPv6 addresses are looked up as IPv4: the DB-IP IPv6 file
    /// holds no IPv4 data.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        match ip.to_canonical() {
            v4 @ IpAddr::V4(_) => match (&self.v4, &self.v6) {
                (Some(db), _) => db.lookup(v4),
                (None, Some(db)) if db.layout == Layout::GeoIp2 => db.lookup(v4),
                _ => None,
            },
            v6 => self.v6.as_ref()?.lookup(v6),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use maxminddb_writer::metadata::IpVersion;
    use maxminddb_writer::paths::IpAddrWithMask;
    use maxminddb_writer::Database;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Dbip {
        country_code: &'static str,
        city: &'static str,
        latitude: f32,
        longitude: f32,
        timezone: &'static str,
    }

    /// Writes a tiny DB-IP-shaped database with the given networks.
    pub(crate) fn write_dbip(
        path: &Path,
        version: IpVersion,
        nets: &[(&str, u8, &'static str, &'static str, f32, f32, &'static str)],
    ) {
        let mut db = Database::default();
        db.metadata.ip_version = version;
        db.metadata.database_type = "dbip-city".into();
        db.metadata.binary_format_major_version = 2;
        for (addr, mask, country, city, lat, lng, tz) in nets {
            let data = db
                .insert_value(Dbip {
                    country_code: country,
                    city,
                    latitude: *lat,
                    longitude: *lng,
                    timezone: tz,
                })
                .expect("value");
            db.insert_node(IpAddrWithMask::new(addr.parse().expect("ip"), *mask), data);
        }
        let file = std::fs::File::create(path).expect("create");
        db.write_to(std::io::BufWriter::new(file)).expect("write");
    }

    #[test]
    fn dbip_v4_and_v6_files_answer_by_version() {
        let dir = tempfile::tempdir().expect("dir");
        let v4 = dir.path().join("v4.mmdb");
        let v6 = dir.path().join("v6.mmdb");
        write_dbip(
            &v4,
            IpVersion::V4,
            &[(
                "8.8.8.0",
                24,
                "US",
                "Mountain View",
                37.386,
                -122.0838,
                "America/Los_Angeles",
            )],
        );
        write_dbip(
            &v6,
            IpVersion::V6,
            &[(
                "2a00:1450::",
                32,
                "ie",
                "Dublin",
                53.3498,
                -6.2603,
                "Europe/Dublin",
            )],
        );
        let geo = GeoDb::open(&[&v4, &v6]).expect("open");
        let us = geo.lookup("8.8.8.8".parse().unwrap()).expect("found");
        assert_eq!(us.country.as_deref(), Some("US"));
        assert_eq!(us.city.as_deref(), Some("Mountain View"));
        assert_eq!(us.lat, Some(37.386));
        assert_eq!(us.lng, Some(-122.0838));
        assert_eq!(us.timezone.as_deref(), Some("America/Los_Angeles"));
        // An IPv4-mapped address is the IPv4 address.
        let mapped = geo
            .lookup("::ffff:8.8.8.8".parse().unwrap())
            .expect("mapped");
        assert_eq!(mapped.country.as_deref(), Some("US"));
        let ie = geo
            .lookup("2a00:1450:4001::1".parse().unwrap())
            .expect("v6");
        assert_eq!(
            ie.country.as_deref(),
            Some("IE"),
            "country codes are upper-cased"
        );
        assert!(geo.lookup("9.9.9.9".parse().unwrap()).is_none());
        assert!(geo.lookup("2001:db8::1".parse().unwrap()).is_none());
    }

    #[derive(Serialize)]
    struct G2 {
        city: G2City,
        country: G2Country,
        location: G2Loc,
    }
    #[derive(Serialize)]
    struct G2City {
        names: std::collections::BTreeMap<&'static str, &'static str>,
    }
    #[derive(Serialize)]
    struct G2Country {
        iso_code: &'static str,
    }
    #[derive(Serialize)]
    struct G2Loc {
        latitude: f64,
        longitude: f64,
        time_zone: &'static str,
    }

    #[test]
    fn geoip2_city_files_are_read_for_both_versions() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("GeoLite2-City.mmdb");
        let mut db = Database::default();
        db.metadata.ip_version = IpVersion::V6;
        db.metadata.database_type = "GeoLite2-City".into();
        db.metadata.binary_format_major_version = 2;
        let data = db
            .insert_value(G2 {
                city: G2City {
                    names: [("en", "Berlin"), ("de", "Berlin")].into_iter().collect(),
                },
                country: G2Country { iso_code: "DE" },
                location: G2Loc {
                    latitude: 52.52,
                    longitude: 13.405,
                    time_zone: "Europe/Berlin",
                },
            })
            .expect("value");
        // IPv4 lives at ::a.b.c.d in a GeoIP2 tree.
        db.insert_node(IpAddrWithMask::new("::5.1.0.0".parse().unwrap(), 112), data);
        db.insert_node(
            IpAddrWithMask::new("2a02:8100::".parse().unwrap(), 32),
            data,
        );
        let file = std::fs::File::create(&path).expect("create");
        db.write_to(std::io::BufWriter::new(file)).expect("write");

        let geo = GeoDb::open(&[&path]).expect("open");
        let v6 = geo.lookup("2a02:8100::7".parse().unwrap()).expect("v6");
        assert_eq!(v6.country.as_deref(), Some("DE"));
        assert_eq!(v6.city.as_deref(), Some("Berlin"));
        assert_eq!(v6.timezone.as_deref(), Some("Europe/Berlin"));
        let v4 = geo
            .lookup("5.1.2.3".parse().unwrap())
            .expect("v4 in a v6 tree");
        assert_eq!(v4.lat, Some(52.52));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("junk.mmdb");
        std::fs::write(&path, b"not a database").expect("write");
        let err = GeoDb::open(&[&path]).err().expect("error");
        assert!(err.to_string().contains("junk.mmdb"), "{err}");
    }
}
