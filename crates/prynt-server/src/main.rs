//! The `prynt` binary: a thin dispatcher over the server and operator commands.

mod api;
mod app;
mod bench;
mod cache;
mod cli;
mod client_ip;
mod commands;
mod config;
mod dashboard;
mod decide;
mod delivery;
mod demo;
mod error;
mod extract;
mod html;
mod idempotency;
mod identity;
mod limits;
mod metrics;
mod middleware;
mod policy;
mod risk;
mod serve;
mod state;

use std::process::ExitCode;

use clap::Parser;

/// Request handling allocates many small short-lived buffers from several threads at once;
/// with mimalloc's thread-local heaps identify sustains about half as much again as with the
/// system allocator on the same machine (`prynt bench identify`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command failed: usage errors exit with 2, everything else with 1.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Runtime(String),
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PRYNT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(config::ServeConfig::resolve(*args)?).await,
            cli::Command::Keys(cmd) => commands::keys::run(cmd).await,
            cli::Command::Workspaces(cmd) => commands::workspaces::run(cmd).await,
            cli::Command::Data(cmd) => commands::data::run(cmd).await,
            cli::Command::Migrate { store } => commands::migrate::run(store).await,
            cli::Command::Bench(cmd) => tokio::task::spawn_blocking(move || match cmd {
                cli::BenchCommand::Identify {
                    seconds,
                    connections,
                    ip_data,
                } => bench::identify::run(seconds, connections, &ip_data),
                cli::BenchCommand::Webhooks {
                    seconds,
                    connections,
                    ip_data,
                } => bench::webhooks::run(seconds, connections, &ip_data),
                cli::BenchCommand::SeedEvents {
                    data_dir,
                    events,
                    days,
                    seed,
                } => {
                    let started = std::time::Instant::now();
                    let n = tokio::runtime::Handle::current()
                        .block_on(bench::seed::run(&data_dir, events, days, seed))
                        .map_err(|e| CliError::Runtime(e.to_string()))?;
                    let secs = started.elapsed().as_secs_f64();
                    bench::emit(
                        &format!("seeded {n} events in {secs:.1} s"),
                        serde_json::json!({"events": n, "seedSeconds": (secs * 10.0).round() / 10.0}),
                    );
                    Ok(())
                }
                cli::BenchCommand::Match { visitors, queries } => {
                    bench::matching::run(visitors, queries)
                }
                cli::BenchCommand::Accuracy {
                    browsers,
                    days,
                    seed,
                    clear_rate,
                    incognito_rate,
                    quick,
                    runs,
                    population,
                    training,
                } => {
                    if let (Some(population), Some(training)) = (population, training) {
                        return bench::accuracy::run_recorded(bench::accuracy::RecordedOptions {
                            population,
                            training,
                        });
                    }
                    let (browsers, days) = if quick { (1_000, 30) } else { (browsers, days) };
                    bench::accuracy::run(bench::accuracy::Options {
                        browsers,
                        days,
                        seed,
                        clear_rate,
                        incognito_rate,
                        runs,
                    })
                }
            })
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(CliError::Runtime(m)) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}
