//! The dashboard as the binary serves it: the embedded build of dashboard/ under /dashboard/,
//! every app path answered with the app's page, hashed assets cached for good, and nothing but
//! the embedded files reachable.

use crate::harness::{assert_error, client, client_no_redirects, html_page, TestServer};

/// The asset paths that the embedded index.html loads.
fn asset_paths(index: &str) -> Vec<String> {
    index
        .split('"')
        .filter(|s| s.starts_with("/dashboard/assets/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn serves_the_embedded_app_on_every_app_path() {
    let s = TestServer::start();
    let http = client();

    // Without the trailing slash, a permanent redirect to the app's root.
    let no_redirect = client_no_redirects();
    let r = no_redirect.get(s.url("/dashboard")).send().expect("GET");
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(r.headers()["location"], "/dashboard/");

    let (csp, index) = html_page(http.get(s.url("/dashboard/")).send().expect("GET"));
    assert!(csp.contains("default-src 'self'"), "CSP: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "CSP: {csp}");
    assert!(
        index.contains("<div id=\"app\">"),
        "the built app, not the not-built notice (run `npm ci && npm run build` in dashboard/ \
         before building the binary): {index}"
    );
    let assets = asset_paths(&index);
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "index.html loads a script and a stylesheet: {assets:?}"
    );

    // Deep links of the app get the same page, so reloads and shared links work.
    for path in [
        "/dashboard/events",
        "/dashboard/events/req_1796324718_ced0e8",
        "/dashboard/rules/new",
        "/dashboard/visitors/pv_0000000000000",
    ] {
        let r = http.get(s.url(path)).send().expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.text().expect("body"), index, "{path}");
    }

    for asset in &assets {
        let r = http.get(s.url(asset)).send().expect("GET asset");
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        let ct = r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        let want = if asset.ends_with(".js") {
            "javascript"
        } else {
            "text/css"
        };
        assert!(ct.contains(want), "{asset}: {ct}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        assert!(!r.bytes().expect("bytes").is_empty(), "{asset}");
    }
}

#[test]
fn unknown_assets_and_escapes_are_not_found() {
    let s = TestServer::start();
    let http = client();
    for path in [
        "/dashboard/assets/nothing-here.js",
        "/dashboard/favicon.none",
        "/dashboard/assets/..%2F..%2FCargo.toml",
        "/dashboard/%2E%2E/%2E%2E/Cargo.toml",
    ] {
        let r = http.get(s.url(path)).send().expect("GET");
        assert_error(r, 404, "not_found");
    }
    // The dashboard only reads: other methods are refused like anywhere else.
    let r = http.post(s.url("/dashboard/")).send().expect("POST");
    assert_eq!(r.status().as_u16(), 405);
}
