//! Webhook delivery primitives for Prynt (DESIGN §6): how payloads are signed and how endpoint
//! secrets are sealed at rest.
//!
//! This crate holds no state and knows nothing of the store or the outbox: the server owns those
//! and calls in here for each step, so every rule can be tested on its own.

pub mod sealing;
pub mod signing;

pub use sealing::{SealError, SecretBox};
