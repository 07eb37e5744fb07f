//! Webhook delivery primitives for Prynt (docs/webhooks.md): how payloads are signed, how endpoint
//! secrets are sealed at rest, which addresses a webhook may reach, the client that delivers
//! without being steered into the private network, and when a failed delivery is tried again.
//!
//! This crate holds no state and knows nothing of the store or the outbox: the server owns those
//! and calls in here for each step, so every rule can be tested on its own.

pub mod client;
pub mod schedule;
pub mod sealing;
pub mod signing;
pub mod ssrf;

pub use client::{Attempt, ClientError, ClientOptions, DeliveryClient};
pub use schedule::Schedule;
pub use sealing::{SealError, SecretBox};
pub use ssrf::{address_allowed, check_url, UrlError};
