//! The server's settings, merged from flags, environment, the TOML config file and defaults.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use prynt_signals::ip::IpDataFiles;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::ServeArgs;
use crate::CliError;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The PostgreSQL store's URL; `None`: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Most connections to PostgreSQL.
    pub database_pool_size: usize,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub retention_days: u32,
    pub bench_endpoints: bool,
    /// Proxies whose `X-Forwarded-For` is believed, as inclusive address ranges.
    pub trusted_proxies: Vec<(IpAddr, IpAddr)>,
    /// The IP data files the server loads.
    pub ip_data: IpDataFiles,
    pub webhooks: WebhookConfig,
    /// Whether a loopback-only server makes a demo key (`--no-demo` turns it off).
    pub demo: bool,
    /// Redis holding the rate budgets shared by every node; `None`: this node's memory.
    pub redis_url: Option<String>,
    /// What rate limits do while that Redis does not answer.
    pub redis_limits_failure: crate::limits::FailureMode,
    /// Caps and deadlines of client connections.
    pub connections: crate::connections::Settings,
    /// Failed key checks a minute per client address; 0: no limit.
    pub auth_failures_per_minute: u32,
}

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub allow_loopback: bool,
    /// PEM CA certificates trusted besides the system's.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// The key sealing secrets at rest, as configured (hex or base64); `None`: the data dir's.
    pub secret_key: Option<String>,
    pub timeout: std::time::Duration,
    pub schedule: prynt_webhooks::schedule::Schedule,
}

/// The config file: the same names as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_pool_size: Option<u32>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    retention_days: Option<u32>,
    trust_proxy: Option<Vec<String>>,
    geoip_city: Option<PathBuf>,
    ip_ranges: Option<Vec<PathBuf>>,
    dev_allow_loopback_webhooks: Option<bool>,
    webhook_ca: Option<PathBuf>,
    webhook_secret_key: Option<String>,
    sealing_key_file: Option<PathBuf>,
    webhook_timeout: Option<u64>,
    webhook_retry_schedule: Option<String>,
    no_demo: Option<bool>,
    redis_url: Option<String>,
    redis_limits_failure: Option<crate::limits::FailureMode>,
    max_connections: Option<u32>,
    max_connections_per_ip: Option<u32>,
    header_timeout: Option<DurationSetting>,
    body_timeout: Option<DurationSetting>,
    idle_timeout: Option<DurationSetting>,
    max_requests_per_connection: Option<u64>,
    auth_failures_per_minute: Option<u32>,
}

/// A duration in the config file: a string such as `"10s"`, or a number of seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DurationSetting {
    Seconds(u64),
    Text(String),
}

/// A timeout from its flag, else the file, else `default`; between 100 ms and an hour.
fn timeout_setting(
    name: &str,
    flag: Option<Duration>,
    file: Option<DurationSetting>,
    default: Duration,
) -> Result<Duration, CliError> {
    let value = match (flag, file) {
        (Some(d), _) => d,
        (None, Some(DurationSetting::Seconds(s))) => Duration::from_secs(s),
        (None, Some(DurationSetting::Text(t))) => crate::cli::parse_duration(&t)
            .map_err(|e| CliError::Usage(format!("invalid {name}: {e}")))?,
        (None, None) => default,
    };
    if value < Duration::from_millis(100) || value > Duration::from_secs(3600) {
        return Err(CliError::Usage(format!(
            "{name} must be between 100ms and 1h, got {value:?}"
        )));
    }
    Ok(value)
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
        let database_url = args.database_url.or(file.database_url);
        if let Some(url) = &database_url {
            if !prynt_store::postgres::is_postgres_url(url) {
                return Err(CliError::Usage(
                    "database_url must be a PostgreSQL URL (postgres://…)".into(),
                ));
            }
        }
        let database_pool_size = args
            .database_pool_size
            .or(file.database_pool_size)
            .map_or(prynt_store::postgres::DEFAULT_POOL_SIZE, |n| n as usize);
        if !(1..=1000).contains(&database_pool_size) {
            return Err(CliError::Usage(format!(
                "database_pool_size must be between 1 and 1000, got {database_pool_size}"
            )));
        }
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
        let trust = if args.trust_proxy.is_empty() {
            file.trust_proxy.unwrap_or_default()
        } else {
            args.trust_proxy
        };
        let trusted_proxies = trust
            .iter()
            .map(|t| {
                prynt_signals::ranges::parse_range(t).ok_or_else(|| {
                    CliError::Usage(format!(
                        "invalid --trust-proxy {t:?}: expected a CIDR such as 10.0.0.0/8"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut ip_data = crate::commands::data::installed_files(&data_dir);
        if let Some(city) = args.geoip_city.or(file.geoip_city) {
            if !city.is_file() {
                return Err(CliError::Usage(format!(
                    "geoip_city file {} does not exist",
                    city.display()
                )));
            }
            ip_data.city = vec![city];
        }
        ip_data.extra_ranges = if args.ip_ranges.is_empty() {
            file.ip_ranges.unwrap_or_default()
        } else {
            args.ip_ranges
        };
        let extra_roots_pem = match args.webhook_ca.or(file.webhook_ca) {
            Some(path) => Some(std::fs::read(&path).map_err(|e| {
                CliError::Usage(format!("cannot read webhook_ca {}: {e}", path.display()))
            })?),
            None => None,
        };
        let schedule = match args.webhook_retry_schedule.or(file.webhook_retry_schedule) {
            Some(text) => prynt_webhooks::schedule::Schedule::parse(&text).map_err(|e| {
                CliError::Usage(format!("invalid webhook_retry_schedule {text:?}: {e}"))
            })?,
            None => prynt_webhooks::schedule::Schedule::default(),
        };
        let timeout = args.webhook_timeout.or(file.webhook_timeout).unwrap_or(10);
        if !(1..=60).contains(&timeout) {
            return Err(CliError::Usage(format!(
                "webhook_timeout must be between 1 and 60 seconds, got {timeout}"
            )));
        }
        let webhooks = WebhookConfig {
            allow_loopback: args.dev_allow_loopback_webhooks
                || file.dev_allow_loopback_webhooks.unwrap_or(false),
            extra_roots_pem,
            secret_key: sealing_key(
                args.webhook_secret_key.or(file.webhook_secret_key),
                args.sealing_key_file.or(file.sealing_key_file),
            )?,
            timeout: std::time::Duration::from_secs(timeout),
            schedule,
        };
        let redis_url = args.redis_url.or(file.redis_url);
        if let Some(url) = &redis_url {
            // Checked before the store is opened; the URL itself is never echoed (a password).
            crate::limits::check_redis_url(url)
                .map_err(|e| CliError::Usage(format!("redis_url: {e}")))?;
        }
        let defaults = crate::connections::Settings::default();
        let connections = crate::connections::Settings {
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .map_or(defaults.max_connections, |n| n.max(1) as usize),
            max_per_address: args
                .max_connections_per_ip
                .or(file.max_connections_per_ip)
                .map_or(defaults.max_per_address, |n| n.max(1) as usize),
            header_timeout: timeout_setting(
                "header_timeout",
                args.header_timeout,
                file.header_timeout,
                defaults.header_timeout,
            )?,
            body_timeout: timeout_setting(
                "body_timeout",
                args.body_timeout,
                file.body_timeout,
                defaults.body_timeout,
            )?,
            idle_timeout: timeout_setting(
                "idle_timeout",
                args.idle_timeout,
                file.idle_timeout,
                defaults.idle_timeout,
            )?,
            max_requests: args
                .max_requests_per_connection
                .or(file.max_requests_per_connection)
                .unwrap_or(defaults.max_requests),
            descriptors: None,
        };
        let auth_failures_per_minute = args
            .auth_failures_per_minute
            .or(file.auth_failures_per_minute)
            .unwrap_or(60);
        Ok(ServeConfig {
            connections,
            auth_failures_per_minute,
            webhooks,
            listen,
            data_dir,
            database_url,
            database_pool_size,
            tls,
            retention_days,
            bench_endpoints: args.bench_endpoints,
            demo: !(args.no_demo || file.no_demo.unwrap_or(false)),
            redis_url,
            redis_limits_failure: args
                .redis_limits_failure
                .or(file.redis_limits_failure)
                .unwrap_or_default(),
            trusted_proxies,
            ip_data,
        })
    }
}

/// The configured sealing key: given inline, or read from its file; not both.
fn sealing_key(inline: Option<String>, file: Option<PathBuf>) -> Result<Option<String>, CliError> {
    let Some(path) = file else {
        return Ok(inline);
    };
    if inline.is_some() {
        return Err(CliError::Usage(
            "give the sealing key either as webhook_secret_key or as sealing_key_file, not both"
                .into(),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read sealing_key_file {}: {e}",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o077)
            .unwrap_or(0);
        if mode != 0 {
            tracing::warn!(
                file = %path.display(),
                "the sealing key file is readable by other users: chmod 600 it"
            );
        }
    }
    Ok(Some(text.trim().to_owned()))
}

fn read_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| CliError::Usage(format!("invalid config file {}: {e}", path.display())))
}
