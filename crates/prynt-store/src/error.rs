//! Errors of the storage layer, kept free of backend types so the server maps them in one place.

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
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(code, ref msg)
                if code.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.clone().unwrap_or_else(|| "constraint violated".into()))
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(format!("stored JSON is unreadable: {e}"))
    }
}
