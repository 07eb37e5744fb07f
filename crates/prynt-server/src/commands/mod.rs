//! Operator commands that manage the store directly: `prynt keys …` and `prynt workspaces …`.
//! They work while a server runs on the same store; the server sees their changes at once.

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
