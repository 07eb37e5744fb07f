//! `prynt migrate`: brings the store's schema up to date and says what it did. `prynt serve`
//! migrates at each start too; this is for upgrades done as their own step (before rolling new
//! binaries over several nodes, say).

use prynt_store::postgres::PostgresStore;
use prynt_store::sqlite::SqliteStore;
use prynt_store::StoreLifecycle;

use super::runtime;
use crate::cli::StoreArgs;
use crate::CliError;

pub async fn run(store: StoreArgs) -> Result<(), CliError> {
    let Some(url) = &store.database_url else {
        // Opening the SQLite store applies whatever migrations it lacks, under its write lock.
        let path = store.data_dir.join("prynt.db");
        let sqlite = SqliteStore::open(&store.data_dir)
            .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))?;
        sqlite.close().await.map_err(runtime)?;
        println!("SQLite store {}: schema up to date", path.display());
        return Ok(());
    };
    if !prynt_store::postgres::is_postgres_url(url) {
        return Err(CliError::Usage(
            "--database-url must be a PostgreSQL URL (postgres://…)".into(),
        ));
    }
    let report = PostgresStore::migrate(url)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot migrate the PostgreSQL store: {e}")))?;
    for m in &report.applied {
        println!("applied migration {}: {}", m.version, m.description);
    }
    if report.applied.is_empty() {
        println!(
            "PostgreSQL store: schema up to date (version {})",
            report.to_version
        );
    } else {
        println!(
            "PostgreSQL store: schema version {} -> {}",
            report.from_version, report.to_version
        );
    }
    Ok(())
}
