//! How SQLite's errors become [`StoreError`]s: constraint violations are conflicts, a missing
//! row is `NotFound`, a database still locked after the busy timeout is `Unavailable`.

use crate::StoreError;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(code, ref msg)
                if code.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.clone().unwrap_or_else(|| "constraint violated".into()))
            }
            // Another process held the database past the busy timeout: retrying may succeed.
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}
