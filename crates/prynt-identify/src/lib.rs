//! Prynt's identification engine: turns the agent's measurements into a [`Fingerprint`], finds
//! the visitor it belongs to in an in-memory [`index::Index`] and says how sure it is.
//!
//! - [`fingerprint`]: normalised, hashed components; which ones to distrust per browser.
//! - [`model`]: the likelihood model (per-component drift and collision rates) and confidence.
//! - [`index`]: candidate retrieval by locality-sensitive bands, scoring, ambiguity handling.
//! - [`calibration`] and [`reference`]: confidence learnt from the workspace's token visits, and
//!   read through a table learnt on reference populations where the truth is known.
//! - [`token`]: signed visitor tokens that let a returning browser be recognised for certain.
//!
//! Pure library: values in, values out, no I/O.

pub mod calibration;
pub mod fingerprint;
pub mod index;
pub mod model;
pub mod reference;
mod reference_table;
mod sketch;
pub mod token;

pub use fingerprint::{BrowserKind, Fingerprint};
pub use index::{Decision, Index, Method, TOKEN_CONFIDENCE};
pub use model::ModelParams;
