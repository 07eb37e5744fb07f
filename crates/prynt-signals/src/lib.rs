//! Prynt's signal engines: pure functions from the agent's raw measurements and the client IP
//! to device data, IP intelligence, Smart Signals and scores. No HTTP or SQL in here; data files
//! are read once when loaded.

pub mod behaviour;
mod consistency;
pub mod detect;
pub mod device;
pub mod geo;
pub mod gpu;
pub mod ip;
pub mod ranges;
pub mod scores;
pub mod velocity;

/// Failures of loading signal data.
#[derive(Debug, thiserror::Error)]
pub enum SignalsError {
    #[error("{path}: {message}")]
    Data { path: String, message: String },
}

impl SignalsError {
    pub(crate) fn data(path: &std::path::Path, message: impl std::fmt::Display) -> SignalsError {
        SignalsError::Data {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}
