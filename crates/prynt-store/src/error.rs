//! Errors of the storage layer, kept free of backend types so the server maps them in one
//! place; each backend converts its own errors (see `sqlite::error`).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the message names what clashed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The generated id of a new record is already taken; retry with a fresh one.
    #[error("the id is already taken")]
    DuplicateId,
    /// The store has been closed for shutdown.
    #[error("the store is closed")]
    Closed,
    /// The backend cannot be reached right now (connection refused or lost, the database
    /// restarting or out of connections) but may be again shortly: the request is safe to
    /// retry and the server answers 503. A backend maps only such transient failures here;
    /// anything else is `Backend`.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(format!("stored JSON is unreadable: {e}"))
    }
}
