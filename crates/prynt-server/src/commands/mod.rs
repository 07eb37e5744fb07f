//! Operator commands: `prynt keys …` and `prynt workspaces …` manage the store directly (they
//! work while a server runs on the same store, which sees their changes at once); `prynt data …`
//! installs the IP data packages.

pub mod data;
pub mod keys;
pub mod workspaces;

use prynt_store::sqlite::SqliteStore;

use crate::cli::StoreArgs;
use crate::CliError;

pub(crate) fn open_store(args: &StoreArgs) -> Result<SqliteStore, CliError> {
    SqliteStore::open(&args.data_dir)
        .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))
}

pub(crate) fn runtime<E: std::fmt::Display>(e: E) -> CliError {
    CliError::Runtime(e.to_string())
}
