//! The `prynt-bench` binary: one subcommand per benchmark; each prints a human summary and,
//! last, one JSON line (BENCHMARKS.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use prynt_bench::{
    accuracy, crash, identify, matching, scale_out, seed, server, soak, webhooks, BenchError,
};

/// The same allocator as `prynt`: the match benchmark's memory figures stand for the server's
/// index, and the accuracy benchmark's run times for its matching.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "prynt-bench",
    version,
    about = "Prynt's benchmarks; each prints a summary and, last, one JSON line"
)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Identify throughput and latency against a real server, beside a bare endpoint.
    Identify {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Data dir whose fetched IP data (`ipdata/`) the measured server loads, so that every
        /// signal runs; without it the server runs without IP data.
        #[arg(long, default_value = "./prynt-data")]
        ip_data: PathBuf,
        /// The `prynt` binary to start; by default the one beside `prynt-bench`.
        #[arg(long, value_name = "PATH")]
        prynt: Option<PathBuf>,
    },
    /// Identify throughput and latency of one node on SQLite, one on PostgreSQL and two on one
    /// PostgreSQL database; then how long a rule change and a new visitor take to cross nodes.
    ScaleOut {
        /// A PostgreSQL server (`postgres://…`) whose role may create databases: each
        /// PostgreSQL configuration runs on a fresh database, dropped afterwards.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// A Redis server (`redis://…`): the two nodes run once more sharing it, for rate
        /// limits and velocity counts.
        #[arg(long, value_name = "URL")]
        redis_url: Option<String>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Rule-change and recognition samples, each.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        #[arg(long, default_value = "./prynt-data")]
        ip_data: PathBuf,
        /// The `prynt` binary to start; by default the one beside `prynt-bench`.
        #[arg(long, value_name = "PATH")]
        prynt: Option<PathBuf>,
    },
    /// Webhook delivery rate, and identify throughput with three webhooks against none.
    Webhooks {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value = "./prynt-data")]
        ip_data: PathBuf,
        /// The `prynt` binary to start; by default the one beside `prynt-bench`.
        #[arg(long, value_name = "PATH")]
        prynt: Option<PathBuf>,
    },
    /// Identification accuracy on a synthetic population, beside two baselines.
    Accuracy {
        #[arg(long, default_value_t = 10_000)]
        browsers: usize,
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of visits after cleared storage.
        #[arg(long, default_value_t = 0.08)]
        clear_rate: f64,
        /// Share of visits in a private window.
        #[arg(long, default_value_t = 0.05)]
        incognito_rate: f64,
        /// A small run (1,000 browsers, 30 days) for the test suite.
        #[arg(long)]
        quick: bool,
        /// Also run Prynt on the next seeds and pool the calibration of all the runs.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
        runs: u64,
        /// A recorded population (JSON Lines, as written by browser-tests/population.mjs) to
        /// replay instead of the built-in generator's.
        #[arg(long, requires = "training")]
        population: Option<PathBuf>,
        /// Another population of the same generator, on which FP-Stalker's hybrid is trained
        /// (with --population).
        #[arg(long, requires = "population")]
        training: Option<PathBuf>,
        /// Prynt states the confidence its index computes, without the reference calibration
        /// (to compare the two; which visits are linked does not change).
        #[arg(long)]
        raw_confidence: bool,
        /// Prynt links a visit when its computed probability is at least this (default 0.88):
        /// to trace precision against recall.
        #[arg(long, value_parser = link_threshold)]
        link_threshold: Option<f64>,
        /// Prynt does not weigh the network visits come from (to measure what it adds).
        #[arg(long)]
        no_network: bool,
    },
    /// Fits the identification engine's reference calibration on recorded populations (as
    /// written by browser-tests/population.mjs) and writes it as Rust source.
    FitCalibration {
        /// A population to fit on (repeat for several).
        #[arg(long = "population", required = true)]
        populations: Vec<PathBuf>,
        /// Where to write the tables (crates/prynt-identify/src/reference_table.rs).
        #[arg(long)]
        out: PathBuf,
        /// Also write every answer fitted on as CSV (population, answer, known, rate, raw,
        /// right), for analysis.
        #[arg(long)]
        samples: Option<PathBuf>,
    },
    /// Fills a store with synthetic events over the last days (for the backtest benchmark).
    SeedEvents {
        #[arg(long, default_value = "./prynt-data")]
        data_dir: PathBuf,
        /// A PostgreSQL database (`postgres://…`) to seed instead of the SQLite store in
        /// --data-dir, as `prynt --database-url` would open it.
        #[arg(
            long,
            env = "PRYNT_DATABASE_URL",
            value_name = "URL",
            hide_env_values = true
        )]
        database_url: Option<String>,
        #[arg(long, default_value_t = 1_284_102)]
        events: usize,
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Match latency and index memory with many known visitors.
    Match {
        #[arg(long, default_value_t = 1_000_000)]
        visitors: usize,
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
    },
    /// Identify load and management writes while the server is SIGKILLed at random moments and
    /// restarted on its store; then every acknowledged change and delivery is checked.
    CrashTest {
        #[arg(long, default_value_t = 20)]
        kills: usize,
        #[arg(long, value_enum, default_value_t = crash::StoreKind::Sqlite)]
        store: crash::StoreKind,
        /// With --store postgres: a PostgreSQL server whose role may create databases; the run
        /// gets a fresh database, dropped afterwards.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Concurrent identify clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Shortest and longest time the server runs under load before each kill.
        #[arg(long, default_value_t = 200)]
        min_life_ms: u64,
        #[arg(long, default_value_t = 2000)]
        max_life_ms: u64,
        /// Seconds every acknowledged delivery may take to arrive after the last restart.
        #[arg(long, default_value_t = 90)]
        delivery_deadline: u64,
        /// The `prynt` binary to start; by default the one beside `prynt-bench`.
        #[arg(long, value_name = "PATH")]
        prynt: Option<PathBuf>,
    },
    /// A long identify run at a share of the measured capacity with a webhook on: errors and
    /// the server's resident memory over time.
    Soak {
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Share of the measured capacity to send.
        #[arg(long, default_value_t = 0.7)]
        share: f64,
        /// A fixed rate (identifications/s) instead of --share of the capacity.
        #[arg(long)]
        rate: Option<f64>,
        /// Length of the capacity run, and of the warm-up before it.
        #[arg(long, default_value_t = 10)]
        capacity_seconds: u64,
        /// Connections of the capacity run.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        sample_seconds: u64,
        /// Longest wait for the deliveries to catch up after the load.
        #[arg(long, default_value_t = 120)]
        drain_seconds: u64,
        #[arg(long, value_enum, default_value_t = crash::StoreKind::Sqlite)]
        store: crash::StoreKind,
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        #[arg(long, default_value = "./prynt-data")]
        ip_data: PathBuf,
        /// Distinct synthetic browsers of the traffic.
        #[arg(long, default_value_t = 5_000)]
        browsers: usize,
        /// Keep the run's data dir and server log afterwards.
        #[arg(long)]
        keep_data: bool,
        /// The `prynt` binary to start; by default the one beside `prynt-bench`.
        #[arg(long, value_name = "PATH")]
        prynt: Option<PathBuf>,
    },
}

fn run(command: BenchCommand) -> Result<(), BenchError> {
    match command {
        BenchCommand::Identify {
            seconds,
            connections,
            ip_data,
            prynt,
        } => identify::run(
            &server::prynt_binary(prynt.as_deref())?,
            seconds,
            connections,
            &ip_data,
        ),
        BenchCommand::Webhooks {
            seconds,
            connections,
            ip_data,
            prynt,
        } => webhooks::run(
            &server::prynt_binary(prynt.as_deref())?,
            seconds,
            connections,
            &ip_data,
        ),
        BenchCommand::ScaleOut {
            database_url,
            redis_url,
            seconds,
            connections,
            samples,
            ip_data,
            prynt,
        } => scale_out::run(&scale_out::Options {
            prynt: &server::prynt_binary(prynt.as_deref())?,
            database_url: database_url.as_deref(),
            redis_url: redis_url.as_deref(),
            seconds,
            connections,
            samples,
            ip_data: &ip_data,
        }),
        BenchCommand::SeedEvents {
            data_dir,
            database_url,
            events,
            days,
            seed,
        } => seed::run_and_report(&seed::Seeding {
            data_dir: &data_dir,
            database_url: database_url.as_deref(),
            events,
            days,
            seed,
        }),
        BenchCommand::Match { visitors, queries } => matching::run(visitors, queries),
        BenchCommand::CrashTest {
            kills,
            store,
            database_url,
            clients,
            min_life_ms,
            max_life_ms,
            delivery_deadline,
            prynt,
        } => crash::run(&crash::Options {
            prynt: &server::prynt_binary(prynt.as_deref())?,
            kills,
            store,
            database_url: database_url.as_deref(),
            clients,
            min_life: Duration::from_millis(min_life_ms),
            max_life: Duration::from_millis(max_life_ms),
            delivery_deadline: Duration::from_secs(delivery_deadline),
        }),
        BenchCommand::Soak {
            minutes,
            share,
            rate,
            capacity_seconds,
            connections,
            sample_seconds,
            drain_seconds,
            store,
            database_url,
            ip_data,
            browsers,
            keep_data,
            prynt,
        } => soak::run(&soak::Options {
            prynt: &server::prynt_binary(prynt.as_deref())?,
            minutes,
            share,
            rate,
            capacity_seconds,
            connections,
            sample_seconds,
            drain_seconds,
            store,
            database_url: database_url.as_deref(),
            ip_data: &ip_data,
            browsers,
            keep_data,
        }),
        BenchCommand::FitCalibration {
            populations,
            out,
            samples,
        } => accuracy::run_fit(accuracy::FitOptions {
            populations,
            out,
            samples,
        }),
        BenchCommand::Accuracy {
            browsers,
            days,
            seed,
            clear_rate,
            incognito_rate,
            quick,
            runs,
            population,
            training,
            raw_confidence,
            link_threshold,
            no_network,
        } => {
            let defaults = prynt_identify::ModelParams::default();
            let params = prynt_identify::ModelParams {
                reference_calibration: !raw_confidence,
                link_threshold: link_threshold.unwrap_or(defaults.link_threshold),
                network: !no_network,
                ..defaults
            };
            if let (Some(population), Some(training)) = (population, training) {
                return accuracy::run_recorded(accuracy::RecordedOptions {
                    population,
                    training,
                    params,
                });
            }
            let (browsers, days) = if quick { (1_000, 30) } else { (browsers, days) };
            accuracy::run(accuracy::Options {
                browsers,
                days,
                seed,
                clear_rate,
                incognito_rate,
                runs,
                params,
            })
        }
    }
}

/// A link threshold: a probability above 0 and at most 1.
fn link_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 1.0 => Ok(t),
        _ => Err(format!("{s} is not a probability above 0 and at most 1")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(BenchError::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(BenchError::Runtime(m)) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}
