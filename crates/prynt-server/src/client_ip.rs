//! The client's address (docs/operations.md, `--trust-proxy`): the TCP peer, unless the peer is a trusted proxy, in which
//! case the nearest address of `X-Forwarded-For` that is not itself a trusted proxy. Entries a
//! client could have written (everything left of the first untrusted hop) are never believed.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

fn within(ip: IpAddr, (first, last): (IpAddr, IpAddr)) -> bool {
    match (ip, first, last) {
        (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(l)) => f <= a && a <= l,
        (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(l)) => f <= a && a <= l,
        _ => false,
    }
}

fn trusted(ip: IpAddr, proxies: &[(IpAddr, IpAddr)]) -> bool {
    proxies.iter().any(|r| within(ip, *r))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

pub fn resolve(peer: IpAddr, headers: &HeaderMap, proxies: &[(IpAddr, IpAddr)]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    // Several headers are one list, in order.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            // A garbled hop: nothing left of it can be attributed; keep the last sure address.
            break;
        };
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_signals::ranges::parse_range;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let proxies = vec![
            parse_range("10.0.0.0/8").unwrap(),
            parse_range("::1/128").unwrap(),
        ];
        let h = headers(&["198.51.100.7, 10.1.1.1"]);
        // Untrusted peer: the header is ignored.
        assert_eq!(resolve(ip("203.0.113.9"), &h, &proxies), ip("203.0.113.9"));
        // Trusted peer: the nearest untrusted hop, skipping trusted ones.
        assert_eq!(resolve(ip("10.0.0.2"), &h, &proxies), ip("198.51.100.7"));
        assert_eq!(resolve(ip("::1"), &h, &proxies), ip("198.51.100.7"));
        // What a client wrote left of the real hop is not believed.
        let spoofed = headers(&["1.1.1.1", "198.51.100.7"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &spoofed, &proxies),
            ip("198.51.100.7")
        );
        // Ports and IPv4-mapped IPv6 are understood.
        let ported = headers(&["[2001:db8::5]:443, ::ffff:10.2.2.2"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &ported, &proxies),
            ip("2001:db8::5")
        );
        // Garbage stops the walk at the last sure address.
        let junk = headers(&["198.51.100.7, nonsense, 10.3.3.3"]);
        assert_eq!(resolve(ip("10.0.0.2"), &junk, &proxies), ip("10.3.3.3"));
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            ip("10.0.0.2")
        );
        // No trusted proxies configured: never the header.
        assert_eq!(resolve(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
    }
}
