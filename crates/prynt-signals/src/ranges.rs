//! IP range feeds: who operates an address range (hosting, VPN, Tor, relays, crawlers) and which
//! autonomous system announces it. Ranges are kept sorted by start and found by binary search;
//! nested or overlapping ranges are allowed and the narrowest one wins.
//!
//! Formats read here:
//! - iporigin's `ranges.bin` (little-endian header `IPORIGIN`, version u16, built_at u64,
//!   n_labels u16, n_v4 u32, n_v6 u32; labels as u16 length + `provider\tkind`; v4 records
//!   start u32, end u32, label u16; v6 records start and end as 16 big-endian bytes, label u16);
//! - operators' own range files: one `CIDR|FIRST-LAST,provider,kind` per line, `#` comments;
//! - ip-location-db's ASN CSV: `first,last,asn,organisation` with quoted organisations.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::SignalsError;

/// What a range feed says an operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeKind {
    Hosting,
    Cdn,
    Vpn,
    Tor,
    /// Known crawlers and bots.
    Bot,
    /// Privacy relays such as iCloud Private Relay.
    Relay,
    /// Open or commercial proxies.
    Proxy,
    /// Abuse feeds: addresses seen attacking, spamming or scraping.
    Abuse,
}

impl RangeKind {
    pub fn parse(s: &str) -> Option<RangeKind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "hosting" | "datacenter" => RangeKind::Hosting,
            "cdn" => RangeKind::Cdn,
            "vpn" => RangeKind::Vpn,
            "tor" => RangeKind::Tor,
            "bot" | "crawler" => RangeKind::Bot,
            "relay" => RangeKind::Relay,
            "proxy" => RangeKind::Proxy,
            "abuse" | "blocklist" => RangeKind::Abuse,
            _ => return None,
        })
    }
}

/// An operator as a range feed names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub provider: String,
    pub kind: RangeKind,
}

/// Sorted, possibly nested ranges over one address width.
#[derive(Debug)]
struct Table<K> {
    /// (first, last, label), sorted by first then by last descending.
    rows: Vec<(K, K, u32)>,
    /// For each row, the largest `last` among it and every row before it: a search can stop
    /// walking back once this falls below the address.
    reach: Vec<K>,
}

impl<K: Ord + Copy> Table<K> {
    fn new(mut rows: Vec<(K, K, u32)>) -> Table<K> {
        rows.retain(|r| r.0 <= r.1);
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut reach = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            reach.push(if i == 0 { r.1 } else { r.1.max(reach[i - 1]) });
        }
        Table { rows, reach }
    }

    /// The labels of every range holding `ip`, narrowest first.
    fn find_all(&self, ip: K, width: impl Fn(K, K) -> u128) -> Vec<u32> {
        let mut i = self.rows.partition_point(|r| r.0 <= ip);
        let mut hits: Vec<(u128, u32)> = Vec::new();
        while i > 0 {
            i -= 1;
            if self.reach[i] < ip {
                break;
            }
            let (first, last, label) = self.rows[i];
            if last >= ip {
                hits.push((width(first, last), label));
            }
        }
        hits.sort_unstable();
        hits.into_iter().map(|(_, l)| l).collect()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

fn v4_width(a: u32, b: u32) -> u128 {
    u128::from(b - a)
}

fn v6_width(a: u128, b: u128) -> u128 {
    b - a
}

/// Ranges of both IP versions with a label per range.
#[derive(Debug)]
struct Ranges<L> {
    labels: Vec<L>,
    v4: Table<u32>,
    v6: Table<u128>,
}

impl<L> Ranges<L> {
    fn find_all(&self, ip: IpAddr) -> impl Iterator<Item = &L> {
        let labels = match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.find_all(u32::from(a), v4_width),
            IpAddr::V6(a) => self.v6.find_all(u128::from(a), v6_width),
        };
        labels
            .into_iter()
            .filter_map(|l| self.labels.get(l as usize))
    }
}

/// The operator feeds: iporigin's seed data plus any files the operator adds.
#[derive(Debug)]
pub struct OperatorRanges {
    ranges: Ranges<Operator>,
}

impl OperatorRanges {
    /// Reads iporigin's `ranges.bin` (when given) and each extra range file.
    pub fn load(bin: Option<&Path>, extra: &[&Path]) -> Result<OperatorRanges, SignalsError> {
        let mut labels = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        if let Some(path) = bin {
            let bytes = std::fs::read(path).map_err(|e| SignalsError::data(path, e))?;
            parse_iporigin(&bytes, &mut labels, &mut v4, &mut v6)
                .map_err(|m| SignalsError::data(path, m))?;
        }
        for path in extra {
            let text = std::fs::read_to_string(path).map_err(|e| SignalsError::data(path, e))?;
            parse_range_file(&text, &mut labels, &mut v4, &mut v6)
                .map_err(|m| SignalsError::data(path, m))?;
        }
        Ok(OperatorRanges {
            ranges: Ranges {
                labels,
                v4: Table::new(v4),
                v6: Table::new(v6),
            },
        })
    }

    /// The operator of the narrowest known range holding `ip`.
    pub fn find(&self, ip: IpAddr) -> Option<&Operator> {
        self.ranges.find_all(ip).next()
    }

    /// Every feed entry holding `ip`, narrowest first: an address can be a hosting range and on
    /// an abuse feed at once.
    pub fn find_all(&self, ip: IpAddr) -> Vec<&Operator> {
        self.ranges.find_all(ip).collect()
    }

    /// Ranges loaded, IPv4 and IPv6.
    pub fn len(&self) -> usize {
        self.ranges.v4.len() + self.ranges.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u128_be(&mut self) -> Result<u128, String> {
        let b = self.take(16)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(u128::from_be_bytes(a))
    }
}

fn parse_iporigin(
    bytes: &[u8],
    labels: &mut Vec<Operator>,
    v4: &mut Vec<(u32, u32, u32)>,
    v6: &mut Vec<(u128, u128, u32)>,
) -> Result<(), String> {
    let mut c = Cursor { bytes, at: 0 };
    if c.take(8)? != b"IPORIGIN" {
        return Err("not an iporigin ranges file (bad magic)".into());
    }
    let version = c.u16()?;
    if version != 1 {
        return Err(format!("unsupported iporigin ranges version {version}"));
    }
    c.take(8)?; // built_at
    let n_labels = c.u16()?;
    let n_v4 = c.u32()?;
    let n_v6 = c.u32()?;
    let base = labels.len() as u32;
    for _ in 0..n_labels {
        let len = c.u16()? as usize;
        let text = std::str::from_utf8(c.take(len)?).map_err(|_| "label is not UTF-8")?;
        let (provider, kind) = text.split_once('\t').unwrap_or((text, ""));
        // Unknown kinds stay as hosting: a range someone operates is not a residential line.
        let kind = RangeKind::parse(kind).unwrap_or(RangeKind::Hosting);
        labels.push(Operator {
            provider: provider.to_owned(),
            kind,
        });
    }
    let check = |label: u16| {
        if label >= n_labels {
            Err(format!("range label {label} out of {n_labels}"))
        } else {
            Ok(base + u32::from(label))
        }
    };
    for _ in 0..n_v4 {
        let (first, last) = (c.u32()?, c.u32()?);
        let label = check(c.u16()?)?;
        v4.push((first, last, label));
    }
    for _ in 0..n_v6 {
        let (first, last) = (c.u128_be()?, c.u128_be()?);
        let label = check(c.u16()?)?;
        v6.push((first, last, label));
    }
    Ok(())
}

/// Parses `CIDR` or `FIRST-LAST` into an inclusive range of one IP version.
pub fn parse_range(text: &str) -> Option<(IpAddr, IpAddr)> {
    let text = text.trim();
    if let Some((first, last)) = text.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        return (a.is_ipv4() == b.is_ipv4()).then_some((a, b));
    }
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let a = text.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    match addr {
        IpAddr::V4(a) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let first = u32::from(a) & mask;
            Some((
                IpAddr::V4(Ipv4Addr::from(first)),
                IpAddr::V4(Ipv4Addr::from(first | !mask)),
            ))
        }
        IpAddr::V6(a) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let first = u128::from(a) & mask;
            Some((
                IpAddr::V6(Ipv6Addr::from(first)),
                IpAddr::V6(Ipv6Addr::from(first | !mask)),
            ))
        }
        _ => None,
    }
}

fn push_range(
    first: IpAddr,
    last: IpAddr,
    label: u32,
    v4: &mut Vec<(u32, u32, u32)>,
    v6: &mut Vec<(u128, u128, u32)>,
) {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => v4.push((u32::from(a), u32::from(b), label)),
        (IpAddr::V6(a), IpAddr::V6(b)) => v6.push((u128::from(a), u128::from(b), label)),
        _ => {}
    }
}

fn parse_range_file(
    text: &str,
    labels: &mut Vec<Operator>,
    v4: &mut Vec<(u32, u32, u32)>,
    v6: &mut Vec<(u128, u128, u32)>,
) -> Result<(), String> {
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(',');
        let (range, provider, kind) = (parts.next(), parts.next(), parts.next());
        let bad = || format!("line {}: expected RANGE,provider,kind, got {line:?}", n + 1);
        let (first, last) = range.and_then(parse_range).ok_or_else(bad)?;
        let kind = kind.and_then(RangeKind::parse).ok_or_else(bad)?;
        let provider = provider
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(bad)?;
        labels.push(Operator {
            provider: provider.to_owned(),
            kind,
        });
        push_range(first, last, (labels.len() - 1) as u32, v4, v6);
    }
    Ok(())
}

/// The autonomous system announcing an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsInfo {
    pub asn: u32,
    pub name: String,
}

/// ASN ranges from ip-location-db's CSV files.
#[derive(Debug)]
pub struct AsnRanges {
    ranges: Ranges<AsInfo>,
}

impl AsnRanges {
    /// Reads `first,last,asn,organisation` CSV files of either IP version.
    pub fn load(files: &[&Path]) -> Result<AsnRanges, SignalsError> {
        let mut labels: Vec<AsInfo> = Vec::new();
        let mut by_key: std::collections::HashMap<(u32, String), u32> = Default::default();
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for path in files {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_path(path)
                .map_err(|e| SignalsError::data(path, e))?;
            for (n, row) in reader.records().enumerate() {
                let row = row.map_err(|e| SignalsError::data(path, e))?;
                let bad = || SignalsError::data(path, format!("row {}: {row:?}", n + 1));
                let first: IpAddr = row.get(0).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                let last: IpAddr = row.get(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                let asn: u32 = row.get(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                let name = row.get(3).unwrap_or("").to_owned();
                let next = labels.len() as u32;
                let label = *by_key.entry((asn, name.clone())).or_insert_with(|| {
                    labels.push(AsInfo { asn, name });
                    next
                });
                push_range(first, last, label, &mut v4, &mut v6);
            }
        }
        Ok(AsnRanges {
            ranges: Ranges {
                labels,
                v4: Table::new(v4),
                v6: Table::new(v6),
            },
        })
    }

    pub fn find(&self, ip: IpAddr) -> Option<&AsInfo> {
        self.ranges.find_all(ip).next()
    }

    pub fn len(&self) -> usize {
        self.ranges.v4.len() + self.ranges.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an iporigin `ranges.bin` from labels and ranges.
    pub(crate) fn iporigin_bin(
        labels: &[&str],
        v4: &[(&str, &str, u16)],
        v6: &[(&str, &str, u16)],
    ) -> Vec<u8> {
        let mut b = b"IPORIGIN".to_vec();
        b.extend(1u16.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend((labels.len() as u16).to_le_bytes());
        b.extend((v4.len() as u32).to_le_bytes());
        b.extend((v6.len() as u32).to_le_bytes());
        for l in labels {
            b.extend((l.len() as u16).to_le_bytes());
            b.extend(l.as_bytes());
        }
        for (a, z, l) in v4 {
            b.extend(u32::from(a.parse::<Ipv4Addr>().unwrap()).to_le_bytes());
            b.extend(u32::from(z.parse::<Ipv4Addr>().unwrap()).to_le_bytes());
            b.extend(l.to_le_bytes());
        }
        for (a, z, l) in v6 {
            b.extend(a.parse::<Ipv6Addr>().unwrap().octets());
            b.extend(z.parse::<Ipv6Addr>().unwrap().octets());
            b.extend(l.to_le_bytes());
        }
        b
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn iporigin_ranges_and_extra_files_are_found_narrowest_first() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("ranges.bin");
        std::fs::write(
            &bin,
            iporigin_bin(
                &["ExampleCloud\thosting", "NordVPN\tvpn", "Tor\ttor"],
                &[
                    ("10.0.0.0", "10.255.255.255", 0),
                    ("10.1.0.0", "10.1.0.255", 1),
                    ("185.220.101.0", "185.220.101.255", 2),
                ],
                &[("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1)],
            ),
        )
        .unwrap();
        let extra = dir.path().join("mine.txt");
        std::fs::write(&extra, "# our own\n203.0.113.0/24, Acme Proxy, proxy\n198.51.100.7-198.51.100.9,Abuse feed,abuse\n").unwrap();
        let r = OperatorRanges::load(Some(&bin), &[&extra]).unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!(r.find(ip("10.2.3.4")).unwrap().kind, RangeKind::Hosting);
        let vpn = r.find(ip("10.1.0.9")).unwrap();
        assert_eq!(
            (vpn.provider.as_str(), vpn.kind),
            ("NordVPN", RangeKind::Vpn),
            "the nested range wins"
        );
        assert_eq!(
            r.find(ip("10.1.1.0")).unwrap().kind,
            RangeKind::Hosting,
            "past the nested range, the outer one"
        );
        assert_eq!(r.find(ip("185.220.101.77")).unwrap().kind, RangeKind::Tor);
        assert_eq!(r.find(ip("2001:db8::42")).unwrap().kind, RangeKind::Vpn);
        assert_eq!(
            r.find(ip("::ffff:203.0.113.5")).unwrap().provider,
            "Acme Proxy"
        );
        assert_eq!(r.find(ip("198.51.100.9")).unwrap().kind, RangeKind::Abuse);
        let all: Vec<RangeKind> = r.find_all(ip("10.1.0.9")).iter().map(|o| o.kind).collect();
        assert_eq!(all, vec![RangeKind::Vpn, RangeKind::Hosting]);
        assert!(r.find(ip("198.51.100.10")).is_none());
        assert!(r.find(ip("11.0.0.0")).is_none());
        assert!(r.find(ip("9.255.255.255")).is_none());
    }

    #[test]
    fn broken_feeds_are_refused_with_the_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("ranges.bin");
        let mut good = iporigin_bin(&["A\tvpn"], &[("1.0.0.0", "1.0.0.255", 0)], &[]);
        good.truncate(good.len() - 3);
        std::fs::write(&bin, &good).unwrap();
        let e = OperatorRanges::load(Some(&bin), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ranges.bin") && e.contains("truncated"), "{e}");
        std::fs::write(
            &bin,
            iporigin_bin(&["A\tvpn"], &[("1.0.0.0", "1.0.0.255", 5)], &[]),
        )
        .unwrap();
        let e = OperatorRanges::load(Some(&bin), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 5"), "{e}");
        let txt = dir.path().join("x.txt");
        std::fs::write(&txt, "1.2.3.0/24,Someone,martian\n").unwrap();
        let e = OperatorRanges::load(None, &[&txt]).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn ranges_parse_from_cidr_or_first_last() {
        assert_eq!(
            parse_range("192.0.2.0/24"),
            Some((ip("192.0.2.0"), ip("192.0.2.255")))
        );
        assert_eq!(
            parse_range("192.0.2.9"),
            Some((ip("192.0.2.9"), ip("192.0.2.9")))
        );
        assert_eq!(
            parse_range("2001:db8::/126"),
            Some((ip("2001:db8::"), ip("2001:db8::3")))
        );
        assert_eq!(
            parse_range("0.0.0.0/0"),
            Some((ip("0.0.0.0"), ip("255.255.255.255")))
        );
        assert_eq!(parse_range("1.1.1.1-::1"), None);
        assert_eq!(parse_range("1.1.1.1/33"), None);
        assert_eq!(parse_range("nonsense"), None);
    }

    #[test]
    fn asn_csv_rows_are_found_with_quoted_names() {
        let dir = tempfile::tempdir().unwrap();
        let v4 = dir.path().join("asn-ipv4.csv");
        std::fs::write(
            &v4,
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n8.8.8.0,8.8.8.255,15169,Google LLC\n",
        )
        .unwrap();
        let v6 = dir.path().join("asn-ipv6.csv");
        std::fs::write(
            &v6,
            "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n",
        )
        .unwrap();
        let a = AsnRanges::load(&[&v4, &v6]).unwrap();
        assert_eq!(a.find(ip("1.0.0.1")).unwrap().name, "Cloudflare, Inc.");
        assert_eq!(a.find(ip("8.8.8.8")).unwrap().asn, 15169);
        assert_eq!(a.find(ip("2001:4860::8888")).unwrap().asn, 15169);
        assert!(a.find(ip("8.8.9.0")).is_none());
        std::fs::write(&v4, "1.0.0.0,not-an-ip,1,x\n").unwrap();
        assert!(AsnRanges::load(&[&v4])
            .unwrap_err()
            .to_string()
            .contains("row 1"));
    }
}
