//! Web origins as browsers send them in `Origin`: the one normal form in which a workspace's
//! allowed origins are stored and an identify request's origin is compared with them. A leaf
//! module, shared by the workspace settings and the identify pipeline.

/// `scheme://host[:port]`, lowercased, default ports dropped, as browsers send `Origin`.
pub fn normalise_origin(origin: &str) -> Option<String> {
    if origin.len() > 255 {
        return None;
    }
    let lower = origin.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (inner, after) = v6.split_once(']')?;
        inner.parse::<std::net::Ipv6Addr>().ok()?;
        // Nothing may follow the address but a port.
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (format!("[{inner}]"), after.strip_prefix(':'))
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    let host_ok = host.starts_with('[')
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0)?),
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::normalise_origin;

    #[test]
    fn origins_are_normalised_or_refused() {
        assert_eq!(
            normalise_origin("https://Shop.Example").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(
            normalise_origin("https://shop.example:443").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(
            normalise_origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            normalise_origin("http://[::1]:3000").as_deref(),
            Some("http://[::1]:3000")
        );
        for bad in [
            "shop.example",
            "ftp://x.example",
            "https://x.example/",
            "https://x.example/path",
            "https://",
            "https://a..b",
            "https://x.example:0",
            "https://x.example:99999",
            "https://user@x.example",
            "javascript://x",
            "https://x_y.example",
            "http://[::1]x",
            "http://[::1]/",
        ] {
            assert_eq!(normalise_origin(bad), None, "{bad}");
        }
    }
}
