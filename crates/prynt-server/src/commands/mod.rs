//! Operator commands: `prynt keys …` and `prynt workspaces …` manage the store directly (they
//! work while a server runs on the same store, which sees their changes at once); `prynt data …`
//! installs the IP data packages; `prynt migrate` brings the store's schema up to date.

pub mod data;
pub mod keys;
pub mod migrate;
pub mod workspaces;

use std::path::Path;
use std::sync::Arc;

use prynt_store::postgres::{PostgresOptions, PostgresStore};
use prynt_store::sqlite::SqliteStore;
use prynt_store::Store;

use crate::cli::StoreArgs;
use crate::CliError;

/// Connections an operator command opens to PostgreSQL.
const CLI_POOL_SIZE: usize = 2;

/// The store an operator command names: PostgreSQL with `--database-url`, else SQLite in the
/// data dir; its schema brought up to date.
pub(crate) async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>, CliError> {
    open_store_at(args.database_url.as_deref(), &args.data_dir, CLI_POOL_SIZE).await
}

/// Opens the PostgreSQL store at `database_url` (with at most `pool_size` connections), or
/// without one the SQLite store in `data_dir`.
pub(crate) async fn open_store_at(
    database_url: Option<&str>,
    data_dir: &Path,
    pool_size: usize,
) -> Result<Arc<dyn Store>, CliError> {
    let Some(url) = database_url else {
        let store = SqliteStore::open(data_dir)
            .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))?;
        return Ok(Arc::new(store));
    };
    if !prynt_store::postgres::is_postgres_url(url) {
        return Err(CliError::Usage(
            "--database-url must be a PostgreSQL URL (postgres://…)".into(),
        ));
    }
    let options = PostgresOptions {
        pool_size,
        ..Default::default()
    };
    let store = PostgresStore::open(url, options)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot open the PostgreSQL store: {e}")))?;
    Ok(Arc::new(store))
}

pub(crate) fn runtime<E: std::fmt::Display>(e: E) -> CliError {
    CliError::Runtime(e.to_string())
}
