//! WebGL renderer strings normalised to the marketing name of the GPU
//! ("ANGLE (NVIDIA, NVIDIA GeForce RTX 4070 (0x00002786) Direct3D11 vs_5_0 ps_5_0, D3D11)" →
//! "NVIDIA GeForce RTX 4070").

/// The GPU's name, or `None` when the renderer string says nothing useful.
pub fn normalise(renderer: &str) -> Option<String> {
    let mut r = renderer.trim();
    if r.is_empty() {
        return None;
    }
    let lower = r.to_ascii_lowercase();
    if lower.contains("swiftshader") {
        return Some("SwiftShader".into());
    }
    if lower.starts_with("llvmpipe") {
        return Some("llvmpipe".into());
    }
    // ANGLE wraps the real renderer: "ANGLE (Vendor, Renderer, Backend)".
    let inner;
    if let Some(rest) = r.strip_prefix("ANGLE (") {
        inner = rest.strip_suffix(')').unwrap_or(rest).to_owned();
        let parts: Vec<&str> = split_top_level(&inner);
        r = parts.get(1).copied().unwrap_or(parts[0]);
    }
    let mut name = r.to_owned();
    if let Some(pos) = name.find("Metal Renderer: ") {
        name = name[pos + "Metal Renderer: ".len()..].to_owned();
    }
    for cut in [
        " Direct3D",
        " vs_",
        ", D3D",
        " OpenGL",
        " (0x",
        " /PCIe",
        "/PCIe",
    ] {
        if let Some(pos) = name.find(cut) {
            name.truncate(pos);
        }
    }
    for noise in ["(R)", "(TM)", "(tm)", "(r)"] {
        name = name.replace(noise, "");
    }
    if let Some(rest) = name.strip_prefix("Mesa ") {
        name = rest.to_owned();
    }
    // Trailing driver details in parentheses: "(KBL GT2)", "(radeonsi, navi21, LLVM 15.0.7)".
    while name.trim_end().ends_with(')') {
        match name.rfind(" (") {
            Some(pos) => name.truncate(pos),
            None => break,
        }
    }
    name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.starts_with("Adreno ") {
        name = format!("Qualcomm {name}");
    }
    let name = name
        .trim_end_matches(", Unspecified Version")
        .trim()
        .to_owned();
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

/// Splits on ", " outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn renderers_become_marketing_names() {
        let cases = [
            ("ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)", "Apple M3 Pro"),
            ("ANGLE (NVIDIA, NVIDIA GeForce RTX 4070 (0x00002786) Direct3D11 vs_5_0 ps_5_0, D3D11)", "NVIDIA GeForce RTX 4070"),
            ("ANGLE (Intel, Intel(R) UHD Graphics 620 (0x00005917) Direct3D11 vs_5_0 ps_5_0, D3D11)", "Intel UHD Graphics 620"),
            ("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)", "SwiftShader"),
            ("Mesa Intel(R) UHD Graphics 620 (KBL GT2)", "Intel UHD Graphics 620"),
            ("AMD Radeon RX 6800 XT (radeonsi, navi21, LLVM 15.0.7, DRM 3.49, 6.1.0)", "AMD Radeon RX 6800 XT"),
            ("Adreno (TM) 650", "Qualcomm Adreno 650"),
            ("Apple GPU", "Apple GPU"),
            ("Mali-G78", "Mali-G78"),
            ("llvmpipe (LLVM 15.0.7, 256 bits)", "llvmpipe"),
            ("ANGLE (AMD, AMD Radeon Pro 5500M OpenGL Engine, OpenGL 4.1)", "AMD Radeon Pro 5500M"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(normalise("  "), None);
    }
}
