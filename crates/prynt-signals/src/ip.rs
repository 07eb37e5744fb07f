//! IP intelligence for one address: location, announcing network, the operator a range feed
//! names, and whether the address sits in a data centre. Every source is optional: what is not
//! loaded answers `None`, never a guess.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::geo::{GeoDb, Location};
use crate::ranges::{AsInfo, AsnRanges, Operator, OperatorRanges, RangeKind};
use crate::SignalsError;

/// Autonomous systems of hosting and cloud providers: an address they announce is a data
/// centre even where no range feed lists it. Curated, not exhaustive.
pub const HOSTING_ASNS: &[u32] = &[
    16509, 14618, 8987, // Amazon
    396982, 19527, // Google Cloud
    8075, 8068,  // Microsoft Azure
    14061, // DigitalOcean
    16276, // OVH
    24940, // Hetzner
    63949, // Akamai Connected Cloud (Linode)
    20473, // Vultr
    45102, 37963, // Alibaba Cloud
    31898, // Oracle Cloud
    12876, // Scaleway
    51167, // Contabo
    60781, 16265, 28753, // Leaseweb
    132203, 45090,  // Tencent Cloud
    36351,  // IBM Cloud (SoftLayer)
    9009,   // M247
    62240,  // Clouvider
    212238, // Datacamp
    53667,  // FranTech (BuyVM)
    40021,  // Contabo US
    46606,  // Unified Layer
    135377, // UCloud
    7506,   // GMO Internet
    203020, // HostRoyale
];

/// Where each data source lives; any may be absent.
#[derive(Debug, Clone, Default)]
pub struct IpDataFiles {
    /// City databases (MMDB): DB-IP's two files, or one GeoIP2/GeoLite2 City file.
    pub city: Vec<PathBuf>,
    /// ASN CSV files.
    pub asn: Vec<PathBuf>,
    /// iporigin's `ranges.bin`.
    pub ranges_bin: Option<PathBuf>,
    /// Operators' own range files.
    pub extra_ranges: Vec<PathBuf>,
}

/// What is known about one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpInfo {
    pub location: Option<Location>,
    pub asn: Option<AsInfo>,
    /// Every feed entry holding the address, narrowest range first.
    pub operators: Vec<Operator>,
    /// A hosting range or a hosting provider's network.
    pub datacenter: bool,
}

impl IpInfo {
    /// The provider of the narrowest range of `kind` holding the address.
    pub fn provider(&self, kind: RangeKind) -> Option<&str> {
        self.operators
            .iter()
            .find(|o| o.kind == kind)
            .map(|o| o.provider.as_str())
    }

    pub fn has(&self, kind: RangeKind) -> bool {
        self.operators.iter().any(|o| o.kind == kind)
    }
}

/// The loaded sources.
pub struct IpIntel {
    geo: Option<GeoDb>,
    asn: Option<AsnRanges>,
    ranges: Option<OperatorRanges>,
}

fn paths(v: &[PathBuf]) -> Vec<&Path> {
    v.iter().map(PathBuf::as_path).collect()
}

impl IpIntel {
    /// Nothing loaded: every lookup answers an empty [`IpInfo`].
    pub fn empty() -> IpIntel {
        IpIntel {
            geo: None,
            asn: None,
            ranges: None,
        }
    }

    pub fn load(files: &IpDataFiles) -> Result<IpIntel, SignalsError> {
        let geo = match files.city.as_slice() {
            [] => None,
            city => Some(GeoDb::open(&paths(city))?),
        };
        let asn = match files.asn.as_slice() {
            [] => None,
            asn => Some(AsnRanges::load(&paths(asn))?),
        };
        let ranges = if files.ranges_bin.is_none() && files.extra_ranges.is_empty() {
            None
        } else {
            let extra = paths(&files.extra_ranges);
            Some(OperatorRanges::load(files.ranges_bin.as_deref(), &extra)?)
        };
        Ok(IpIntel { geo, asn, ranges })
    }

    /// Whether a city database is loaded.
    pub fn has_geo(&self) -> bool {
        self.geo.is_some()
    }

    /// Whether ASN data is loaded.
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// Whether any range feed is loaded.
    pub fn has_ranges(&self) -> bool {
        self.ranges.is_some()
    }

    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let ip = ip.to_canonical();
        let location = self.geo.as_ref().and_then(|g| g.lookup(ip));
        let asn = self.asn.as_ref().and_then(|a| a.find(ip)).cloned();
        let operators: Vec<Operator> = self
            .ranges
            .as_ref()
            .map(|r| r.find_all(ip).into_iter().cloned().collect())
            .unwrap_or_default();
        let datacenter = operators
            .iter()
            .any(|o| matches!(o.kind, RangeKind::Hosting | RangeKind::Cdn))
            || asn.as_ref().is_some_and(|a| HOSTING_ASNS.contains(&a.asn));
        IpInfo {
            location,
            asn,
            operators,
            datacenter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb_writer::metadata::IpVersion;

    #[test]
    fn sources_combine_and_absent_sources_answer_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let city = dir.path().join("v4.mmdb");
        crate::geo::tests::write_dbip(
            &city,
            IpVersion::V4,
            &[(
                "203.0.113.0",
                24,
                "DE",
                "Frankfurt am Main",
                50.11,
                8.68,
                "Europe/Berlin",
            )],
        );
        let asn = dir.path().join("asn.csv");
        std::fs::write(&asn, "203.0.113.0,203.0.113.255,24940,Hetzner Online GmbH\n198.51.100.0,198.51.100.255,3320,Deutsche Telekom AG\n").unwrap();
        let extra = dir.path().join("mine.txt");
        std::fs::write(&extra, "198.51.100.0/28,ExampleVPN,vpn\n").unwrap();
        let intel = IpIntel::load(&IpDataFiles {
            city: vec![city],
            asn: vec![asn],
            ranges_bin: None,
            extra_ranges: vec![extra],
        })
        .unwrap();
        let dc = intel.lookup("203.0.113.5".parse().unwrap());
        assert_eq!(dc.location.as_ref().unwrap().country.as_deref(), Some("DE"));
        assert_eq!(dc.asn.as_ref().unwrap().asn, 24940);
        assert!(dc.datacenter, "a hosting ASN is a data centre");
        let home = intel.lookup("198.51.100.200".parse().unwrap());
        assert!(!home.datacenter);
        assert!(home.operators.is_empty());
        let vpn = intel.lookup("198.51.100.3".parse().unwrap());
        assert_eq!(vpn.provider(RangeKind::Vpn), Some("ExampleVPN"));
        assert!(vpn.has(RangeKind::Vpn) && !vpn.has(RangeKind::Tor));
        assert!(
            !vpn.datacenter,
            "a VPN range is not by itself a hosting range"
        );

        let none = IpIntel::empty().lookup("203.0.113.5".parse().unwrap());
        assert_eq!(none, IpInfo::default());
    }
}
