//! The SSRF guard (docs/webhooks.md, OWASP API7): which IP addresses a webhook may be delivered to, and
//! the checks a webhook URL must pass when it is saved and again before each delivery.
//!
//! A webhook URL is chosen by a customer, and the server that follows it sits inside the
//! operator's network; without this guard a URL could reach the cloud metadata service, an admin
//! port on loopback or any internal host. The rule is an allow-list in spirit: an address is
//! refused unless it is ordinary public unicast. Addresses that embed an IPv4 address (mapped,
//! compatible, NAT64, 6to4) are judged by the IPv4 address they lead to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest URL accepted; long enough for any real endpoint, short enough to store and log.
pub const MAX_URL_LEN: usize = 2048;

/// Whether an address may receive webhooks.
///
/// Refused: unspecified, loopback (unless `allow_loopback`), private (10/8, 172.16/12,
/// 192.168/16), link-local (169.254/16 — cloud metadata included — and fe80::/10), CGNAT
/// 100.64/10, 0/8, IETF protocol assignments 192.0.0/24, documentation (192.0.2/24,
/// 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20), benchmarking 198.18/15, the old 6to4
/// relay 192.88.99/24, multicast, reserved 240/4 and broadcast; for IPv6 everything outside global
/// unicast 2000::/3 (unique-local fc00::/7 with fd00:ec2::254, site-local fec0::/10, discard
/// 100::/64, ...), the 2001::/23 block of special assignments (Teredo 2001::/32, benchmarking
/// 2001:2::/48, ORCHID), and any IPv4-mapped or -compatible (::/96), NAT64 (64:ff9b::/96) or
/// 6to4 (2002::/16) address whose IPv4 address is refused. The local-use NAT64 prefix
/// 64:ff9b:1::/48 is refused outright: it translates to whatever the local network decides.
///
/// `allow_loopback` lets 127.0.0.0/8 and ::1 (and ::ffff:127.x) through, for development only.
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => v6_allowed(v6, allow_loopback),
    }
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !refused
}

fn v6_allowed(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    if ip.is_unspecified() {
        return false;
    }
    let seg = ip.segments();
    // ::ffff:a.b.c.d reaches the IPv4 host itself through a dual-stack socket, so the loopback
    // flag applies to it as it would to the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_allowed(v4, allow_loopback);
    }
    // ::a.b.c.d (deprecated IPv4-compatible; :: and ::1 were handled above).
    if seg[..6] == [0; 6] {
        return v4_allowed(embedded_v4(seg[6], seg[7]), false);
    }
    // NAT64 well-known prefix: the translator connects to the embedded IPv4 address on our
    // behalf, so it is judged by that address; loopback through a translator is never ours.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_allowed(embedded_v4(seg[6], seg[7]), false);
    }
    // Only global unicast 2000::/3 is left as a candidate; this refuses ULA, link-local,
    // site-local, multicast, discard-only and the local NAT64 prefix in one step.
    if seg[0] & 0xe000 != 0x2000 {
        return false;
    }
    // 6to4: 2002:AABB:CCDD::/48 leads to the IPv4 address AA.BB.CC.DD.
    if seg[0] == 0x2002 {
        return v4_allowed(embedded_v4(seg[1], seg[2]), false);
    }
    // 2001::/23 holds Teredo, benchmarking and ORCHID; 2001:db8::/32 and 3fff::/20
    // (RFC 9637) are documentation.
    let refused = (seg[0] == 0x2001 && (seg[1] < 0x0200 || seg[1] == 0x0db8))
        || (seg[0] == 0x3fff && seg[1] < 0x1000);
    !refused
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Why a webhook URL was refused; the messages are shown to the customer who entered it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL is not a valid absolute URL: {0}")]
    Invalid(String),
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL must use https (got {0})")]
    Scheme(String),
    #[error("plain http is only allowed for localhost or a loopback address on a server started with the development flag; use https")]
    PlainHttp,
    #[error("the URL must not contain a user name or password")]
    Userinfo,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL must not contain a fragment (#...)")]
    Fragment,
    #[error("refused address {0}: webhooks cannot be sent to private, loopback, link-local or reserved addresses")]
    RefusedAddress(IpAddr),
}

/// Validates a webhook URL at save time: absolute, scheme https — or http only when
/// `allow_loopback` and the host is `localhost` or a loopback IP literal; no userinfo; host
/// present; length ≤ 2048; no fragment. An IP-literal host must pass [`address_allowed`].
/// Returns the normalised URL string.
///
/// Host names are not resolved here: what a name resolves to can change after saving, so names
/// are checked by the delivery client's resolver on every delivery instead.
pub fn check_url(url: &str, allow_loopback: bool) -> Result<String, UrlError> {
    parse_checked(url, allow_loopback).map(String::from)
}

/// [`check_url`] returning the parsed URL, for the delivery client.
pub(crate) fn parse_checked(url: &str, allow_loopback: bool) -> Result<Url, UrlError> {
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let parsed = Url::parse(url).map_err(|e| UrlError::Invalid(e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlError::Userinfo);
    }
    if parsed.fragment().is_some() {
        return Err(UrlError::Fragment);
    }
    let scheme = parsed.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(UrlError::Scheme(scheme.to_string()));
    }
    // The WHATWG parser has already turned `0x7f.1`, `2130706433` and the like into the IPv4
    // address they denote, so literals cannot hide behind unusual spellings.
    let ip = match parsed.host() {
        None => return Err(UrlError::NoHost),
        Some(Host::Domain("")) => return Err(UrlError::NoHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if parsed.scheme() == "http" {
        let loopback_host = match (ip, parsed.host_str()) {
            (Some(ip), _) => ip.is_loopback() || is_mapped_loopback(ip),
            (None, Some(name)) => name == "localhost" || name == "localhost.",
            (None, None) => false,
        };
        if !(allow_loopback && loopback_host) {
            return Err(UrlError::PlainHttp);
        }
    }
    if let Some(ip) = ip {
        if !address_allowed(ip, allow_loopback) {
            return Err(UrlError::RefusedAddress(ip));
        }
    }
    // Normalisation can lengthen a URL (percent-encoding), so the limit applies to what is kept.
    if parsed.as_str().len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    Ok(parsed)
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_table() {
        // (address, allowed without the flag, allowed with it)
        let table: &[(&str, bool, bool)] = &[
            ("8.8.8.8", true, true),
            ("1.1.1.1", true, true),
            ("172.32.0.1", true, true),
            ("172.15.255.255", true, true),
            ("100.128.0.1", true, true),
            ("100.63.255.255", true, true),
            ("169.255.0.1", true, true),
            ("192.169.0.1", true, true),
            ("223.255.255.254", true, true),
            ("2606:4700::1111", true, true),
            ("2a00:1450:4001::200e", true, true),
            ("2002:808:808::1", true, true),  // 6to4 of 8.8.8.8
            ("64:ff9b::808:808", true, true), // NAT64 of 8.8.8.8
            ("::ffff:8.8.8.8", true, true),   // mapped 8.8.8.8
            ("127.0.0.1", false, true),
            ("127.255.255.254", false, true),
            ("::1", false, true),
            ("::ffff:127.0.0.1", false, true),
            ("10.1.2.3", false, false),
            ("172.16.0.1", false, false),
            ("172.31.255.255", false, false),
            ("192.168.0.1", false, false),
            ("169.254.169.254", false, false),
            ("100.64.0.1", false, false),
            ("100.127.255.255", false, false),
            ("0.0.0.0", false, false),
            ("0.1.2.3", false, false),
            ("255.255.255.255", false, false),
            ("224.0.0.1", false, false),
            ("240.0.0.1", false, false),
            ("192.0.0.170", false, false),
            ("192.0.2.10", false, false),
            ("198.51.100.7", false, false),
            ("203.0.113.9", false, false),
            ("198.18.0.1", false, false),
            ("198.19.255.255", false, false),
            ("192.88.99.1", false, false),
            ("::", false, false),
            ("fe80::1", false, false),
            ("febf::1", false, false),
            ("fec0::1", false, false),
            ("fc00::1", false, false),
            ("fd12::1", false, false),
            ("fd00:ec2::254", false, false),
            ("ff02::1", false, false),
            ("100::1", false, false),
            ("::ffff:10.0.0.1", false, false),
            ("::ffff:169.254.169.254", false, false),
            ("::a00:1", false, false),  // IPv4-compatible 10.0.0.1
            ("::7f00:1", false, false), // compatible loopback is not our loopback
            ("64:ff9b::a00:1", false, false),
            ("64:ff9b::7f00:1", false, false),
            ("64:ff9b:1::808:808", false, false),
            ("2002:a00:1::", false, false),
            ("2002:7f00:1::", false, false),
            ("2002:a9fe:a9fe::1", false, false), // 6to4 of 169.254.169.254
            ("2001::1", false, false),           // Teredo
            ("2001:0:4136:e378::1", false, false),
            ("2001:2::1", false, false),
            ("2001:db8::1", false, false),
            ("3fff::1", false, false),
        ];
        for &(text, without, with) in table {
            let ip: IpAddr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                address_allowed(ip, false),
                without,
                "{text} without the flag"
            );
            assert_eq!(address_allowed(ip, true), with, "{text} with the flag");
        }
    }

    #[test]
    fn check_url_accepts_https_and_normalises() {
        assert_eq!(
            check_url("https://Example.COM/hooks?a=1", false).as_deref(),
            Ok("https://example.com/hooks?a=1")
        );
        assert_eq!(
            check_url("  https://example.com  ", false).as_deref(),
            Ok("https://example.com/")
        );
        assert_eq!(
            check_url("https://8.8.8.8:8443/x", false).as_deref(),
            Ok("https://8.8.8.8:8443/x")
        );
        assert_eq!(
            check_url("https://[2606:4700::1111]/", false).as_deref(),
            Ok("https://[2606:4700::1111]/")
        );
    }

    #[test]
    fn check_url_http_only_for_loopback_with_the_flag() {
        assert_eq!(
            check_url("http://example.com/", false),
            Err(UrlError::PlainHttp)
        );
        assert_eq!(
            check_url("http://example.com/", true),
            Err(UrlError::PlainHttp)
        );
        assert_eq!(
            check_url("http://127.0.0.1:9/", false),
            Err(UrlError::PlainHttp)
        );
        assert_eq!(
            check_url("http://127.0.0.1:9", true).as_deref(),
            Ok("http://127.0.0.1:9/")
        );
        assert!(check_url("http://localhost:8080/hook", true).is_ok());
        assert!(check_url("http://[::1]:8080/hook", true).is_ok());
        assert_eq!(
            check_url("http://10.0.0.1/", true),
            Err(UrlError::PlainHttp)
        );
        // https to loopback follows the address rule.
        assert_eq!(
            check_url("https://127.0.0.1/", false),
            Err(UrlError::RefusedAddress("127.0.0.1".parse().expect("ip")))
        );
        assert!(check_url("https://127.0.0.1/", true).is_ok());
    }

    #[test]
    fn check_url_refusals() {
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        assert_eq!(
            check_url("https://10.0.0.1/", false),
            Err(UrlError::RefusedAddress(ip("10.0.0.1")))
        );
        assert_eq!(
            check_url("https://10.0.0.1/", true),
            Err(UrlError::RefusedAddress(ip("10.0.0.1")))
        );
        assert_eq!(
            check_url("https://[::ffff:a9fe:a9fe]/latest/meta-data", false),
            Err(UrlError::RefusedAddress(ip("::ffff:169.254.169.254")))
        );
        // Unusual spellings of IPv4 literals are still literals.
        assert_eq!(
            check_url("https://2130706433/", false),
            Err(UrlError::RefusedAddress(ip("127.0.0.1")))
        );
        assert_eq!(
            check_url("https://0xa9.254.169.254/", false),
            Err(UrlError::RefusedAddress(ip("169.254.169.254")))
        );
        assert_eq!(
            check_url("https://user:pw@example.com/", false),
            Err(UrlError::Userinfo)
        );
        assert_eq!(
            check_url("https://user@example.com/", false),
            Err(UrlError::Userinfo)
        );
        assert_eq!(
            check_url("ftp://example.com/", false),
            Err(UrlError::Scheme("ftp".into()))
        );
        assert_eq!(
            check_url("file:///etc/passwd", true),
            Err(UrlError::Scheme("file".into()))
        );
        assert_eq!(
            check_url("https://example.com/#x", false),
            Err(UrlError::Fragment)
        );
        assert!(matches!(
            check_url("not a url", false),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            check_url("/relative/path", false),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            check_url("https://", false),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(check_url("", false), Err(UrlError::Invalid(_))));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(UrlError::TooLong));
        let at_limit = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
        assert_eq!(at_limit.len(), MAX_URL_LEN);
        assert!(check_url(&at_limit, false).is_ok());
    }

    #[test]
    fn messages_are_plain_english() {
        let e = check_url("https://10.0.0.1/", false).expect_err("refused");
        assert!(e.to_string().starts_with("refused address 10.0.0.1"), "{e}");
        let e = check_url("ftp://example.com/", false).expect_err("refused");
        assert_eq!(e.to_string(), "the URL must use https (got ftp)");
    }
}
