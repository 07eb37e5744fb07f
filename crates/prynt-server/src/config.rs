//! The server's settings, merged from flags, environment, the TOML config file and defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::ServeArgs;
use crate::CliError;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub retention_days: u32,
    pub bench_endpoints: bool,
}

/// The config file: the same names as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    retention_days: Option<u32>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> Result<Self, CliError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = match args.listen {
            Some(a) => a,
            None => {
                let text = file.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
                text.parse().map_err(|_| {
                    CliError::Usage(format!(
                        "invalid listen address {text:?}: expected IP:PORT such as 127.0.0.1:8080"
                    ))
                })?
            }
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./prynt-data"));
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(CliError::Usage(
                    "--tls-cert and --tls-key must be given together".into(),
                ))
            }
        };
        let retention_days = args.retention_days.or(file.retention_days).unwrap_or(90);
        if !(1..=3650).contains(&retention_days) {
            return Err(CliError::Usage(format!(
                "retention_days must be between 1 and 3650, got {retention_days}"
            )));
        }
        Ok(ServeConfig {
            listen,
            data_dir,
            tls,
            retention_days,
            bench_endpoints: args.bench_endpoints,
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| CliError::Usage(format!("invalid config file {}: {e}", path.display())))
}
