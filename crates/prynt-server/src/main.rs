//! The `prynt` binary: a thin dispatcher over the server and operator commands.

mod agent;
mod api;
mod api_keys;
mod app;
mod auth_failures;
mod bounds;
mod cache;
mod cli;
mod client_ip;
mod commands;
mod config;
mod connections;
mod dashboard;
mod decide;
mod delivery;
mod demo;
mod error;
mod extract;
mod html;
mod idempotency;
mod identification;
mod identity;
mod limits;
mod metrics;
mod middleware;
mod origin;
mod policy;
mod redis_health;
mod risk;
mod secrets;
mod serve;
mod state;
mod sync;

use std::process::ExitCode;

use clap::Parser;

/// Request handling allocates many small short-lived buffers from several threads at once;
/// with mimalloc's thread-local heaps identify sustains about half as much again as with the
/// system allocator on the same machine (`prynt-bench identify`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command failed: usage errors exit with 2, everything else with 1.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Runtime(String),
}

fn main() -> ExitCode {
    // Everything the binary creates (database, key files, IP data, first keys) is the
    // owner's alone, whatever umask it was started with.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
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
