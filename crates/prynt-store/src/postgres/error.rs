//! How PostgreSQL's errors become [`StoreError`]s: broken uniqueness is a conflict, a database
//! that cannot be reached (refused, lost, shutting down, out of connections) is unavailable,
//! anything else a backend error.

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::StoreError;

/// SQLSTATE classes of a server that cannot serve right now but may soon: 08 (connection
/// exception), 53 (insufficient resources, e.g. too many connections), 57P01–57P03 (admin or
/// crash shutdown, cannot connect now).
fn is_transient(code: &SqlState) -> bool {
    let code = code.code();
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03")
        || code == SqlState::T_R_SERIALIZATION_FAILURE.code()
        || code == SqlState::T_R_DEADLOCK_DETECTED.code()
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            if db.code() == &SqlState::UNIQUE_VIOLATION {
                let what = db.constraint().unwrap_or("a unique constraint");
                return StoreError::Conflict(format!("{what}: {}", db.message()));
            }
            if is_transient(db.code()) {
                return StoreError::Unavailable(db.message().to_owned());
            }
            // `e`'s own text is only "db error": the server's message and SQLSTATE are what an
            // operator reading the log needs.
            return StoreError::Backend(format!("{db} (SQLSTATE {})", db.code().code()));
        }
        if is_connection_failure(&e) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Backend(e.to_string())
    }
}

/// Whether the connection itself failed (refused, reset, closed, timed out) rather than a
/// statement. `tokio_postgres` keeps its error kinds private; these are the ones whose text it
/// fixes, and an I/O error anywhere underneath.
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let text = e.to_string();
    if text.starts_with("error connecting to server")
        || text.starts_with("error communicating with the server")
        || text.starts_with("timeout waiting for server")
    {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => StoreError::from(e),
            PoolError::Closed => StoreError::Closed,
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// The constraint a unique violation broke, when `e` is one.
pub(crate) fn violated_constraint(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}
